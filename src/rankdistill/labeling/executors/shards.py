"""The sharded executor: spawned processes, each labelling a slice of the queries into its
own shard file; the shards are merged into the store in data order afterwards."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rankdistill.data.records import LabelRecord, RankingData
from rankdistill.labeling.config import LabelingConfig
from rankdistill.labeling.executors.common import (
    SHARD_DIR,
    LabelingJob,
    MethodBackends,
    label_queries,
)
from rankdistill.labeling.methods import candidate_depth
from rankdistill.labeling.store import LabelStore, iter_labels
from rankdistill.scoring import Scorer


def shard_path(out_dir: Path, index: int) -> Path:
    return out_dir / SHARD_DIR / f"labels.shard-{index:03d}.jsonl"


def shard_files(out_dir: Path) -> list[Path]:
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
    with MethodBackends(cfg, out_dir, None) as backends:
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


def merge_shards(out_dir: Path, store: LabelStore, qid_order: list[str]) -> int:
    """Append shard records missing from the main store, in ``qid_order``; remove shards.

    Deterministic: the merged file lists queries in data order whatever the shards'
    finishing order. Safe to repeat after a kill (already merged qids are skipped).
    """
    found: dict[str, LabelRecord] = {}
    files = shard_files(out_dir)
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


def run_sharded(job: LabelingJob) -> None:
    """Label the job's queries in ``cfg.num_shards`` spawned processes, then merge."""
    import multiprocessing

    cfg, out_dir = job.cfg, job.out_dir
    in_shards = {r_qid for path in shard_files(out_dir) for r_qid in LabelStore(path).done_qids()}
    todo = [q for q in job.qids if q not in in_shards]
    depth = candidate_depth(cfg)
    jobs = [
        _ShardJob(
            index=i,
            data=_data_for(job.data, todo[i :: cfg.num_shards], depth),
            qids=todo[i :: cfg.num_shards],
            cfg=cfg.model_dump(mode="json"),
            out_dir=str(out_dir),
            prerank_scorer=job.prerank_scorer,
            ranker_scorers=job.worker_scorers(),
            progress=job.progress,
        )
        for i in range(cfg.num_shards)
    ]
    jobs = [shard for shard in jobs if shard.qids]
    if jobs:
        # "spawn": a fresh interpreter per shard; forking a process that holds torch or
        # llama.cpp threads can deadlock.
        with multiprocessing.get_context("spawn").Pool(len(jobs)) as pool:
            pool.map(_label_shard, jobs)
    merge_shards(out_dir, job.store, list(job.data.queries))
