"""What every executor shares: the job it runs, the folder layout, the LLM backends it
builds, and labelling queries one by one into a store."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from rankdistill.data.records import RankingData
from rankdistill.labeling.backends.base import LLMBackend
from rankdistill.labeling.config import LabelingConfig
from rankdistill.labeling.methods import LLM_FREE_METHODS, LabelMethod, build_method
from rankdistill.labeling.prerank import prerank_query
from rankdistill.labeling.store import LabelStore
from rankdistill.scoring import Scorer

LABELS_FILE = "labels.jsonl"
STATS_FILE = "label_stats.json"
CONFIG_FILE = "labeling_config.json"
CACHE_FILE = "llm_cache.sqlite"
SHARD_DIR = "shards"


@dataclass(frozen=True)
class LabelingJob:
    """One executor's work: label ``qids`` of ``data`` per ``cfg`` into ``store``.

    ``backend`` is an LLM backend to use as is (in-process runs only; workers of the other
    executors build their own from ``cfg.backend``). ``prerank_scorer`` re-scores the
    candidates before selection; ``ranker_scorers`` are the ``ranker`` method's scorers.
    """

    data: RankingData
    qids: list[str]
    cfg: LabelingConfig
    out_dir: Path
    store: LabelStore
    backend: LLMBackend | None = None
    prerank_scorer: Scorer | None = None
    ranker_scorers: Mapping[str, Scorer] | None = None
    progress: bool = True

    def worker_scorers(self) -> dict[str, Scorer] | None:
        """``ranker_scorers`` as a plain (picklable) dict for worker processes."""
        return dict(self.ranker_scorers) if self.ranker_scorers else None


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


class MethodBackends:
    """The LLM backend(s) a run uses, built lazily and closed only if built here (on
    :meth:`close`, or leaving a ``with`` block)."""

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
        """The configured method, on the given backend or ones built from the config."""
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

    def __enter__(self) -> MethodBackends:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        for backend in self.built:
            close = getattr(backend, "close", None)
            if close is not None:
                close()
        self.built.clear()
