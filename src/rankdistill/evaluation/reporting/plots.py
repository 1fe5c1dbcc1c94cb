"""Every plot of the reports, drawn on :class:`matplotlib.figure.Figure` with the Agg canvas
(no pyplot global state, no display needed), so they work on headless machines and threads.

Legends sit outside the data and panels wrap, so a run with many systems stays readable.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rankdistill.data.records import Qrels, Run
from rankdistill.evaluation.segments import NUM_QUERIES_KEY, SegmentTable, order_segments

FIGURE_DPI = 110


@dataclass(frozen=True)
class ScatterPoint:
    """One benchmarked system / backend on the quality plane."""

    system: str
    backend: str
    x: float
    quality: float


def plot_label(name: str) -> str:
    """``name`` as matplotlib text: a "$" would switch it into mathtext (and an odd one can
    fail to parse)."""
    return name.replace("$", r"\$")


def _new_figure(width: float, height: float) -> Any:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def _save(fig: Any, path: str | Path) -> Path:
    path = Path(path)
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
    runs: Mapping[str, Run], qrels: Qrels, path: str | Path, bins: int = 30, columns: int = 3
) -> Path:
    """Per system, histograms of its scores for judged documents, one colour per grade;
    panels wrap after ``columns`` systems (fixed panel size)."""
    systems = list(runs)
    ncols = max(1, min(columns, len(systems)))
    nrows = max(1, math.ceil(len(systems) / ncols))
    fig = _new_figure(4.0 * ncols, 3.2 * nrows)
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax, system in zip(axes, systems, strict=False):
        by_grade = _scores_by_grade(runs[system], qrels)
        for grade in sorted(by_grade):
            ax.hist(by_grade[grade], bins=bins, alpha=0.55, label=f"grade {grade}")
        ax.set_title(plot_label(system))
        ax.set_xlabel("score")
        ax.set_ylabel("judged documents")
        if by_grade:
            ax.legend(fontsize="small")
        else:
            ax.text(0.5, 0.5, "no judged documents", ha="center", transform=ax.transAxes)
    for ax in axes[len(systems) :]:
        ax.set_visible(False)
    return _save(fig, path)


def plot_score_distributions(
    runs: Mapping[str, Run], qrels: Qrels, path: str | Path, bins: int = 30
) -> Path:
    """:func:`plot_score_distributions_grid` with every system in one row."""
    return plot_score_distributions_grid(runs, qrels, path, bins, columns=max(1, len(runs)))


def plot_metric_by_group(
    tables: Mapping[str, SegmentTable], metric: str, path: str | Path, title: str
) -> Path:
    """Grouped bars of ``metric`` per group (x axis), one bar per system, the legend
    outside the axes so it never hides bars however many systems a run has."""
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


def plot_segments(
    segment_tables: Mapping[str, SegmentTable],
    metric: str,
    path: str | Path,
    title: str | None = None,
) -> Path:
    """:func:`plot_metric_by_group` over query segments."""
    return plot_metric_by_group(segment_tables, metric, path, title or f"{metric} by segment")


def plot_quality_scatter(
    points: Sequence[ScatterPoint], path: str | Path, x_label: str, quality_label: str = "nDCG@10"
) -> Path:
    """Quality against latency or throughput: one colour per system (legend outside the
    axes), each point annotated with its backend, so several backends per system with
    long "system (backend)" labels neither overlap nor run off the axes."""
    fig = _new_figure(8.5, 4.2)
    ax = fig.add_subplot()
    systems = list(dict.fromkeys(p.system for p in points))
    for system in systems:
        mine = [p for p in points if p.system == system]
        ax.scatter([p.x for p in mine], [p.quality for p in mine], s=42, label=plot_label(system))
    # Alternate the annotations above and below, in x order, so neighbours do not collide;
    # the right half is written leftwards so no label runs off the axes.
    ordered = sorted(points, key=lambda p: p.x)
    for i, p in enumerate(ordered):
        if p.backend:
            right_half = i >= len(ordered) / 2 and len(ordered) > 1
            ax.annotate(
                plot_label(p.backend),
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
