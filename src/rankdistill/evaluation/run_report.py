"""The run report of ``rankdistill run``: ``report.md`` and a self-contained ``report.html``.

:func:`build_run_report` turns whatever a run produced (:class:`ReportInputs`) into one
document of sections (metrics with significance markers, per-segment and query-length
tables, score distributions, teacher-student agreement, labelling cost, latency, notes,
the resolved configuration) and renders it twice. The parts live in
:mod:`rankdistill.evaluation.reporting`: the document model, the sections, the plots and
the Markdown and HTML writers.
"""

from __future__ import annotations

from pathlib import Path

from rankdistill.evaluation.reporting.cost_sections import per_query_costs, stats_tables
from rankdistill.evaluation.reporting.document import Figure, format_metric, format_value
from rankdistill.evaluation.reporting.html_page import render_html
from rankdistill.evaluation.reporting.inputs import (
    FIGURE_NAMES,
    FIGURES_DIR,
    ReportInputs,
    ReportPaths,
)
from rankdistill.evaluation.reporting.markdown import md_escape, render_markdown
from rankdistill.evaluation.reporting.plots import (
    ScatterPoint,
    plot_metric_by_group,
    plot_quality_scatter,
    plot_score_distributions_grid,
)
from rankdistill.evaluation.reporting.sections import build_sections
from rankdistill.utils import atomic_write_text

MARKDOWN_NAME = "report.md"
HTML_NAME = "report.html"


def _remove_stale_figures(fig_dir: Path) -> None:
    for name in FIGURE_NAMES:
        (fig_dir / name).unlink(missing_ok=True)


def build_run_report(inputs: ReportInputs, out_dir: Path) -> ReportPaths:
    """Write ``report.md``, ``report.html`` and ``figures/*.png`` under ``out_dir``."""
    out_dir = Path(out_dir)
    _remove_stale_figures(out_dir / FIGURES_DIR)
    sections = build_sections(inputs, out_dir)
    figures = [b.path for s in sections for b in s.blocks if isinstance(b, Figure)]
    markdown = atomic_write_text(out_dir / MARKDOWN_NAME, render_markdown(inputs.title, sections))
    page = atomic_write_text(out_dir / HTML_NAME, render_html(inputs.title, sections))
    return ReportPaths(markdown=markdown, html=page, figures=figures)


__all__ = [
    "ReportInputs",
    "ReportPaths",
    "ScatterPoint",
    "build_run_report",
    "build_sections",
    "format_metric",
    "format_value",
    "md_escape",
    "per_query_costs",
    "plot_metric_by_group",
    "plot_quality_scatter",
    "plot_score_distributions_grid",
    "render_html",
    "render_markdown",
    "stats_tables",
]
