"""Write the queries of many passages: in one process, in shard processes, or on Ray Data.

The loop, the store, the shard files and their merge and the Ray rows are the labelling
runner's (:func:`~rankdistill.labeling.runner.label_queries`,
:class:`~rankdistill.labeling.store.LabelStore`,
:func:`~rankdistill.labeling.runner.merge_shards`,
:func:`~rankdistill.labeling.runner.query_payload` /
:func:`~rankdistill.labeling.runner.label_payload`): a passage is a "query" whose one
candidate is itself, and its record is appended as soon as it is written. What differs
is only how a worker builds its writer (from a
:class:`~rankdistill.generation.config.GenerationConfig`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rankdistill.data.records import Document, Query, RankingData
from rankdistill.generation.config import GenerationConfig
from rankdistill.generation.llm import FewShotExample
from rankdistill.generation.methods import GENERATION_METHODS, PassageQueryWriter, build_writer
from rankdistill.labeling.backends.base import LLMBackend
from rankdistill.labeling.executors.ray_data import ray_dataset, store_streamed_records
from rankdistill.labeling.runner import (
    CACHE_FILE,
    label_payload,
    label_queries,
    merge_shards,
    query_payload,
    shard_path,
)
from rankdistill.labeling.store import LabelStore

PASSAGES_FILE = "passages.jsonl"


def passage_data(corpus: Mapping[str, Document], docids: Sequence[str]) -> RankingData:
    """The passages as the labelling runner's data: each its own query and candidate."""
    return RankingData(
        queries={d: Query(d, "") for d in docids},
        corpus={d: corpus[d] for d in docids},
        candidates={d: {d: 1.0} for d in docids},
    )


class Writers:
    """A writer and the backend it needs, built once per process; closes what it built."""

    def __init__(
        self,
        cfg: GenerationConfig,
        out_dir: Path,
        given: LLMBackend | None = None,
        examples: Sequence[FewShotExample] | None = None,
    ) -> None:
        self.built: LLMBackend | None = None
        backend = given
        if backend is None and GENERATION_METHODS.require(cfg.method).needs_llm:
            from rankdistill.labeling.backends import build_backend

            cache = out_dir / CACHE_FILE if cfg.cache else None
            backend = self.built = build_backend(cfg.backend, cache_path=cache)
        self.writer: PassageQueryWriter = build_writer(cfg, backend, examples)

    def close(self) -> None:
        if self.built is not None:
            self.built.close()
            self.built = None


def _examples_json(examples: Sequence[FewShotExample] | None) -> list[dict[str, str]] | None:
    return None if examples is None else [asdict(e) for e in examples]


def _examples_from_json(items: list[dict[str, str]] | None) -> list[FewShotExample] | None:
    return None if items is None else [FewShotExample(**e) for e in items]


def write_records(
    data: RankingData,
    docids: list[str],
    writer: PassageQueryWriter,
    store: LabelStore,
    per_call: int,
    progress: bool,
    desc: str,
    position: int | None = None,
) -> int:
    """Write the passages not yet in ``store``, ``per_call`` passages per backend call."""
    if per_call == 1:  # exactly the labelling loop
        return label_queries(data, docids, writer, store, None, progress, desc, position)
    from tqdm.auto import tqdm

    done = store.done_qids()
    todo = [d for d in docids if d not in done]
    bar = tqdm(total=len(todo), desc=desc, disable=not progress, unit="p", position=position)
    with bar:
        for start in range(0, len(todo), per_call):
            docs = [data.corpus[d] for d in todo[start : start + per_call]]
            for record in writer.records(docs):
                store.append(record)
            bar.update(len(docs))
    return len(todo)


def _desc(cfg: GenerationConfig, suffix: str = "") -> str:
    return f"generate[{cfg.method}]{suffix}"


@dataclass
class PendingPassages:
    """The passages a scaled-out run still has to write (``docids``), and where to."""

    data: RankingData
    docids: list[str]
    cfg: GenerationConfig
    out_dir: Path
    store: LabelStore
    examples: Sequence[FewShotExample] | None
    progress: bool


# --------------------------------------------------------------------------- shards
@dataclass
class _ShardJob:
    index: int
    data: RankingData
    docids: list[str]
    cfg: dict[str, Any]
    out_dir: str
    examples: list[dict[str, str]] | None
    progress: bool


def _generate_shard(job: _ShardJob) -> int:
    """Entry point of a shard process: its passages into its own shard file."""
    cfg = GenerationConfig.model_validate(job.cfg)
    out_dir = Path(job.out_dir)
    writers = Writers(cfg, out_dir, None, _examples_from_json(job.examples))
    try:
        store = LabelStore(shard_path(out_dir, job.index))
        return write_records(
            job.data,
            job.docids,
            writers.writer,
            store,
            cfg.passages_per_call,
            job.progress,
            _desc(cfg, f" shard {job.index}"),
            job.index,
        )
    finally:
        writers.close()


