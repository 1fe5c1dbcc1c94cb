"""Agreement between two rankings of the same queries (teacher vs student, LLM vs pre-ranker).

Both functions return ``{"mean": float, "per_query": {qid: value}, "num_queries": int}``
over the queries both runs contain; ``mean`` is ``nan`` when no query qualifies.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from rankdistill.data.records import Run
from rankdistill.evaluation.metrics import trec_order


def kendall_tau(run_a: Run, run_b: Run) -> dict[str, Any]:
    """Kendall's tau-b (:func:`scipy.stats.kendalltau`) of the scores per query.

    Computed over the documents both runs scored for the query. Queries with fewer than
    two common documents, or where one run gives them all the same score (tau undefined),
    are left out.
    """
    from scipy import stats

    per_query: dict[str, float] = {}
    for qid in sorted(set(run_a) & set(run_b)):
        common = [d for d in run_a[qid] if d in run_b[qid]]
        if len(common) < 2:
            continue
        tau = stats.kendalltau(
            [run_a[qid][d] for d in common], [run_b[qid][d] for d in common]
        ).statistic
        if not math.isnan(tau):
            per_query[qid] = float(tau)
    return _summary(per_query)


def topk_overlap(run_a: Run, run_b: Run, k: int = 10) -> dict[str, Any]:
    """|top-k(a) ∩ top-k(b)| / k per query (trec_eval order for ties).

    When a query has fewer than ``k`` documents in both runs the denominator is the larger
    of the two top lists, so identical short rankings still overlap fully (1.0).
    """
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    per_query: dict[str, float] = {}
    for qid in sorted(set(run_a) & set(run_b)):
        top_a = set(trec_order(run_a[qid])[:k])
        top_b = set(trec_order(run_b[qid])[:k])
        size = max(len(top_a), len(top_b))
        if size:
            per_query[qid] = len(top_a & top_b) / size
    return _summary(per_query)


def _summary(per_query: dict[str, float]) -> dict[str, Any]:
    mean = float(np.mean(list(per_query.values()))) if per_query else math.nan
    return {"mean": mean, "per_query": per_query, "num_queries": len(per_query)}
