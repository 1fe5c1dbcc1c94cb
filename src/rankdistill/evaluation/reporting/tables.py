"""The tables every report shows: metrics per system (with significance markers) and
metrics per segment, as formatted cells.

A PNR column's header says ``(pooled)``: its values are total concordant over total
discordant pairs of the queries (the whole run, a segment), not a mean over queries.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from rankdistill.evaluation.metrics import EvalResult
from rankdistill.evaluation.reporting.comparisons import is_pooled
from rankdistill.evaluation.reporting.document import format_metric
from rankdistill.evaluation.reporting.inputs import DEFAULT_ALPHA, SIGNIFICANT_MARK
from rankdistill.evaluation.segments import NUM_QUERIES_KEY, SegmentTable
from rankdistill.evaluation.significance import TestResult

Comparisons = Mapping[str, Mapping[str, TestResult]]


def metrics_of(results: Mapping[str, EvalResult]) -> list[str]:
    """Union of the runs' metrics, first-seen order."""
    seen: dict[str, None] = {}
    for result in results.values():
        for metric in result.metrics or list(result.aggregate):
            seen.setdefault(metric)
    return list(seen)


def metric_header(metric: str, results: Mapping[str, EvalResult]) -> str:
    """A metric's column header: PNR metrics are named as pooled over queries."""
    return f"{metric} (pooled)" if is_pooled(metric, results) else metric


def metric_headers(metrics: list[str], results: Mapping[str, EvalResult]) -> list[str]:
    return [metric_header(m, results) for m in metrics]


def _cell(
    name: str, metric: str, result: EvalResult, comparisons: Comparisons | None, alpha: float
) -> str:
    text = format_metric(result.aggregate.get(metric))
    test = (comparisons or {}).get(name, {}).get(metric)
    if test is not None and not math.isnan(test.p_value) and test.p_value < alpha:
        text += SIGNIFICANT_MARK
    return text


def results_rows(
    results: Mapping[str, EvalResult],
    comparisons: Comparisons | None = None,
    alpha: float = DEFAULT_ALPHA,
) -> tuple[list[str], list[list[str]]]:
    """(header, rows) of the main table: one row per system, one column per metric."""
    metrics = metrics_of(results)
    header = ["system", "queries", *metric_headers(metrics, results)]
    rows = [
        [name, str(result.num_queries)]
        + [_cell(name, m, result, comparisons, alpha) for m in metrics]
        for name, result in results.items()
    ]
    return header, rows


def segment_rows(tables: Mapping[str, SegmentTable], metrics: list[str]) -> list[list[str]]:
    """One row per (system, segment): the query count, then each metric."""
    return [
        [system, segment, str(int(row[NUM_QUERIES_KEY]))]
        + [format_metric(row.get(m)) for m in metrics]
        for system, table in tables.items()
        for segment, row in table.items()
    ]
