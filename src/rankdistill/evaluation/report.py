"""Evaluation outputs: terminal table (rich), ``eval.md``, ``eval.json`` and PNG plots.

``eval.md`` is a document of :mod:`rankdistill.evaluation.reporting` blocks written by the
same Markdown writer as the run report; the plots are the run report's. As there, PNR is
pooled over queries in every table (its header says so), and its test is of the pooled
value (:func:`rankdistill.evaluation.reporting.comparisons.compare_with_baseline`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rankdistill.evaluation.metrics import EvalResult
from rankdistill.evaluation.reporting.comparisons import compare_with_baseline
from rankdistill.evaluation.reporting.document import (
    Block,
    Paragraph,
    Section,
    Table,
    format_metric,
)
from rankdistill.evaluation.reporting.inputs import DEFAULT_ALPHA, SIGNIFICANT_MARK
from rankdistill.evaluation.reporting.markdown import render_markdown as render_document
from rankdistill.evaluation.reporting.plots import plot_score_distributions, plot_segments
from rankdistill.evaluation.reporting.tables import (
    Comparisons,
    metric_headers,
    metrics_of,
    results_rows,
    segment_rows,
)
from rankdistill.evaluation.segments import SegmentTable, per_segment
from rankdistill.evaluation.significance import TestMethod
from rankdistill.utils import atomic_write_json, atomic_write_text

if TYPE_CHECKING:
    from rich.table import Table as RichTable

__all__ = [
    "DEFAULT_ALPHA",
    "SIGNIFICANT_MARK",
    "Comparisons",
    "format_metric",
    "metrics_of",
    "plot_score_distributions",
    "plot_segments",
    "render_markdown",
    "render_rich_table",
    "report_dict",
    "results_rows",
    "write_eval_outputs",
]


def render_rich_table(
    results: Mapping[str, EvalResult],
    comparisons: Comparisons | None = None,
    title: str = "evaluation",
    alpha: float = DEFAULT_ALPHA,
) -> RichTable:
    """A :class:`rich.table.Table` of the aggregates (print it with a rich Console)."""
    from rich import box
    from rich.table import Table as RichTable

    header, rows = results_rows(results, comparisons, alpha)
    # No vertical rules: more of an 80-column terminal is left to the numbers.
    table = RichTable(title=title, box=box.SIMPLE_HEAD, pad_edge=False)
    for i, column in enumerate(header):
        # fold, not cut: a narrow terminal still shows every header and name whole
        table.add_column(column, justify="left" if i == 0 else "right", overflow="fold")
    for row in rows:
        table.add_row(*row)
    if comparisons:
        table.caption = f"{SIGNIFICANT_MARK}: p < {alpha} vs the baseline (paired test)"
    return table


def render_markdown(
    results: Mapping[str, EvalResult],
    comparisons: Comparisons | None = None,
    segment_tables: Mapping[str, SegmentTable] | None = None,
    baseline: str | None = None,
    alpha: float = DEFAULT_ALPHA,
) -> str:
    """The report as Markdown: main table, p-values vs the baseline, per-segment tables."""
    header, rows = results_rows(results, comparisons, alpha)
    metrics = metrics_of(results)
    blocks: list[Block] = [Table(header, rows)]
    sections = [Section("", blocks)]
    if comparisons:
        note = f"{SIGNIFICANT_MARK}: p < {alpha} vs '{baseline}' (paired test over common queries)."
        blocks.append(Paragraph(note, style="note"))
        p_rows = [
            [name] + [format_metric(tests[m].p_value) if m in tests else "–" for m in metrics]
            for name, tests in comparisons.items()
        ]
        p_header = ["system", *metric_headers(metrics, results)]
        sections.append(Section(f"p-values vs '{baseline}'", [Table(p_header, p_rows)]))
    if segment_tables:
        seg_header = ["system", "segment", "queries", *metric_headers(metrics, results)]
        seg_table = Table(seg_header, segment_rows(segment_tables, metrics), labels=2)
        sections.append(Section("Per segment", [seg_table]))
    return render_document("Evaluation", sections)


def report_dict(
    results: Mapping[str, EvalResult],
    comparisons: Comparisons | None = None,
    segment_tables: Mapping[str, SegmentTable] | None = None,
    baseline: str | None = None,
) -> dict[str, Any]:
    """Everything as one JSON-ready dict (``nan`` written as ``null``)."""
    return {
        "runs": {name: result.to_dict() for name, result in results.items()},
        "baseline": baseline,
        "significance": {
            name: {m: t.to_dict() for m, t in tests.items()}
            for name, tests in (comparisons or {}).items()
        },
        "segments": {
            name: {s: {m: _json(v) for m, v in row.items()} for s, row in table.items()}
            for name, table in (segment_tables or {}).items()
        },
    }


def _json(value: float) -> float | None:
    return None if isinstance(value, float) and math.isnan(value) else value


def write_eval_outputs(
    results: Mapping[str, EvalResult],
    out_dir: str | Path,
    segments: Mapping[str, str] | None = None,
    baseline: str | None = None,
    *,
    method: TestMethod = "ttest",
    seed: int = 0,
    alpha: float = DEFAULT_ALPHA,
    plots: bool = True,
    comparisons: Comparisons | None = None,
) -> dict[str, Path]:
    """Write ``eval.json``, ``eval.md`` and (with ``segments``) per-segment plots.

    ``segments`` maps qid -> segment name; ``baseline`` names the run the others are tested
    against (default: the first run; no test with a single run) with ``method``, unless
    precomputed ``comparisons`` are given. Returns name -> path.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if baseline is not None and baseline not in results:
        raise KeyError(f"baseline {baseline!r} is not one of the runs: {', '.join(results)}")
    base = baseline if baseline is not None else next(iter(results), None)
    if comparisons is None:
        comparisons = (
            compare_with_baseline(results, baseline=base, method=method, seed=seed)
            if len(results) > 1
            else {}
        )
    segment_tables = (
        {name: per_segment(result, segments) for name, result in results.items()}
        if segments
        else None
    )
    paths = {
        "json": atomic_write_json(
            out / "eval.json", report_dict(results, comparisons, segment_tables, base)
        ),
        "markdown": atomic_write_text(
            out / "eval.md",
            render_markdown(results, comparisons, segment_tables, base, alpha),
        ),
    }
    if plots and segment_tables:
        for metric in metrics_of(results):
            safe = "".join(c if c.isalnum() else "_" for c in metric).strip("_")
            paths[f"segments:{metric}"] = plot_segments(
                segment_tables, metric, out / f"segments_{safe}.png"
            )
    return paths
