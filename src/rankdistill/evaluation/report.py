"""Render evaluation results: terminal table (rich), Markdown, JSON and PNG plots.

Plots are drawn on :class:`matplotlib.figure.Figure` objects with the Agg canvas (no
pyplot global state, no display needed), so they work on headless machines and threads.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rankdistill.data.records import Qrels, Run
from rankdistill.evaluation.metrics import EvalResult
from rankdistill.evaluation.segments import NUM_QUERIES_KEY, SegmentTable, per_segment
from rankdistill.evaluation.significance import TestMethod, TestResult, compare_runs
from rankdistill.utils import atomic_write_json, atomic_write_text

if TYPE_CHECKING:
    from rich.table import Table

# p-value under which a difference from the baseline is marked with SIGNIFICANT_MARK.
DEFAULT_ALPHA = 0.05
SIGNIFICANT_MARK = "†"

Comparisons = Mapping[str, Mapping[str, TestResult]]


def format_metric(value: float | None) -> str:
    """A metric value with 4 decimals; ``–`` for a missing or undefined value."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:.4f}"


def metrics_of(results: Mapping[str, EvalResult]) -> list[str]:
    """Union of the runs' metrics, first-seen order."""
    seen: dict[str, None] = {}
    for result in results.values():
        for metric in result.metrics or list(result.aggregate):
            seen.setdefault(metric)
    return list(seen)


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
    header = ["system", "queries", *metrics]
    rows = [
        [name, str(result.num_queries)]
        + [_cell(name, m, result, comparisons, alpha) for m in metrics]
        for name, result in results.items()
    ]
    return header, rows


def render_rich_table(
    results: Mapping[str, EvalResult],
    comparisons: Comparisons | None = None,
    title: str = "evaluation",
    alpha: float = DEFAULT_ALPHA,
) -> Table:
    """A :class:`rich.table.Table` of the aggregates (print it with a rich Console)."""
    from rich.table import Table

    header, rows = results_rows(results, comparisons, alpha)
    table = Table(title=title)
    for i, column in enumerate(header):
        table.add_column(column, justify="left" if i == 0 else "right")
    for row in rows:
        table.add_row(*row)
    if comparisons:
        table.caption = f"{SIGNIFICANT_MARK}: p < {alpha} vs the baseline (paired test)"
    return table


def _markdown_table(header: list[str], rows: list[list[str]]) -> str:
    lines = [
        "| " + " | ".join(header) + " |",
        "| " + " | ".join(["---"] + ["---:"] * (len(header) - 1)) + " |",
    ]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def render_markdown(
    results: Mapping[str, EvalResult],
    comparisons: Comparisons | None = None,
    segment_tables: Mapping[str, SegmentTable] | None = None,
    baseline: str | None = None,
    alpha: float = DEFAULT_ALPHA,
) -> str:
    """The report as Markdown: main table, p-values vs the baseline, per-segment tables."""
    header, rows = results_rows(results, comparisons, alpha)
    parts = ["# Evaluation\n\n", _markdown_table(header, rows)]
    if comparisons:
        parts.append(
            f"\n{SIGNIFICANT_MARK}: p < {alpha} vs `{baseline}` "
            "(paired test over common queries).\n"
        )
        parts.append(f"\n## p-values vs `{baseline}`\n\n")
        metrics = metrics_of(results)
        p_rows = [
            [name] + [format_metric(tests[m].p_value) if m in tests else "–" for m in metrics]
            for name, tests in comparisons.items()
        ]
        parts.append(_markdown_table(["system", *metrics], p_rows))
    if segment_tables:
        parts.append("\n## Per segment\n")
        metrics = metrics_of(results)
        seg_rows = [
            [name, segment, str(int(row[NUM_QUERIES_KEY]))]
            + [format_metric(row.get(m)) for m in metrics]
            for name, table in segment_tables.items()
            for segment, row in table.items()
        ]
        parts.append("\n" + _markdown_table(["system", "segment", "queries", *metrics], seg_rows))
    return "".join(parts)


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
            compare_runs(results, baseline=base, method=method, seed=seed)
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


