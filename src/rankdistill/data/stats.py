"""Descriptive statistics of a :class:`RankingData` (``rankdistill data stats``)."""

from __future__ import annotations

from collections import Counter
from statistics import mean, median
from typing import Any

from rankdistill.data.config import SelectionConfig
from rankdistill.data.records import RankingData
from rankdistill.data.selection import assign_segments, length_bucket, segmentation_mode


def _summary(values: list[int]) -> dict[str, float]:
    if not values:
        return {"min": 0, "mean": 0.0, "median": 0.0, "max": 0}
    return {
        "min": min(values),
        "mean": round(mean(values), 3),
        "median": float(median(values)),
        "max": max(values),
    }


def dataset_stats(
    data: RankingData,
    selection: SelectionConfig | None = None,
    length_edges: list[int] | None = None,
) -> dict[str, Any]:
    """Counts a user checks before a run: sizes, candidates, judgments, segments.

    ``grade_histogram`` keys are grades as strings (JSON-friendly).
    """
    selection = selection or SelectionConfig()
    edges = length_edges if length_edges is not None else [3, 5, 8]
    queries = data.queries
    lengths = [len(q.text.split()) for q in queries.values()]
    stats: dict[str, Any] = {
        "queries": len(queries),
        "documents": len(data.corpus),
        "query_words": _summary(lengths),
        "queries_with_frequency": sum(q.frequency is not None for q in queries.values()),
        "queries_with_candidates": sum(1 for q in queries if data.candidates.get(q)),
        "candidates_per_query": _summary([len(data.candidates.get(q, {})) for q in queries]),
        "length_buckets": dict(
            sorted(Counter(length_bucket(q.text, edges) for q in queries.values()).items())
        ),
    }
    if queries:
        segments = assign_segments(queries, selection)
        stats["segmented_by"] = segmentation_mode(queries, selection)
        stats["segments"] = {
            s: sum(v == s for v in segments.values()) for s in ("head", "torso", "tail")
        }
    if data.qrels is not None:
        judged = {q: data.qrels.get(q, {}) for q in queries}
        grades = Counter(g for per_query in judged.values() for g in per_query.values())
        stats["qrels"] = {
            "judgments": sum(grades.values()),
            "judged_queries": sum(1 for v in judged.values() if v),
            "judgments_per_query": _summary([len(v) for v in judged.values()]),
            "grade_histogram": {str(g): grades[g] for g in sorted(grades)},
        }
    return stats
