"""Per-segment results: head / torso / tail traffic segments and query-length buckets.

A segment table maps segment -> metric -> value, computed from an :class:`EvalResult`'s
per-query values so that no metric is recomputed. Standard measures are averaged over
the segment's queries; PNR is pooled (concordant / discordant summed over the segment's
queries), exactly like the overall aggregate. Each segment's row also holds
``num_queries`` (:data:`NUM_QUERIES_KEY`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from rankdistill.data.records import Query
from rankdistill.evaluation.metrics import EvalResult, PairCounts, pnr_ratio

NUM_QUERIES_KEY = "num_queries"
# Traffic segments come first, in this order; other segment names follow sorted.
SEGMENT_ORDER: tuple[str, ...] = ("head", "torso", "tail")

SegmentTable = dict[str, dict[str, float]]


def order_segments(names: set[str] | Sequence[str]) -> list[str]:
    """head, torso, tail first (when present), then the other names sorted."""
    names = set(names)
    known = [s for s in SEGMENT_ORDER if s in names]
    return known + sorted(names - set(SEGMENT_ORDER), key=_natural_key)


def _natural_key(name: str) -> tuple[int, float, str]:
    # Length buckets such as "1-3", "4-5", "9+" sort by their first number.
    head = name.split("-")[0].rstrip("+<=>")
    try:
        return (0, float(head), name)
    except ValueError:
        return (1, 0.0, name)


def per_segment(
    result: EvalResult,
    segment_of: Mapping[str, str],
    *,
    unassigned: str | None = None,
) -> SegmentTable:
    """Metric values per segment (plus ``num_queries``) for the evaluated queries.

    Queries without a segment in ``segment_of`` are skipped, or grouped under
    ``unassigned`` when that name is given.
    """
    members: dict[str, list[str]] = {}
    for qid in result.qids:
        segment = segment_of.get(qid, unassigned)
        if segment is not None:
            members.setdefault(str(segment), []).append(qid)
    table: SegmentTable = {}
    for segment in order_segments(set(members)):
        qids = members[segment]
        row: dict[str, float] = {NUM_QUERIES_KEY: float(len(qids))}
        for metric in result.metrics:
            row[metric] = _segment_value(result, metric, qids)
        table[segment] = row
    return table


def _segment_value(result: EvalResult, metric: str, qids: list[str]) -> float:
    if metric in result.pnr_counts:
        counts = result.pnr_counts[metric]
        total = sum((counts[q] for q in qids if q in counts), PairCounts())
        return pnr_ratio(total, result.pnr_ties)
    values = [result.per_query[metric][q] for q in qids if q in result.per_query[metric]]
    return float(np.mean(values)) if values else math.nan


def segments_from_queries(queries: Mapping[str, Query]) -> dict[str, str]:
    """qid -> traffic segment for the queries that carry one."""
    return {qid: q.segment for qid, q in queries.items() if q.segment is not None}


def length_segments(queries: Mapping[str, Query | str], edges: Sequence[int]) -> dict[str, str]:
    """qid -> query-length bucket name, bucketed by ``rankdistill.data.selection.length_bucket``."""
    from rankdistill.data.selection import length_bucket

    return {
        qid: length_bucket(q.text if isinstance(q, Query) else q, list(edges))
        for qid, q in queries.items()
    }
