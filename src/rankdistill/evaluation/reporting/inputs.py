"""What a run report is built from (:class:`ReportInputs`) and what it writes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rankdistill.data.records import Qrels, Run
from rankdistill.evaluation.metrics import EvalResult
from rankdistill.evaluation.significance import TestMethod

# p-value under which a difference from the baseline is marked with SIGNIFICANT_MARK.
DEFAULT_ALPHA = 0.05
SIGNIFICANT_MARK = "†"
DEFAULT_LENGTH_EDGES: tuple[int, ...] = (3, 5, 8)
FIGURES_DIR = "figures"
# Every figure a run report may write; stale ones from an earlier report are removed.
FIGURE_NAMES: tuple[str, ...] = (
    "segments.png",
    "length_buckets.png",
    "score_distributions.png",
    "latency_quality.png",
)


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
    baseline, or a flat dict of per-query costs; ``labeling_seconds_per_query`` the
    labelling's wall time per query, for the headline. ``latency`` rows are benchmark records
    (``system``, ``backend``, :func:`rankdistill.serving.latency.measure_latency`'s keys,
    ...). ``evaluated_backend`` is the backend the ``results`` of the systems were measured
    with: on the latency plot a row of another backend (an int8 export, say) is drawn only
    when it carries its own quality value; ``None`` takes every row's quality from its
    system's results.
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
    labeling_seconds_per_query: float | None = None
    latency: list[dict[str, Any]] | None = None
    evaluated_backend: str | None = "torch"
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
