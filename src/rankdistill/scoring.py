"""The one interface every ranker implements, and re-ranking a run with it.

BM25, bi-encoders, cross-encoder students, RRA-GPT, fine-tuned LLM teachers and ONNX
engines all score (query, document) pairs. Stages receive a :class:`Scorer` from the
caller instead of constructing one, so an earlier stage (labelling's pre-ranker) can use
a later stage's model (a trained student) without importing it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from tqdm.auto import tqdm

from rankdistill.data.records import RankingData, Run


@runtime_checkable
class Scorer(Protocol):
    """Scores documents for one query; higher means more relevant."""

    name: str

    def score(self, query: str, documents: Sequence[str]) -> list[float]: ...


def rerank_run(
    scorer: Scorer,
    data: RankingData,
    k: int | None = None,
    progress: bool = True,
) -> Run:
    """Score the top-``k`` first-stage candidates of every query with ``scorer``."""
    run: Run = {}
    qids = [q for q in data.queries if q in data.candidates]
    for qid in tqdm(qids, desc=f"rerank[{scorer.name}]", disable=not progress, unit="q"):
        docids = data.candidate_list(qid, k).docids
        texts = [data.corpus[d].full_text for d in docids]
        scores = scorer.score(data.queries[qid].text, texts) if texts else []
        run[qid] = {d: float(s) for d, s in zip(docids, scores, strict=True)}
    return run
