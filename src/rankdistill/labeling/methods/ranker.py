"""Any-ranker teacher: a non-LLM scorer, or a fusion of several, as the teacher.

With the weights available offline, an ensemble of rankers (bi-encoder + BM25, or a
trained student) can be a better teacher than a tiny LLM. It produces the same
:class:`LabelRecord` as the LLM methods, with real-valued ``scores``.

Fusion of several scorers: ``zscore`` (standardise each scorer's scores within the query,
then average) or ``rrf`` (reciprocal rank fusion, ``sum 1 / (rrf_k + rank)``, rank from 1).
One scorer alone keeps its raw scores.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Literal

from rankdistill.data.records import LabelRecord, Query, rank_docs
from rankdistill.labeling.methods.base import Corpus, document_text, label_record
from rankdistill.scoring import Scorer

Fusion = Literal["zscore", "rrf"]


def zscore_fusion(runs: Sequence[Mapping[str, float]], rrf_k: int = 60) -> dict[str, float]:
    """Mean over scorers of (score - mean) / std within the query; std 0 counts as 0."""
    fused: dict[str, float] = {}
    for run in runs:
        values = list(run.values())
        mean = sum(values) / len(values)
        std = math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))
        for docid, value in run.items():
            z = (value - mean) / std if std > 0 else 0.0
            fused[docid] = fused.get(docid, 0.0) + z / len(runs)
    return fused


def rrf_fusion(runs: Sequence[Mapping[str, float]], rrf_k: int = 60) -> dict[str, float]:
    """Reciprocal rank fusion (Cormack et al. 2009)."""
    fused: dict[str, float] = {}
    for run in runs:
        for rank, (docid, _) in enumerate(rank_docs(dict(run)), start=1):
            fused[docid] = fused.get(docid, 0.0) + 1.0 / (rrf_k + rank)
    return fused


FUSIONS: dict[str, Callable[..., dict[str, float]]] = {"zscore": zscore_fusion, "rrf": rrf_fusion}


class RankerTeacher:
    """Scores every candidate with each scorer and fuses the scores."""

    name = "ranker"
    uses_prerank = False

    def __init__(
        self,
        scorers: Mapping[str, Scorer],
        *,
        fusion: Fusion = "zscore",
        rrf_k: int = 60,
        candidates: int = 50,
    ) -> None:
        if not scorers:
            raise ValueError("a ranker teacher needs at least one scorer")
        if fusion not in FUSIONS:
            raise ValueError(f"unknown fusion {fusion!r}; use one of {sorted(FUSIONS)}")
        self.scorers = dict(scorers)
        self.fusion: Fusion = fusion
        self.rrf_k = rrf_k
        self.candidate_depth = candidates

    @property
    def model_id(self) -> str:
        names = "+".join(self.scorers)
        return names if len(self.scorers) == 1 else f"{self.fusion}({names})"

    def label_query(
        self, query: Query, candidates: list[tuple[str, float]], corpus: Corpus
    ) -> LabelRecord:
        docids = [d for d, _ in candidates]
        texts = [document_text(corpus, d) for d in docids]
        per_scorer: dict[str, dict[str, float]] = {}
        for name, scorer in self.scorers.items():
            scores = scorer.score(query.text, texts) if texts else []
            per_scorer[name] = {d: float(s) for d, s in zip(docids, scores, strict=True)}
        # A single scorer goes through the fusion too (z-score: standardised per query), so
        # students' score-matching losses see targets on one scale whatever the scorer:
        # raw cosine similarities spread over ~0.2 and give point/margin-MSE almost no
        # gradient. The raw scores stay in extra["scorer_scores"].
        fused = FUSIONS[self.fusion](list(per_scorer.values()), rrf_k=self.rrf_k)
        return label_record(
            query,
            docids,
            self.name,
            self.model_id,
            scores=fused,
            extra={
                "scorer_scores": per_scorer,
                "fusion": self.fusion,
                "prerank_scores": dict(candidates),
            },
        )
