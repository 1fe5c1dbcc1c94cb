"""The run report of ``rankdistill run``: ``report.md`` and a self-contained ``report.html``.

:func:`build_run_report` turns whatever a run produced (:class:`ReportInputs`) into one
document of sections (metrics with significance markers, per-segment and query-length
tables, score distributions, teacher-student agreement, labelling cost, latency, notes,
the resolved configuration). A section whose inputs are absent is replaced by one line
saying why, so a partial run still gets a report.

The sections are built once as plain blocks (:class:`Paragraph`, :class:`Table`,
:class:`Figure`, :class:`Code`) and rendered twice: to Markdown (relative image links into
``figures/``) and to HTML (PNGs embedded as base64 data URIs, inline CSS, no script, every
user string escaped with :func:`html.escape`). Plots reuse :mod:`rankdistill.evaluation.report`
where its functions fit (:func:`~rankdistill.evaluation.report.results_rows`); the plot
variants it lacks (legends outside the data, wrapped panels, several backends per system,
a throughput axis) live here.
"""

from __future__ import annotations

import base64
import html
import math
import re
import string
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from rankdistill.data.records import Qrels, Run
from rankdistill.evaluation.agreement import kendall_tau, topk_overlap
from rankdistill.evaluation.metrics import EvalResult
from rankdistill.evaluation.report import (
    DEFAULT_ALPHA,
    SIGNIFICANT_MARK,
    format_metric,
    metrics_of,
    results_rows,
)
from rankdistill.evaluation.segments import (
    NUM_QUERIES_KEY,
    SegmentTable,
    length_segments,
    order_segments,
    per_segment,
)
from rankdistill.evaluation.significance import TestMethod, TestResult, compare_runs
from rankdistill.utils import atomic_write_text

MARKDOWN_NAME = "report.md"
HTML_NAME = "report.html"
FIGURES_DIR = "figures"
FIGURE_DPI = 110
DEFAULT_LENGTH_EDGES: tuple[int, ...] = (3, 5, 8)
# Every figure this module may write; stale ones from an earlier report are removed.
FIGURE_NAMES: tuple[str, ...] = (
    "segments.png",
    "length_buckets.png",
    "score_distributions.png",
    "latency_quality.png",
)
# Latency-row keys usable as the x axis of the latency / quality plot, in preference order.
LATENCY_X_KEYS: tuple[str, ...] = ("p50_ms", "pairs_per_s")
# Keys of a labelling-statistics dict read for the per-query cost comparison.
COST_KEYS: dict[str, str] = {
    "llm_calls": "LLM calls",
    "prompt_tokens": "prompt tokens",
    "completion_tokens": "completion tokens",
}


# --------------------------------------------------------------------------- inputs / outputs
@dataclass
class ReportInputs:
    """Everything the report can show; only ``title`` and ``results`` are required.

    ``results`` is in display order (e.g. first-stage, pre-ranker, teacher, students).
    ``baseline`` names the system the others are tested against (paired test per metric,
    ``significance_method``, marked when p < ``alpha``). ``segments`` (qid -> head / torso /
    tail) and ``query_texts`` (qid -> text, bucketed by ``length_edges``) give per-segment
    tables. ``runs`` + ``qrels`` give score distributions, and with ``teacher_name`` the
    agreement of the teacher with each of ``students`` (default: every other run).
    ``labeling_stats`` is :func:`rankdistill.labeling.stats.label_statistics`'s dict (any
    nested dict renders); ``baseline_labeling_cost`` the same for the sliding-window
    baseline, or a flat dict of per-query costs. ``latency`` rows are benchmark records
    (``system``, ``backend``, ``pairs_per_s``, ``p50_ms``, ...).
    """

    title: str
    results: dict[str, EvalResult]
    baseline: str | None = None
    segments: dict[str, str] | None = None
    query_texts: dict[str, str] | None = None
    runs: dict[str, Run] | None = None
    qrels: Qrels | None = None
    teacher_name: str | None = None
    students: list[str] | None = None
    labeling_stats: dict[str, Any] | None = None
    baseline_labeling_cost: dict[str, Any] | None = None
    latency: list[dict[str, Any]] | None = None
    config_yaml: str | None = None
    notes: list[str] = field(default_factory=list)
    quality_metric: str = "nDCG@10"
    length_edges: Sequence[int] = DEFAULT_LENGTH_EDGES
    significance_method: TestMethod = "ttest"
    alpha: float = DEFAULT_ALPHA
    agreement_k: int = 10


