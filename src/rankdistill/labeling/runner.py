"""Run a labelling method over a dataset: resumable, in one process, in shards, or on Ray.

Output folder layout::

    out_dir/labels.jsonl          one LabelRecord per query (the label store)
    out_dir/label_stats.json      label_statistics() of the store
    out_dir/labeling_config.json  the LabelingConfig used
    out_dir/llm_cache.sqlite      every LLM call (CachedBackend), when the runner builds it
    out_dir/shards/*.jsonl        per-process label files while a sharded run is going on

Resuming: queries already in ``labels.jsonl`` (or in a leftover shard file) are skipped,
and a rerun's LLM calls for a query that was cut off mid-way come from the cache.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from rankdistill.data.records import Document, LabelRecord, Query, RankingData
from rankdistill.labeling.backends.base import LLMBackend
from rankdistill.labeling.config import LabelingConfig
from rankdistill.labeling.methods import LLM_FREE_METHODS, METHODS, LabelMethod, build_method
from rankdistill.labeling.prerank import prerank_query
from rankdistill.labeling.stats import label_statistics
from rankdistill.labeling.store import LabelStore, iter_labels
from rankdistill.scoring import Scorer
from rankdistill.utils import atomic_write_json

LABELS_FILE = "labels.jsonl"
STATS_FILE = "label_stats.json"
CONFIG_FILE = "labeling_config.json"
CACHE_FILE = "llm_cache.sqlite"
SHARD_DIR = "shards"


@dataclass
class LabelingResult:
    labels_path: Path
    stats_path: Path
    stats: dict[str, Any]


def candidate_depth(cfg: LabelingConfig) -> int:
    """How many first-stage candidates per query the configured method looks at."""
    return cfg.sliding_candidates if cfg.method == "slidingwindow" else cfg.prerank.candidates


def query_candidates(
    data: RankingData,
    qid: str,
    method: LabelMethod,
    prerank_scorer: Scorer | None,
) -> list[tuple[str, float]]:
    """The candidates a method receives: first-stage top-N, pre-ranked when it pre-ranks."""
    candidates = [(d.docid, d.score) for d in data.candidate_list(qid, method.candidate_depth).docs]
    if method.uses_prerank:
        candidates = prerank_query(data.queries[qid].text, candidates, data.corpus, prerank_scorer)
    return candidates


def label_queries(
    data: RankingData,
    qids: list[str],
    method: LabelMethod,
    store: LabelStore,
    prerank_scorer: Scorer | None = None,
    progress: bool = True,
    desc: str | None = None,
    position: int | None = None,
) -> int:
    """Label ``qids`` one by one, appending each record as soon as it exists."""
    done = store.done_qids()
    todo = [q for q in qids if q not in done]
    bar = tqdm(
        todo,
        desc=desc or f"label[{method.name}]",
        disable=not progress,
        unit="q",
        position=position,
    )
    for qid in bar:
        candidates = query_candidates(data, qid, method, prerank_scorer)
        store.append(method.label_query(data.queries[qid], candidates, data.corpus))
    return len(todo)


# --------------------------------------------------------------------------- backends
class _Backends:
    """The LLM backend(s) a run uses, built lazily and closed only if built here."""

    def __init__(self, cfg: LabelingConfig, out_dir: Path, given: LLMBackend | None) -> None:
        self.cfg = cfg
        self.out_dir = out_dir
        self.given = given
        self.built: list[LLMBackend] = []

    def _build(self, backend_cfg: Any) -> LLMBackend:
        from rankdistill.labeling.backends import build_backend

        cache = self.out_dir / CACHE_FILE if self.cfg.cache else None
        backend = build_backend(backend_cfg, cache_path=cache)
        self.built.append(backend)
        return backend

    def method(self, ranker_scorers: Mapping[str, Scorer] | None) -> LabelMethod:
        backend = None
        if self.cfg.method not in LLM_FREE_METHODS:
            backend = self.given if self.given is not None else self._build(self.cfg.backend)
        rationale_backend = None
        if self.cfg.rationales:
            if self.cfg.rationale_backend is not None:
                rationale_backend = self._build(self.cfg.rationale_backend)
            elif backend is not None:
                rationale_backend = backend
            elif self.given is not None:
                rationale_backend = self.given
            else:
                rationale_backend = self._build(self.cfg.backend)
        return build_method(
            self.cfg, backend, ranker_scorers=ranker_scorers, rationale_backend=rationale_backend
        )

    def close(self) -> None:
        for backend in self.built:
            close = getattr(backend, "close", None)
            if close is not None:
                close()
        self.built.clear()


# --------------------------------------------------------------------------- in-process
def _run_local(
    data: RankingData,
    qids: list[str],
    cfg: LabelingConfig,
    out_dir: Path,
    store: LabelStore,
    backend: LLMBackend | None,
    prerank_scorer: Scorer | None,
    ranker_scorers: Mapping[str, Scorer] | None,
    progress: bool,
) -> None:
    backends = _Backends(cfg, out_dir, backend)
    try:
        method = backends.method(ranker_scorers)
        label_queries(data, qids, method, store, prerank_scorer, progress)
    finally:
        backends.close()


# --------------------------------------------------------------------------- shards
def shard_path(out_dir: Path, index: int) -> Path:
    return out_dir / SHARD_DIR / f"labels.shard-{index:03d}.jsonl"


def _shard_files(out_dir: Path) -> list[Path]:
    folder = out_dir / SHARD_DIR
    return sorted(folder.glob("labels.shard-*.jsonl")) if folder.is_dir() else []


def _data_for(data: RankingData, qids: list[str], depth: int) -> RankingData:
    """A picklable subset: the queries, their top-``depth`` candidates and those documents."""
    candidates = {q: {d.docid: d.score for d in data.candidate_list(q, depth).docs} for q in qids}
    docids = {d for run in candidates.values() for d in run}
    return RankingData(
        queries={q: data.queries[q] for q in qids},
        corpus={d: data.corpus[d] for d in docids},
        candidates=candidates,
    )


@dataclass
class _ShardJob:
    index: int
    data: RankingData
    qids: list[str]
    cfg: dict[str, Any]
    out_dir: str
    prerank_scorer: Scorer | None
    ranker_scorers: dict[str, Scorer] | None
    progress: bool


def _label_shard(job: _ShardJob) -> int:
    """Entry point of a shard process: label its queries into its own shard file."""
    cfg = LabelingConfig.model_validate(job.cfg)
    out_dir = Path(job.out_dir)
    store = LabelStore(shard_path(out_dir, job.index))
    backends = _Backends(cfg, out_dir, None)
    try:
        method = backends.method(job.ranker_scorers)
        return label_queries(
            job.data,
            job.qids,
            method,
            store,
            job.prerank_scorer,
            job.progress,
            desc=f"label[{cfg.method}] shard {job.index}",
            position=job.index,
        )
    finally:
        backends.close()


def merge_shards(out_dir: Path, store: LabelStore, qid_order: list[str]) -> int:
    """Append shard records missing from the main store, in ``qid_order``; remove shards.

    Deterministic: the merged file lists queries in data order whatever the shards'
    finishing order. Safe to repeat after a kill (already merged qids are skipped).
    """
    found: dict[str, LabelRecord] = {}
    files = _shard_files(out_dir)
    for path in files:
        LabelStore(path)  # repairs a truncated tail
        for _, record in iter_labels(path):
            found.setdefault(record.qid, record)
    done = store.done_qids()
    rank = {q: i for i, q in enumerate(qid_order)}
    new = sorted((q for q in found if q not in done), key=lambda q: (rank.get(q, len(rank)), q))
    for qid in new:
        store.append(found[qid])
    for path in files:
        path.unlink()
    return len(new)


def _run_shards(
    data: RankingData,
    qids: list[str],
    cfg: LabelingConfig,
    out_dir: Path,
    store: LabelStore,
    prerank_scorer: Scorer | None,
    ranker_scorers: Mapping[str, Scorer] | None,
    progress: bool,
) -> None:
    import multiprocessing

    in_shards = {r_qid for path in _shard_files(out_dir) for r_qid in LabelStore(path).done_qids()}
    todo = [q for q in qids if q not in in_shards]
    depth = candidate_depth(cfg)
    jobs = [
        _ShardJob(
            index=i,
            data=_data_for(data, todo[i :: cfg.num_shards], depth),
            qids=todo[i :: cfg.num_shards],
            cfg=cfg.model_dump(mode="json"),
            out_dir=str(out_dir),
            prerank_scorer=prerank_scorer,
            ranker_scorers=dict(ranker_scorers) if ranker_scorers else None,
            progress=progress,
        )
        for i in range(cfg.num_shards)
    ]
    jobs = [job for job in jobs if job.qids]
    if jobs:
        # "spawn": a fresh interpreter per shard; forking a process that holds torch or
        # llama.cpp threads can deadlock.
        with multiprocessing.get_context("spawn").Pool(len(jobs)) as pool:
            pool.map(_label_shard, jobs)
    merge_shards(out_dir, store, list(data.queries))


# --------------------------------------------------------------------------- Ray
def query_payload(data: RankingData, qid: str, depth: int) -> str:
    """One query, its candidates and their texts as JSON: a self-contained Ray row."""
    docs = data.candidate_list(qid, depth).docs
    query = data.queries[qid]
    return json.dumps(
        {
            "query": {"qid": qid, "text": query.text},
            "candidates": [[d.docid, d.score] for d in docs],
            "docs": {
                d.docid: {"text": data.corpus[d.docid].text, "title": data.corpus[d.docid].title}
                for d in docs
            },
        },
        ensure_ascii=False,
    )


def label_payload(method: LabelMethod, payload: str, prerank_scorer: Scorer | None) -> str:
    """Label one :func:`query_payload`; returns the record as JSON."""
    item = json.loads(payload)
    query = Query(item["query"]["qid"], item["query"]["text"])
    corpus = {d: Document(d, v["text"], v.get("title")) for d, v in item["docs"].items()}
    data = RankingData(
        {query.qid: query}, corpus, {query.qid: {d: float(s) for d, s in item["candidates"]}}
    )
    candidates = query_candidates(data, query.qid, method, prerank_scorer)
    return json.dumps(method.label_query(query, candidates, corpus).to_dict(), ensure_ascii=False)


class RayLabeler:
    """A Ray Data actor: builds its backend and method once, then labels rows."""

    def __init__(
        self,
        cfg: dict[str, Any],
        out_dir: str,
        prerank_scorer: Scorer | None = None,
        ranker_scorers: dict[str, Scorer] | None = None,
    ) -> None:
        self.cfg = LabelingConfig.model_validate(cfg)
        self.backends = _Backends(self.cfg, Path(out_dir), None)
        self.method = self.backends.method(ranker_scorers)
        self.prerank_scorer = prerank_scorer

    def __call__(self, batch: dict[str, Any]) -> dict[str, list[str]]:
        qids = [str(q) for q in batch["qid"]]
        records = [
            label_payload(self.method, str(p), self.prerank_scorer) for p in batch["payload"]
        ]
        return {"qid": qids, "record": records}


def _run_ray(
    data: RankingData,
    qids: list[str],
    cfg: LabelingConfig,
    out_dir: Path,
    store: LabelStore,
    prerank_scorer: Scorer | None,
    ranker_scorers: Mapping[str, Scorer] | None,
    progress: bool,
) -> None:
    try:
        import ray
    except ImportError as exc:
        raise ImportError('labeling.use_ray needs Ray: pip install "rankdistill[ray]"') from exc
    if not qids:
        return
    if not ray.is_initialized():
        # None starts a local instance; an address ("auto", "ray://host:10001") joins a cluster.
        ray.init(address=cfg.ray_address, include_dashboard=False, log_to_driver=False)
    depth = candidate_depth(cfg)
    rows = [{"qid": q, "payload": query_payload(data, q, depth)} for q in qids]
    dataset = ray.data.from_items(rows, override_num_blocks=min(len(rows), 2000))
    labelled = dataset.map_batches(
        RayLabeler,
        fn_constructor_kwargs={
            "cfg": cfg.model_dump(mode="json"),
            "out_dir": str(out_dir),
            "prerank_scorer": prerank_scorer,
            "ranker_scorers": dict(ranker_scorers) if ranker_scorers else None,
        },
        batch_size=1,
        concurrency=max(1, cfg.num_shards),
    )
    bar = tqdm(total=len(rows), desc=f"label[{cfg.method}] ray", disable=not progress, unit="q")
    # Records stream back to the driver, which alone writes the store: one writer, and a
    # killed job keeps every record that reached it.
    for row in labelled.iter_rows():
        record = LabelRecord.from_dict(json.loads(row["record"]))
        if record.qid not in store.done_qids():
            store.append(record)
        bar.update(1)
    bar.close()


# --------------------------------------------------------------------------- entry point
def run_labeling(
    data: RankingData,
    cfg: LabelingConfig,
    out_dir: str | Path,
    *,
    backend: LLMBackend | None = None,
    prerank_scorer: Scorer | None = None,
    ranker_scorers: dict[str, Scorer] | None = None,
    progress: bool = True,
) -> LabelingResult:
    """Label every query of ``data`` that has candidates and is not yet in the store.

    ``backend``: an LLM backend to use as is (in-process runs only); ``None`` builds one
    from ``cfg.backend``, wrapped in a CachedBackend at ``out_dir/llm_cache.sqlite`` when
    ``cfg.cache``. ``prerank_scorer``: re-scores the candidates before selection
    (``None``: the candidates' own scores are the pre-ranking). ``ranker_scorers``: the
    scorers of the ``ranker`` method, fused with ``cfg.ranker_fusion``.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if cfg.method not in METHODS:
        raise ValueError(f"unknown labelling method {cfg.method!r}; use one of {sorted(METHODS)}")
    if backend is not None and (cfg.num_shards > 1 or cfg.use_ray):
        raise ValueError(
            "sharded and Ray runs build one backend per worker from cfg.backend; "
            "do not pass a backend instance (or set num_shards=1, use_ray=false)"
        )
    if cfg.num_shards < 1:
        raise ValueError(f"num_shards must be >= 1, got {cfg.num_shards}")
    atomic_write_json(out_dir / CONFIG_FILE, cfg.model_dump(mode="json"))
    store = LabelStore(out_dir / LABELS_FILE)
    if _shard_files(out_dir) and cfg.num_shards == 1 and not cfg.use_ray:
        merge_shards(out_dir, store, list(data.queries))  # leftovers of a killed sharded run
    done = store.done_qids()
    qids = [q for q in data.queries if q in data.candidates and q not in done]
    if qids:
        if cfg.use_ray:
            _run_ray(data, qids, cfg, out_dir, store, prerank_scorer, ranker_scorers, progress)
        elif cfg.num_shards > 1:
            _run_shards(data, qids, cfg, out_dir, store, prerank_scorer, ranker_scorers, progress)
        else:
            _run_local(
                data, qids, cfg, out_dir, store, backend, prerank_scorer, ranker_scorers, progress
            )
    stats = label_statistics(store.records())
    stats_path = atomic_write_json(out_dir / STATS_FILE, stats)
    return LabelingResult(store.path, stats_path, stats)
