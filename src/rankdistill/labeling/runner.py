"""Run a labelling method over a dataset: resumable, in one process, in shards, or on Ray.

Output folder layout::

    out_dir/labels.jsonl          one LabelRecord per query (the label store)
    out_dir/label_stats.json      label_statistics() of the store
    out_dir/labeling_config.json  the LabelingConfig used
    out_dir/llm_cache.sqlite      every LLM call (CachedBackend), when the runner builds it
    out_dir/shards/*.jsonl        per-process label files while a sharded run is going on

Resuming: queries already in ``labels.jsonl`` (or in a leftover shard file) are skipped,
and a rerun's LLM calls for a query that was cut off mid-way come from the cache. The
executors live in :mod:`rankdistill.labeling.executors`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rankdistill.data.records import RankingData
from rankdistill.labeling.backends.base import LLMBackend
from rankdistill.labeling.config import LabelingConfig
from rankdistill.labeling.executors.common import (
    CACHE_FILE,
    CONFIG_FILE,
    LABELS_FILE,
    SHARD_DIR,
    STATS_FILE,
    LabelingJob,
    label_queries,
    query_candidates,
)
from rankdistill.labeling.executors.local import run_local
from rankdistill.labeling.executors.ray_data import (
    RayLabeler,
    label_payload,
    query_payload,
    run_on_ray,
)
from rankdistill.labeling.executors.shards import (
    merge_shards,
    run_sharded,
    shard_files,
    shard_path,
)
from rankdistill.labeling.methods import METHODS, candidate_depth
from rankdistill.labeling.stats import label_statistics
from rankdistill.labeling.store import LabelStore
from rankdistill.scoring import Scorer
from rankdistill.utils import atomic_write_json

__all__ = [
    "CACHE_FILE",
    "CONFIG_FILE",
    "LABELS_FILE",
    "SHARD_DIR",
    "STATS_FILE",
    "LabelingJob",
    "LabelingResult",
    "RayLabeler",
    "candidate_depth",
    "label_payload",
    "label_queries",
    "merge_shards",
    "query_candidates",
    "query_payload",
    "run_labeling",
    "shard_path",
]


@dataclass
class LabelingResult:
    labels_path: Path
    stats_path: Path
    stats: dict[str, Any]


def _check(cfg: LabelingConfig, backend: LLMBackend | None) -> None:
    if cfg.method not in METHODS:
        raise ValueError(f"unknown labelling method {cfg.method!r}; use one of {sorted(METHODS)}")
    if backend is not None and (cfg.num_shards > 1 or cfg.use_ray):
        raise ValueError(
            "sharded and Ray runs build one backend per worker from cfg.backend; "
            "do not pass a backend instance (or set num_shards=1, use_ray=false)"
        )
    if cfg.num_shards < 1:
        raise ValueError(f"num_shards must be >= 1, got {cfg.num_shards}")


def _executor(cfg: LabelingConfig) -> Callable[[LabelingJob], None]:
    if cfg.use_ray:
        return run_on_ray
    return run_sharded if cfg.num_shards > 1 else run_local


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
    _check(cfg, backend)
    atomic_write_json(out_dir / CONFIG_FILE, cfg.model_dump(mode="json"))
    store = LabelStore(out_dir / LABELS_FILE)
    if shard_files(out_dir) and cfg.num_shards == 1 and not cfg.use_ray:
        merge_shards(out_dir, store, list(data.queries))  # leftovers of a killed sharded run
    done = store.done_qids()
    qids = [q for q in data.queries if q in data.candidates and q not in done]
    if qids:
        job = LabelingJob(
            data, qids, cfg, out_dir, store, backend, prerank_scorer, ranker_scorers, progress
        )
        _executor(cfg)(job)
    stats = label_statistics(store.records())
    stats_path = atomic_write_json(out_dir / STATS_FILE, stats)
    return LabelingResult(store.path, stats_path, stats)