@dataclass(frozen=True)
class ReportPaths:
    """The files :func:`build_run_report` wrote."""

    markdown: Path
    html: Path
    figures: list[Path]


# --------------------------------------------------------------------------- document blocks
@dataclass(frozen=True)
class Paragraph:
    """Plain text (no markup); ``style`` is ``"text"``, ``"note"`` or ``"omitted"``."""

    text: str
    style: str = "text"


@dataclass(frozen=True)
class Table:
    """A table of already formatted cells: ``labels`` leading label columns, then values."""

    header: list[str]
    rows: list[list[str]]
    labels: int = 1
    compact: bool = False  # small key-value table: HTML lays these side by side


@dataclass(frozen=True)
class Figure:
    """A PNG written under the report folder; ``relpath`` is relative to that folder."""

    path: Path
    relpath: str
    caption: str


@dataclass(frozen=True)
class Code:
    """A verbatim block (collapsible in HTML)."""

    text: str
    summary: str
    language: str = ""


Block = Paragraph | Table | Figure | Code


@dataclass
class Section:
    title: str
    blocks: list[Block]


def omitted(what: str, reason: str) -> Paragraph:
    """The one line that stands for a section whose input is absent."""
    return Paragraph(f"{what} omitted because {reason}.", style="omitted")


# --------------------------------------------------------------------------- formatting
def format_p_value(p: float) -> str:
    if math.isnan(p):
        return "–"
    return "<0.0001" if p < 1e-4 else f"{p:.4f}"


