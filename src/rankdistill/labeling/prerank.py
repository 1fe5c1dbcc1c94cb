"""Pre-ranking (SPEC section 2, step 2): score the K candidates, keep top-k + bottom-k.

RRADistill shows the LLM the pre-ranker's best and worst documents in one call: the
top-k are likely positives whose order the LLM refines, the bottom-k likely negatives
that the LLM can confirm. Any :class:`~rankdistill.scoring.Scorer` can pre-rank (a
bi-encoder, BM25, a trained student); ``None`` keeps the first-stage scores.
"""

from __future__ import annotations

from tqdm.auto import tqdm

from rankdistill.data.records import Document, RankingData, Run, rank_docs
from rankdistill.labeling.config import PrerankConfig
from rankdistill.scoring import Scorer


def select_top_bottom(
    docids_scores: list[tuple[str, float]], top_k: int, bottom_k: int
) -> list[str]:
    """The ``top_k`` best and ``bottom_k`` worst documents, best first.

    Ties keep the input order. With ``top_k + bottom_k`` or fewer candidates all of them
    are kept (no document is shown twice).
    """
    if top_k < 0 or bottom_k < 0:
        raise ValueError(f"top_k and bottom_k must be >= 0, got {top_k} and {bottom_k}")
    ranked = [d for d, _ in rank_docs(dict(docids_scores))]
    if len(ranked) != len(docids_scores):
        raise ValueError("docids_scores lists a document more than once")
    if len(ranked) <= top_k + bottom_k:
        return ranked
    return ranked[:top_k] + (ranked[len(ranked) - bottom_k :] if bottom_k else [])


def prerank_query(
    query: str,
    candidates: list[tuple[str, float]],
    corpus: dict[str, Document],
    scorer: Scorer | None,
) -> list[tuple[str, float]]:
    """One query's candidates re-scored by ``scorer`` (``None``: unchanged), best first."""
    if scorer is None or not candidates:
        return rank_docs(dict(candidates))
    docids = [d for d, _ in candidates]
    scores = scorer.score(query, [corpus[d].full_text for d in docids])
    return rank_docs({d: float(s) for d, s in zip(docids, scores, strict=True)})


def prerank(
    data: RankingData, scorer: Scorer | None, cfg: PrerankConfig, progress: bool = True
) -> Run:
    """Pre-ranker scores of the top ``cfg.candidates`` first-stage candidates per query."""
    run: Run = {}
    qids = [q for q in data.queries if q in data.candidates]
    name = scorer.name if scorer is not None else "first-stage"
    for qid in tqdm(qids, desc=f"prerank[{name}]", disable=not progress, unit="q"):
        candidates = [(d.docid, d.score) for d in data.candidate_list(qid, cfg.candidates).docs]
        run[qid] = dict(prerank_query(data.queries[qid].text, candidates, data.corpus, scorer))
    return run
