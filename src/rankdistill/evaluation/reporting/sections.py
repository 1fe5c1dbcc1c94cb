"""The sections of the run report, each built from :class:`ReportInputs` into blocks.

A section whose inputs are absent is one line saying why (:func:`omitted`), so a partial
run still gets a report. The labelling-cost and latency sections are in
:mod:`rankdistill.evaluation.reporting.cost_sections`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from rankdistill.evaluation.agreement import kendall_tau, topk_overlap
from rankdistill.evaluation.reporting.comparisons import (
    POOLED_TEST,
    compare_with_baseline,
    is_pooled,
)
from rankdistill.evaluation.reporting.cost_sections import labeling_section, latency_section
from rankdistill.evaluation.reporting.document import (
    Block,
    Code,
    Paragraph,
    Section,
    Table,
    figure,
    format_metric,
    format_p_value,
    omitted,
)
from rankdistill.evaluation.reporting.headline import headline_section
from rankdistill.evaluation.reporting.inputs import FIGURES_DIR, SIGNIFICANT_MARK, ReportInputs
from rankdistill.evaluation.reporting.plots import (
    plot_label,
    plot_metric_by_group,
    plot_score_distributions_grid,
)
from rankdistill.evaluation.reporting.tables import (
    metric_headers,
    metrics_of,
    results_rows,
    segment_rows,
)
from rankdistill.evaluation.segments import length_segments, per_segment
from rankdistill.evaluation.significance import TestResult


def quality_metric(inputs: ReportInputs) -> str | None:
    """``inputs.quality_metric`` if a system has it, else the first metric there is."""
    metrics = [m for r in inputs.results.values() for m in (r.metrics or list(r.aggregate))]
    if inputs.quality_metric in metrics:
        return inputs.quality_metric
    return metrics[0] if metrics else None


def _notes_section(inputs: ReportInputs) -> Section | None:
    if not inputs.notes:
        return None
    return Section("Notes", [Paragraph(note, inline_code=True) for note in inputs.notes])


def _comparisons(inputs: ReportInputs) -> tuple[dict[str, dict[str, TestResult]], str | None]:
    """Paired tests vs the baseline, or why there are none."""
    if inputs.baseline is None:
        return {}, "no baseline system was given"
    if inputs.baseline not in inputs.results:
        return {}, f"the baseline {inputs.baseline!r} is not among the evaluated systems"
    if len(inputs.results) < 2:
        return {}, "there is no other system to compare with the baseline"
    comparisons = compare_with_baseline(
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
    metrics = metrics_of(inputs.results)
    pooled = [m for m in metrics if is_pooled(m, inputs.results)]
    blocks.append(Paragraph(_significance_note(inputs, pooled), style="note"))
    p_rows = [
        [name] + [_difference_cell(tests.get(m)) for m in metrics]
        for name, tests in comparisons.items()
    ]
    blocks.append(Paragraph(_difference_intro(inputs.baseline, pooled)))
    blocks.append(Table(["system", *metric_headers(metrics, inputs.results)], p_rows))
    return Section("Metrics", blocks)


def _significance_note(inputs: ReportInputs, pooled: list[str]) -> str:
    test = _test_name(inputs.significance_method)
    if pooled:
        names = ", ".join(pooled)
        test += (
            f" on per-query values; for {names}, a {_test_name(POOLED_TEST)} of the pooled value"
        )
    return (
        f"{SIGNIFICANT_MARK} marks p < {inputs.alpha} against the baseline "
        f"'{inputs.baseline}' ({test} over the queries both systems were evaluated on)."
    )


def _difference_intro(baseline: str | None, pooled: list[str]) -> str:
    text = f"Difference (system − '{baseline}') and p-value, per metric"
    if not pooled:
        return text + ": the mean per-query difference."
    names = ", ".join(pooled)
    return (
        f"{text}: for {names}, the difference of the pooled values (total concordant over "
        "total discordant pairs, as in the table above), tested by swapping the two "
        "systems' pair counts within each query; for the others, the mean per-query "
        "difference."
    )


def _test_name(method: str) -> str:
    return {
        "ttest": "paired t-test",
        "wilcoxon": "Wilcoxon signed-rank test",
        "permutation": "paired permutation test",
    }.get(method, method)


def _difference_cell(test: TestResult | None) -> str:
    if test is None:
        return "–"
    p_value = format_p_value(test.p_value)
    return f"{test.mean_diff:+.4f} (p{'' if p_value.startswith('<') else '='}{p_value})"


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
    rows = segment_rows(tables, metrics)
    header = ["system", column, "queries", *metric_headers(metrics, inputs.results)]
    blocks: list[Block] = [Table(header, rows, labels=2)]
    quality = quality_metric(inputs)
    if quality is not None:
        plot_title = f"{quality} by {column}"
        plot_metric_by_group(
            {plot_label(n): t for n, t in tables.items()}, quality, figure_path, plot_title
        )
        blocks.append(figure(figure_path, out_dir, plot_title))
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
    return Section(title, [figure(path, out_dir, caption)])


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


def _config_section(inputs: ReportInputs) -> Section:
    title = "Configuration"
    if not inputs.config_yaml:
        return Section(title, [omitted("The resolved configuration", "none was given")])
    return Section(title, [Code(inputs.config_yaml, "Resolved configuration (YAML)", "yaml")])


def build_sections(inputs: ReportInputs, out_dir: Path) -> list[Section]:
    """All sections in display order (writes the figures under ``out_dir/figures``)."""
    fig_dir = out_dir / FIGURES_DIR
    sections = [
        headline_section(inputs),
        _notes_section(inputs),
        _metrics_section(inputs),
        _segments_section(inputs, fig_dir, out_dir),
        _length_section(inputs, fig_dir, out_dir),
        _distribution_section(inputs, fig_dir, out_dir),
        _agreement_section(inputs),
        labeling_section(inputs),
        latency_section(inputs, fig_dir, out_dir, quality_metric(inputs)),
        _config_section(inputs),
    ]
    return [s for s in sections if s is not None]