def format_value(value: Any) -> str:
    """Any statistic: integers with thousands separators, floats with a precision that
    suits their size, lists joined, ``None`` / nan as ``–``."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if math.isnan(value):
            return "–"
        if math.isinf(value):
            return "∞" if value > 0 else "-∞"
        magnitude = abs(value)
        if magnitude >= 1000:
            return f"{value:,.0f}"
        if magnitude >= 100:
            return f"{value:.1f}"
        if magnitude >= 1:
            return f"{value:.2f}"
        return f"{value:.4f}"
    if isinstance(value, list | tuple | set):
        return ", ".join(format_value(v) if not isinstance(v, str) else v for v in value)
    return str(value)


def _label(key: str) -> str:
    return str(key).replace("_", " ")


def _plot_label(name: str) -> str:
    # A "$" would switch matplotlib into mathtext (and an odd one can fail to parse).
    return name.replace("$", r"\$")


def _quality_metric(inputs: ReportInputs) -> str | None:
    """``inputs.quality_metric`` if a system has it, else the first metric there is."""
    metrics = [m for r in inputs.results.values() for m in (r.metrics or list(r.aggregate))]
    if inputs.quality_metric in metrics:
        return inputs.quality_metric
    return metrics[0] if metrics else None


# --------------------------------------------------------------------------- sections
def _notes_section(inputs: ReportInputs) -> Section | None:
    if not inputs.notes:
        return None
    return Section("Notes", [Paragraph(note) for note in inputs.notes])


def _comparisons(inputs: ReportInputs) -> tuple[dict[str, dict[str, TestResult]], str | None]:
    """Paired tests vs the baseline, or why there are none."""
    if inputs.baseline is None:
        return {}, "no baseline system was given"
    if inputs.baseline not in inputs.results:
        return {}, f"the baseline {inputs.baseline!r} is not among the evaluated systems"
    if len(inputs.results) < 2:
        return {}, "there is no other system to compare with the baseline"
    comparisons = compare_runs(
        inputs.results, baseline=inputs.baseline, method=inputs.significance_method
    )
    return comparisons, None


def _metrics_section(inputs: ReportInputs) -> Section:
    if not inputs.results:
        reason = "no evaluation results were given"
        return Section("Metrics", [omitted("The metrics table", reason)])
    comparisons, reason = _comparisons(inputs)
    header, rows = results_rows(inputs.results, comparisons, inputs.alpha)
    blocks: list[Block] = [Table(header, rows)]
    if reason is not None:
        blocks.append(omitted("Significance testing", reason))
        return Section("Metrics", blocks)
    blocks.append(
        Paragraph(
            f"{SIGNIFICANT_MARK} marks p < {inputs.alpha} against the baseline "
            f"'{inputs.baseline}' ({_test_name(inputs.significance_method)} over the queries "
            "both systems were evaluated on).",
            style="note",
        )
    )
    metrics = header[2:]
    p_rows = [
        [name] + [_difference_cell(tests.get(m)) for m in metrics]
        for name, tests in comparisons.items()
    ]
    blocks.append(
        Paragraph(f"Mean difference (system − '{inputs.baseline}') and p-value, per metric:")
    )
    blocks.append(Table(["system", *metrics], p_rows))
    return Section("Metrics", blocks)


def _test_name(method: str) -> str:
    return {
        "ttest": "paired t-test",
        "wilcoxon": "Wilcoxon signed-rank test",
        "permutation": "paired permutation test",
    }.get(method, method)


def _difference_cell(test: TestResult | None) -> str:
    if test is None:
        return "–"
    return f"{test.mean_diff:+.4f} (p={format_p_value(test.p_value)})"


def _segment_rows(tables: Mapping[str, SegmentTable], metrics: list[str]) -> list[list[str]]:
    return [
        [system, segment, str(int(row[NUM_QUERIES_KEY]))]
        + [format_metric(row.get(m)) for m in metrics]
        for system, table in tables.items()
        for segment, row in table.items()
    ]


def _grouped_section(
    inputs: ReportInputs,
    title: str,
    group_of: Mapping[str, str],
    figure_path: Path,
    out_dir: Path,
    column: str,
) -> Section:
    """Per-group metric table for every system plus a grouped bar plot of the quality metric."""
    tables = {name: per_segment(result, group_of) for name, result in inputs.results.items()}
    tables = {name: table for name, table in tables.items() if table}
    if not tables:
        reason = f"none of the evaluated queries has a {column}"
        return Section(title, [omitted(f"The {column} table", reason)])
    metrics = metrics_of(inputs.results)
    rows = _segment_rows(tables, metrics)
    blocks: list[Block] = [Table(["system", column, "queries", *metrics], rows, labels=2)]
    quality = _quality_metric(inputs)
    if quality is not None:
        plot_title = f"{quality} by {column}"
        plot_metric_by_group(
            {_plot_label(n): t for n, t in tables.items()}, quality, figure_path, plot_title
        )
        blocks.append(_figure(figure_path, out_dir, plot_title))
    return Section(title, blocks)


def _segments_section(inputs: ReportInputs, fig_dir: Path, out_dir: Path) -> Section:
    title = "Per segment"
    if not inputs.segments:
        return Section(title, [omitted("Per-segment results", "no query segments were given")])
    return _grouped_section(
        inputs, title, inputs.segments, fig_dir / "segments.png", out_dir, "segment"
    )


def _length_section(inputs: ReportInputs, fig_dir: Path, out_dir: Path) -> Section:
    title = "By query length"
    if not inputs.query_texts:
        return Section(title, [omitted("Per-query-length results", "no query texts were given")])
    buckets = length_segments(inputs.query_texts, list(inputs.length_edges))
    return _grouped_section(
        inputs, title, buckets, fig_dir / "length_buckets.png", out_dir, "length (words)"
    )


def _distribution_section(inputs: ReportInputs, fig_dir: Path, out_dir: Path) -> Section:
    title = "Score distributions"
    if not inputs.runs or inputs.qrels is None:
        return Section(title, [omitted("Score distributions", "no runs and qrels were given")])
    path = plot_score_distributions_grid(
        inputs.runs, inputs.qrels, fig_dir / "score_distributions.png"
    )
    caption = "Scores of judged documents per system, one colour per relevance grade"
    return Section(title, [_figure(path, out_dir, caption)])


def _agreement_section(inputs: ReportInputs) -> Section:
    title = "Teacher-student agreement"
    teacher = inputs.teacher_name
    if teacher is None:
        return Section(title, [omitted("Teacher-student agreement", "no teacher was named")])
    if not inputs.runs or teacher not in inputs.runs:
        reason = f"the teacher '{teacher}' has no run"
        return Section(title, [omitted("Teacher-student agreement", reason)])
    students = inputs.students if inputs.students is not None else list(inputs.runs)
    students = [s for s in students if s != teacher and s in inputs.runs]
    if not students:
        return Section(title, [omitted("Teacher-student agreement", "there is no student run")])
    k = inputs.agreement_k
    rows = []
    for student in students:
        tau = kendall_tau(inputs.runs[teacher], inputs.runs[student])
        overlap = topk_overlap(inputs.runs[teacher], inputs.runs[student], k=k)
        rows.append(
            [
                student,
                format_metric(tau["mean"]),
                format_metric(overlap["mean"]),
                str(tau["num_queries"]),
            ]
        )
    header = ["system", "Kendall tau", f"top-{k} overlap", "queries"]
    note = Paragraph(
        f"Agreement of each system's ranking with the teacher '{teacher}': Kendall's tau-b "
        f"over the documents both scored, and the shared fraction of their top {k}; "
        "means over queries.",
        style="note",
    )
    return Section(title, [Table(header, rows), note])


def _labeling_section(inputs: ReportInputs) -> Section:
    title = "Labelling cost"
    stats = inputs.labeling_stats
    if not stats:
        reason = "no labelling statistics were given"
        return Section(title, [omitted("Labelling statistics", reason)])
    blocks: list[Block] = []
    if inputs.baseline_labeling_cost:
        blocks += _cost_comparison(stats, inputs.baseline_labeling_cost)
    else:
        blocks.append(
            omitted("The comparison with the sliding-window baseline", "no baseline cost was given")
        )
    blocks += stats_tables(stats)
    return Section(title, blocks)


def stats_tables(stats: Mapping[str, Any]) -> list[Table]:
    """Render a statistics dict generically: its scalars (and lists) as one table, each
    nested dict as a table of its own (deeper levels flattened to dotted keys)."""
    scalars = [[_label(k), format_value(v)] for k, v in stats.items() if not isinstance(v, Mapping)]
    tables = [Table(["statistic", "value"], scalars, compact=True)] if scalars else []
    for key, value in stats.items():
        if isinstance(value, Mapping):
            rows = [[k, format_value(v)] for k, v in _flatten(value)] or [["(none)", "–"]]
            tables.append(Table([_label(key), "value"], rows, compact=True))
    return tables


def _flatten(mapping: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for key, value in mapping.items():
        name = f"{prefix}{_label(key)}"
        if isinstance(value, Mapping):
            yield from _flatten(value, prefix=f"{name}.")
        else:
            yield name, value


def per_query_costs(stats: Mapping[str, Any]) -> dict[str, float]:
    """Per-query LLM calls and tokens from a statistics dict.

    Reads ``label_statistics``' shape (``stats["llm_calls"]["per_query"]``), flat
    ``llm_calls_per_query`` keys, or plain numbers under the :data:`COST_KEYS` (taken as
    per-query values).
    """
    costs: dict[str, float] = {}
    for key in COST_KEYS:
        value = stats.get(key)
        if isinstance(value, Mapping):
            value = value.get("per_query")
        if value is None:
            value = stats.get(f"{key}_per_query")
        if isinstance(value, int | float) and not isinstance(value, bool):
            costs[key] = float(value)
    if "prompt_tokens" in costs and "completion_tokens" in costs:
        costs["total_tokens"] = costs["prompt_tokens"] + costs["completion_tokens"]
    return costs


def _cost_comparison(stats: Mapping[str, Any], baseline: Mapping[str, Any]) -> list[Block]:
    ours, theirs = per_query_costs(stats), per_query_costs(baseline)
    keys = [k for k in (*COST_KEYS, "total_tokens") if k in ours and k in theirs]
    if not keys:
        reason = "the baseline cost has no per-query calls or tokens"
        return [omitted("The cost comparison", reason)]
    methods = stats.get("methods")
    this_run = "this run" + (f" ({', '.join(methods)})" if isinstance(methods, Mapping) else "")
    rows = [
        [
            f"{COST_KEYS.get(k, 'total tokens')} / query",
            format_value(ours[k]),
            format_value(theirs[k]),
            f"{theirs[k] / ours[k]:.2f}×" if ours[k] else "–",
        ]
        for k in keys
    ]
    return [Table(["cost", this_run, "sliding-window baseline", "baseline / this run"], rows)]


def _latency_section(inputs: ReportInputs, fig_dir: Path, out_dir: Path) -> Section:
    title = "Latency"
    if not inputs.latency:
        return Section(title, [omitted("Latency results", "no benchmark rows were given")])
    rows = inputs.latency
    for i, row in enumerate(rows):
        if "system" not in row:
            raise ValueError(f"latency row {i} has no 'system' field: {row}")
    columns = _latency_columns(rows)
    cells = [[format_value(row.get(c)) for c in columns] for row in rows]
    table = Table(columns, cells, labels=2 if "backend" in columns else 1)
    blocks: list[Block] = [table]
    blocks += _latency_plot(inputs, fig_dir / "latency_quality.png", out_dir)
    return Section(title, blocks)


def _latency_columns(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    seen: dict[str, None] = {"system": None}
    if any("backend" in row for row in rows):
        seen["backend"] = None
    for row in rows:
        for key in row:
            seen.setdefault(key)
    return list(seen)


@dataclass(frozen=True)
class ScatterPoint:
    """One benchmarked system / backend on the quality plane."""

    system: str
    backend: str
    x: float
    quality: float


# x-axis key -> (axis label, caption phrase) of the latency / quality plot.
LATENCY_AXES: dict[str, tuple[str, str]] = {
    "p50_ms": ("median latency per request (ms)", "median latency per request"),
    "pairs_per_s": ("throughput (query-document pairs / s)", "throughput"),
}


def _latency_plot(inputs: ReportInputs, path: Path, out_dir: Path) -> list[Block]:
    """Quality (from the row, else the system's results) against the first x key all
    plottable rows share."""
    quality = _quality_metric(inputs)
    usable = []
    for row in inputs.latency or []:
        value = row.get(quality) if quality in row else _aggregate(inputs, row["system"], quality)
        if value is not None and not math.isnan(value):
            usable.append((row, float(value)))
    x_key = next((k for k in LATENCY_X_KEYS if usable and all(k in row for row, _ in usable)), None)
    if quality is None or x_key is None:
        reason = f"no row has both {quality or 'a quality metric'} and one of {LATENCY_X_KEYS}"
        return [omitted("The latency-vs-quality plot", reason)]
    points = [
        ScatterPoint(str(row["system"]), str(row.get("backend") or ""), float(row[x_key]), q)
        for row, q in usable
    ]
    axis_label, phrase = LATENCY_AXES[x_key]
    plot_quality_scatter(points, path, axis_label, quality)
    return [_figure(path, out_dir, f"{quality} against {phrase}")]


def _aggregate(inputs: ReportInputs, system: str, metric: str | None) -> float | None:
    result = inputs.results.get(system)
    if result is None or metric is None:
        return None
    return result.aggregate.get(metric)


def _config_section(inputs: ReportInputs) -> Section:
    title = "Configuration"
    if not inputs.config_yaml:
        return Section(title, [omitted("The resolved configuration", "none was given")])
    return Section(title, [Code(inputs.config_yaml, "Resolved configuration (YAML)", "yaml")])


def _figure(path: Path, out_dir: Path, caption: str) -> Figure:
    return Figure(path, path.relative_to(out_dir).as_posix(), caption)


def build_sections(inputs: ReportInputs, out_dir: Path) -> list[Section]:
    """All sections in display order (writes the figures under ``out_dir/figures``)."""
    fig_dir = out_dir / FIGURES_DIR
    sections = [
        _notes_section(inputs),
        _metrics_section(inputs),
        _segments_section(inputs, fig_dir, out_dir),
        _length_section(inputs, fig_dir, out_dir),
        _distribution_section(inputs, fig_dir, out_dir),
        _agreement_section(inputs),
        _labeling_section(inputs),
        _latency_section(inputs, fig_dir, out_dir),
        _config_section(inputs),
    ]
    return [s for s in sections if s is not None]


# --------------------------------------------------------------------------- plots
def _new_figure(width: float, height: float) -> Any:
    from matplotlib.figure import Figure as MplFigure

    return MplFigure(figsize=(width, height), layout="constrained")


def _save(fig: Any, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", dpi=FIGURE_DPI)
    return path


def _scores_by_grade(run: Run, qrels: Qrels) -> dict[int, list[float]]:
    by_grade: dict[int, list[float]] = {}
    for qid, docs in run.items():
        judged = qrels.get(qid, {})
        for docid, score in docs.items():
            if docid in judged:
                by_grade.setdefault(int(judged[docid]), []).append(float(score))
    return by_grade


def plot_score_distributions_grid(
    runs: Mapping[str, Run], qrels: Qrels, path: Path, bins: int = 30, columns: int = 3
) -> Path:
    """Like :func:`~rankdistill.evaluation.report.plot_score_distributions`, but panels wrap
    after ``columns`` systems (fixed panel size), so many systems stay readable."""
    systems = list(runs)
    ncols = max(1, min(columns, len(systems)))
    nrows = max(1, math.ceil(len(systems) / ncols))
    fig = _new_figure(4.0 * ncols, 3.2 * nrows)
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax, system in zip(axes, systems, strict=False):
        by_grade = _scores_by_grade(runs[system], qrels)
        for grade in sorted(by_grade):
            ax.hist(by_grade[grade], bins=bins, alpha=0.55, label=f"grade {grade}")
        ax.set_title(_plot_label(system))
        ax.set_xlabel("score")
        ax.set_ylabel("judged documents")
        if by_grade:
            ax.legend(fontsize="small")
        else:
            ax.text(0.5, 0.5, "no judged documents", ha="center", transform=ax.transAxes)
    for ax in axes[len(systems) :]:
        ax.set_visible(False)
    return _save(fig, path)


def plot_metric_by_group(
    tables: Mapping[str, SegmentTable], metric: str, path: Path, title: str
) -> Path:
    """Grouped bars of ``metric`` per group, one bar per system: the variant of
    :func:`~rankdistill.evaluation.report.plot_segments` with the legend outside the axes,
    so it never hides bars however many systems a run has."""
    import numpy as np

    groups = order_segments({g for table in tables.values() for g in table})
    systems = list(tables)
    fig = _new_figure(8.5, 4.0)
    ax = fig.add_subplot()
    width = 0.8 / max(len(systems), 1)
    x = np.arange(len(groups))
    for i, system in enumerate(systems):
        values = [tables[system].get(g, {}).get(metric, math.nan) for g in groups]
        ax.bar(x + i * width - 0.4 + width / 2, values, width, label=system)
    counts = [max(int(t[g][NUM_QUERIES_KEY]) for t in tables.values() if g in t) for g in groups]
    ax.set_xticks(x, [f"{g}\n(n={n})" for g, n in zip(groups, counts, strict=True)])
    ax.set_ylabel(metric)
    ax.set_title(title)
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return _save(fig, path)


def plot_quality_scatter(
    points: Sequence[ScatterPoint], path: Path, x_label: str, quality_label: str = "nDCG@10"
) -> Path:
    """Quality against latency or throughput: one colour per system (legend outside the
    axes), each point annotated with its backend. The variant of
    :func:`~rankdistill.evaluation.report.plot_latency_quality` for several backends per
    system, whose long "system (backend)" labels would overlap and run off the axes."""
    fig = _new_figure(8.5, 4.2)
    ax = fig.add_subplot()
    systems = list(dict.fromkeys(p.system for p in points))
    for system in systems:
        mine = [p for p in points if p.system == system]
        ax.scatter([p.x for p in mine], [p.quality for p in mine], s=42, label=_plot_label(system))
    # Alternate the annotations above and below, in x order, so neighbours do not collide;
    # the right half is written leftwards so no label runs off the axes.
    ordered = sorted(points, key=lambda p: p.x)
    for i, p in enumerate(ordered):
        if p.backend:
            right_half = i >= len(ordered) / 2 and len(ordered) > 1
            ax.annotate(
                _plot_label(p.backend),
                (p.x, p.quality),
                textcoords="offset points",
                xytext=(-6 if right_half else 6, 7 if i % 2 == 0 else -13),
                ha="right" if right_half else "left",
                fontsize="small",
            )
    if points and all(p.x > 0 for p in points):
        ax.set_xscale("log")
    ax.margins(x=0.15, y=0.15)
    ax.set_xlabel(x_label)
    ax.set_ylabel(quality_label)
    ax.set_title(f"{quality_label} vs {x_label.split(' (')[0]}")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return _save(fig, path)


# --------------------------------------------------------------------------- Markdown
# Markdown markup inside a line: table pipes, emphasis, code, links, and "<" where it could
# open an HTML tag (so "p < 0.05" stays readable while "<script>" is shown, not run).
_MD_INLINE = re.compile(r"([\\|*_`\[\]]|<(?=[A-Za-z/!?]))")


def md_escape(text: str) -> str:
    """Backslash-escape what Markdown would read as markup within a line."""
    return _MD_INLINE.sub(r"\\\1", str(text)).replace("\n", " ")


def md_escape_paragraph(text: str) -> str:
    """:func:`md_escape`, plus a heading, quote or list marker at the start."""
    escaped = md_escape(text)
    return "\\" + escaped if escaped[:1] in ("#", "+", "-", ">") else escaped


def _md_block(block: Block) -> str:
    if isinstance(block, Paragraph):
        text = md_escape_paragraph(block.text)
        return f"*{text}*" if block.style == "omitted" else text
    if isinstance(block, Table):
        lines = [
            "| " + " | ".join(md_escape(h) for h in block.header) + " |",
            "| "
            + " | ".join(":---" if i < block.labels else "---:" for i in range(len(block.header)))
            + " |",
        ]
        lines += ["| " + " | ".join(md_escape(c) for c in row) + " |" for row in block.rows]
        return "\n".join(lines)
    if isinstance(block, Figure):
        return f"![{md_escape(block.caption)}]({block.relpath})"
    fence = "`" * max(3, _longest_backtick_run(block.text) + 1)
    return f"{fence}{block.language}\n{block.text.rstrip()}\n{fence}"


def _longest_backtick_run(text: str) -> int:
    return max((len(m) for m in re.findall(r"`+", text)), default=0)


def render_markdown(title: str, sections: Sequence[Section]) -> str:
    parts = [f"# {md_escape(title)}"]
    for section in sections:
        parts.append(f"## {md_escape(section.title)}")
        parts += [_md_block(block) for block in section.blocks]
    return "\n\n".join(parts) + "\n"


# --------------------------------------------------------------------------- HTML
def _template(name: str) -> str:
    return (
        resources.files("rankdistill.evaluation")
        .joinpath("templates", name)
        .read_text(encoding="utf-8")
    )


def _anchor(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")


def _html_table(table: Table) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in table.header)

    def cell(i: int, text: str) -> str:
        css = ' class="label"' if i < table.labels else ""
        return f"<td{css}>{html.escape(text)}</td>"

    body = "\n".join(
        "<tr>" + "".join(cell(i, c) for i, c in enumerate(row)) + "</tr>" for row in table.rows
    )
    css = ' class="compact"' if table.compact else ""
    return f"<table{css}>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody>\n</table>"


def _data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def _html_block(block: Block) -> str:
    if isinstance(block, Paragraph):
        css = f' class="{block.style}"' if block.style != "text" else ""
        return f"<p{css}>{html.escape(block.text)}</p>"
    if isinstance(block, Table):
        return _html_table(block)
    if isinstance(block, Figure):
        caption = html.escape(block.caption)
        return (
            f'<figure><img src="{_data_uri(block.path)}" alt="{caption}">'
            f"<figcaption>{caption}</figcaption></figure>"
        )
    return (
        f"<details><summary>{html.escape(block.summary)}</summary>"
        f"<pre>{html.escape(block.text)}</pre></details>"
    )


def render_html(title: str, sections: Sequence[Section]) -> str:
    """One self-contained page: inline CSS, images as data URIs, no script."""
    toc = "\n".join(
        f'<li><a href="#{_anchor(s.title)}">{html.escape(s.title)}</a></li>' for s in sections
    )
    body = "\n".join(
        f'<section id="{_anchor(s.title)}">\n<h2>{html.escape(s.title)}</h2>\n'
        + "\n".join(_html_block(b) for b in s.blocks)
        + "\n</section>"
        for s in sections
    )
    page = string.Template(_template("report.html"))
    return page.substitute(
        title=html.escape(title), css=_template("report.css"), toc=toc, body=body
    )


# --------------------------------------------------------------------------- entry point
def _remove_stale_figures(fig_dir: Path) -> None:
    for name in FIGURE_NAMES:
        (fig_dir / name).unlink(missing_ok=True)


def build_run_report(inputs: ReportInputs, out_dir: Path) -> ReportPaths:
    """Write ``report.md``, ``report.html`` and ``figures/*.png`` under ``out_dir``."""
    out_dir = Path(out_dir)
    fig_dir = out_dir / FIGURES_DIR
    _remove_stale_figures(fig_dir)
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