def run_shards(todo: PendingPassages) -> None:
    """``todo.cfg.num_shards`` spawned processes, each with its own backend and shard file."""
    import multiprocessing

    n = todo.cfg.num_shards
    jobs = [
        _ShardJob(
            index=i,
            data=passage_data(todo.data.corpus, todo.docids[i::n]),
            docids=todo.docids[i::n],
            cfg=todo.cfg.model_dump(mode="json"),
            out_dir=str(todo.out_dir),
            examples=_examples_json(todo.examples),
            progress=todo.progress,
        )
        for i in range(n)
    ]
    jobs = [job for job in jobs if job.docids]
    if jobs:
        # "spawn": forking a process that holds torch or llama.cpp threads can deadlock.
        with multiprocessing.get_context("spawn").Pool(len(jobs)) as pool:
            pool.map(_generate_shard, jobs)
    merge_shards(todo.out_dir, todo.store, list(todo.data.queries))


# --------------------------------------------------------------------------- Ray
class RayQueryWriter:
    """A Ray Data actor: builds its backend and writer once, then writes rows' passages."""

    def __init__(
        self, cfg: dict[str, Any], out_dir: str, examples: list[dict[str, str]] | None
    ) -> None:
        config = GenerationConfig.model_validate(cfg)
        self.writers = Writers(config, Path(out_dir), None, _examples_from_json(examples))

    def __call__(self, batch: dict[str, Any]) -> dict[str, list[str]]:
        payloads = [str(p) for p in batch["payload"]]
        if len(payloads) == 1:
            records = [label_payload(self.writers.writer, payloads[0], None)]
        else:  # the batch's passages in one backend call
            written = self.writers.writer.records([_payload_passage(p) for p in payloads])
            records = [json.dumps(r.to_dict(), ensure_ascii=False) for r in written]
        return {"qid": [str(q) for q in batch["qid"]], "record": records}


def _payload_passage(payload: str) -> Document:
    """The passage of a :func:`query_payload` row (the row's query is the passage)."""
    item = json.loads(payload)
    docid = item["query"]["qid"]
    doc = item["docs"][docid]
    return Document(docid, doc["text"], doc.get("title"))


def run_ray(todo: PendingPassages) -> None:
    """Passages as Ray Data rows, ``todo.cfg.num_shards`` actors; the driver alone writes."""
    from tqdm.auto import tqdm

    rows = [{"qid": d, "payload": query_payload(todo.data, d, 1)} for d in todo.docids]
    dataset = ray_dataset(rows, todo.cfg.ray_address, "generation")
    if dataset is None:
        return
    written = dataset.map_batches(
        RayQueryWriter,
        fn_constructor_kwargs={
            "cfg": todo.cfg.model_dump(mode="json"),
            "out_dir": str(todo.out_dir),
            "examples": _examples_json(todo.examples),
        },
        batch_size=todo.cfg.passages_per_call,
        concurrency=max(1, todo.cfg.num_shards),
    )
    bar = tqdm(total=len(rows), desc=_desc(todo.cfg, " ray"), disable=not todo.progress, unit="p")
    store_streamed_records(written.iter_rows(), todo.store, bar)


def write_passages(
    data: RankingData,
    docids: list[str],
    cfg: GenerationConfig,
    out_dir: Path,
    store: LabelStore,
    backend: LLMBackend | None,
    examples: Sequence[FewShotExample] | None,
    progress: bool,
) -> None:
    """Write the queries of ``docids`` not yet in ``store``, as ``cfg`` scales it out."""
    if backend is not None and (cfg.num_shards > 1 or cfg.use_ray):
        raise ValueError(
            "sharded and Ray runs build one backend per worker from generation.backend; "
            "do not pass a backend instance (or set num_shards=1, use_ray=false)"
        )
    # Leftovers of a killed sharded run first, so no passage is written twice.
    merge_shards(out_dir, store, docids)
    done = store.done_qids()
    todo = [d for d in docids if d not in done]
    if not todo:
        return
    if cfg.use_ray:
        run_ray(PendingPassages(data, todo, cfg, out_dir, store, examples, progress))
    elif cfg.num_shards > 1:
        run_shards(PendingPassages(data, todo, cfg, out_dir, store, examples, progress))
    else:  # in-process, with the caller's backend if it gave one
        writers = Writers(cfg, out_dir, backend, examples)
        try:
            per_call = cfg.passages_per_call
            write_records(data, todo, writers.writer, store, per_call, progress, _desc(cfg))
        finally:
            writers.close()
