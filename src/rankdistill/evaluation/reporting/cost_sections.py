"""The labelling-cost and latency sections of the run report.

Labelling statistics render generically (:func:`stats_tables`: any nested dict becomes a
table, except those with nothing but zeros, such as the LLM-call counts of a ranker
teacher), with a per-query cost comparison against the sliding-window baseline. Latency
rows become a table (one column per quantity, whichever of its names a row uses) and a
quality-against-latency (or throughput) plot of the rows whose quality this run measured.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from rankdistill.evaluation.reporting.document import (
    Block,
    Section,
    Table,
    figure,
    format_value,
    label,
    omitted,
)
from rankdistill.evaluation.reporting.inputs import ReportInputs
from rankdistill.evaluation.reporting.plots import ScatterPoint, plot_quality_scatter

# Other names of rankdistill.serving.latency.measure_latency's keys (benchmark records
# written before it settled on its names): a row's alias is read as the key itself.
LATENCY_ALIASES: dict[str, str] = {
    "p50_ms": "latency_ms_p50",
    "p99_ms": "latency_ms_p99",
    "pairs_per_s": "pairs_per_second",
}
# Column headers of measure_latency's keys; other keys show with spaces for underscores.
LATENCY_HEADERS: dict[str, str] = {
    "pairs_per_second": "pairs / s",
    "latency_ms_p50": "p50 latency (ms)",
    "latency_ms_p99": "p99 latency (ms)",
}
# Latency-row keys usable as the x axis of the latency / quality plot, in preference order.
LATENCY_X_KEYS: tuple[str, ...] = ("latency_ms_p50", "pairs_per_second")
# x-axis key -> (axis label, caption phrase) of the latency / quality plot.
LATENCY_AXES: dict[str, tuple[str, str]] = {
    "latency_ms_p50": ("median latency per request (ms)", "median latency per request"),
    "pairs_per_second": ("throughput (query-document pairs / s)", "throughput"),
}
# Keys of a labelling-statistics dict read for the per-query cost comparison.
COST_KEYS: dict[str, str] = {
    "llm_calls": "LLM calls",
    "prompt_tokens": "prompt tokens",
    "completion_tokens": "completion tokens",
}


def labeling_section(inputs: ReportInputs) -> Section:
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
    shown = {k: v for k, v in stats.items() if not _all_zero(v)}
    blocks += stats_tables(shown)
    left_out = [label(k) for k in stats if k not in shown]
    if left_out:
        several = len(left_out) > 1
        what = "The " + ", ".join(left_out) + (" tables" if several else " table")
        reason = f"every value in {'them' if several else 'it'} is zero or absent"
        blocks.append(omitted(what, reason))
    return Section(title, blocks)


def _all_zero(value: Any) -> bool:
    """A nested statistics dict with nothing but zeros (or nothing at all) in it."""
    if not isinstance(value, Mapping):
        return False
    leaves = [v for _, v in _flatten(value)]
    return all(v is None or (_is_number(v) and v == 0) for v in leaves)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def stats_tables(stats: Mapping[str, Any]) -> list[Table]:
    """Render a statistics dict generically: its scalars (and lists) as one table, each
    nested dict as a table of its own (deeper levels flattened to dotted keys)."""
    scalars = [[label(k), format_value(v)] for k, v in stats.items() if not isinstance(v, Mapping)]
    tables = [Table(["statistic", "value"], scalars, compact=True)] if scalars else []
    for key, value in stats.items():
        if isinstance(value, Mapping):
            rows = [[k, format_value(v)] for k, v in _flatten(value)] or [["(none)", "–"]]
            tables.append(Table([label(key), "value"], rows, compact=True))
    return tables


def _flatten(mapping: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for key, value in mapping.items():
        name = f"{prefix}{label(key)}"
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


def latency_section(
    inputs: ReportInputs, fig_dir: Path, out_dir: Path, quality: str | None
) -> Section:
    """The benchmark rows, and ``quality`` (a metric) against latency or throughput."""
    title = "Latency"
    if not inputs.latency:
        return Section(title, [omitted("Latency results", "no benchmark rows were given")])
    for i, row in enumerate(inputs.latency):
        if "system" not in row:
            raise ValueError(f"latency row {i} has no 'system' field: {row}")
    rows = [canonical_latency_row(row) for row in inputs.latency]
    columns = _latency_columns(rows)
    cells = [[format_value(row.get(c)) for c in columns] for row in rows]
    header = [LATENCY_HEADERS.get(c, label(c)) for c in columns]
    table = Table(header, cells, labels=2 if "backend" in columns else 1)
    blocks: list[Block] = [table]
    path = fig_dir / "latency_quality.png"
    blocks += _latency_plot(inputs, rows, quality, path, out_dir)
    return Section(title, blocks)


def canonical_latency_row(row: Mapping[str, Any]) -> dict[str, Any]:
    """``row`` with each :data:`LATENCY_ALIASES` key under its canonical name; an alias
    beside its canonical key is dropped when both hold the same value (else both stay)."""
    out: dict[str, Any] = {}
    for key, value in row.items():
        canonical = LATENCY_ALIASES.get(key)
        if canonical is None:
            out[key] = value
        elif canonical not in row:
            out[canonical] = value
        elif not _same_value(row[canonical], value):
            out[key] = value
    return out


def _same_value(a: Any, b: Any) -> bool:
    if _is_number(a) and _is_number(b):
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-12)
    return a == b


def _latency_columns(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    seen: dict[str, None] = {"system": None}
    if any("backend" in row for row in rows):
        seen["backend"] = None
    for row in rows:
        for key in row:
            seen.setdefault(key)
    return list(seen)


def _row_quality(inputs: ReportInputs, row: Mapping[str, Any], quality: str) -> float | None:
    """The row's own ``quality``, else its system's result when the row's backend is the
    one that result was measured with (another backend, e.g. int8, may score otherwise)."""
    value = row.get(quality)
    if value is None and _measured_backend(inputs, row):
        result = inputs.results.get(str(row["system"]))
        value = result.aggregate.get(quality) if result is not None else None
    if value is None or not _is_number(value) or math.isnan(value):
        return None
    return float(value)


def _measured_backend(inputs: ReportInputs, row: Mapping[str, Any]) -> bool:
    backend = row.get("backend")
    return backend is None or inputs.evaluated_backend in (None, backend)


def _latency_plot(
    inputs: ReportInputs,
    rows: Sequence[Mapping[str, Any]],
    quality: str | None,
    path: Path,
    out_dir: Path,
) -> list[Block]:
    """Quality against the first x key all plottable rows share; rows whose quality this
    run did not measure are left out, and the caption names them."""
    usable, unmeasured = [], []
    for row in rows:
        value = _row_quality(inputs, row, quality) if quality is not None else None
        if value is not None:
            usable.append((row, value))
        elif quality is not None and not _measured_backend(inputs, row):
            unmeasured.append(f"{row['system']} ({row.get('backend')})")
    x_key = next((k for k in LATENCY_X_KEYS if usable and all(k in row for row, _ in usable)), None)
    if quality is None or x_key is None:
        reason = f"no row has both {quality or 'a quality metric'} and one of {LATENCY_X_KEYS}"
        if unmeasured:
            reason += f" ({quality} of {', '.join(unmeasured)} was not measured in this run)"
        return [omitted("The latency-vs-quality plot", reason)]
    points = [
        ScatterPoint(str(row["system"]), str(row.get("backend") or ""), float(row[x_key]), q)
        for row, q in usable
    ]
    axis_label, phrase = LATENCY_AXES[x_key]
    plot_quality_scatter(points, path, axis_label, quality)
    caption = f"{quality} against {phrase}"
    if unmeasured:
        caption += (
            f"; not drawn: {', '.join(unmeasured)}, whose {quality} was not measured in this run"
        )
    return [figure(path, out_dir, caption)]