# --------------------------------------------------------------------------- plots
def _new_figure(width: float = 7.0, height: float = 4.0) -> Any:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def _save(fig: Any, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", dpi=100)
    return path


def plot_segments(
    segment_tables: Mapping[str, SegmentTable],
    metric: str,
    path: str | Path,
    title: str | None = None,
) -> Path:
    """Grouped bars: ``metric`` by segment (x axis), one bar per system."""
    import numpy as np

    from rankdistill.evaluation.segments import order_segments

    segments = order_segments({s for table in segment_tables.values() for s in table})
    systems = list(segment_tables)
    fig = _new_figure()
    ax = fig.add_subplot()
    width = 0.8 / max(len(systems), 1)
    x = np.arange(len(segments))
    for i, system in enumerate(systems):
        values = [segment_tables[system].get(s, {}).get(metric, math.nan) for s in segments]
        ax.bar(x + i * width - 0.4 + width / 2, values, width, label=system)
    labels = []
    for s in segments:
        counts = {int(t[s][NUM_QUERIES_KEY]) for t in segment_tables.values() if s in t}
        labels.append(f"{s}\n(n={max(counts)})" if counts else s)
    ax.set_xticks(x, labels)
    ax.set_ylabel(metric)
    ax.set_title(title or f"{metric} by segment")
    ax.legend(fontsize="small")
    return _save(fig, path)


def plot_score_distributions(
    runs: Mapping[str, Run],
    qrels: Qrels,
    path: str | Path,
    bins: int = 30,
) -> Path:
    """Per system, histograms of its scores for judged documents, one colour per grade."""
    systems = list(runs)
    fig = _new_figure(width=4.0 * max(len(systems), 1), height=3.5)
    axes = fig.subplots(1, max(len(systems), 1), squeeze=False)[0]
    for ax, system in zip(axes, systems, strict=False):
        by_grade: dict[int, list[float]] = {}
        for qid, docs in runs[system].items():
            judged = qrels.get(qid, {})
            for docid, score in docs.items():
                if docid in judged:
                    by_grade.setdefault(int(judged[docid]), []).append(float(score))
        for grade in sorted(by_grade):
            ax.hist(by_grade[grade], bins=bins, alpha=0.5, label=f"grade {grade}")
        ax.set_title(system)
        ax.set_xlabel("score")
        ax.set_ylabel("judged documents")
        if by_grade:
            ax.legend(fontsize="small")
    return _save(fig, path)


@dataclass(frozen=True)
class LatencyQualityPoint:
    """One system on the latency / quality plane."""

    name: str
    latency_ms: float
    quality: float


def plot_latency_quality(
    points: Sequence[LatencyQualityPoint | Mapping[str, Any]],
    path: str | Path,
    quality_label: str = "nDCG@10",
    log_latency: bool = True,
) -> Path:
    """Scatter of quality against latency, each point labelled with its system's name.

    ``points`` are :class:`LatencyQualityPoint` or dicts with ``name``, ``latency_ms`` and
    ``quality``.
    """
    parsed = [
        p
        if isinstance(p, LatencyQualityPoint)
        else LatencyQualityPoint(str(p["name"]), float(p["latency_ms"]), float(p["quality"]))
        for p in points
    ]
    fig = _new_figure()
    ax = fig.add_subplot()
    ax.scatter([p.latency_ms for p in parsed], [p.quality for p in parsed])
    for p in parsed:
        ax.annotate(p.name, (p.latency_ms, p.quality), textcoords="offset points", xytext=(4, 4))
    if log_latency and parsed and all(p.latency_ms > 0 for p in parsed):
        ax.set_xscale("log")
    ax.set_xlabel("latency per query (ms)")
    ax.set_ylabel(quality_label)
    ax.set_title(f"{quality_label} vs latency")
    ax.grid(True, alpha=0.3)
    return _save(fig, path)
