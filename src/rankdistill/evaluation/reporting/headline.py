"""The report's headline: what the teacher costs per query and what a student costs.

One sentence each, read from the labelling statistics (LLM calls and tokens, or the
documents a ranker teacher scores) and the latency rows (the fastest measured backend of
each student), so a reader sees the point of distillation before any table.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rankdistill.evaluation.reporting.cost_sections import canonical_latency_row, per_query_costs
from rankdistill.evaluation.reporting.document import Paragraph, Section
from rankdistill.evaluation.reporting.inputs import ReportInputs

TITLE = "Cost per query"


def teacher_sentence(stats: Mapping[str, Any], seconds_per_query: float | None = None) -> str:
    """The teacher's cost per training query, in one sentence."""
    teachers = ", ".join(stats.get("teachers") or []) or "the teacher"
    queries = stats.get("queries") or 0
    costs = per_query_costs(stats)
    timing = (
        f", {seconds_per_query * 1000:,.0f} ms per query to pre-rank and label on this machine"
        if seconds_per_query is not None
        else ""
    )
    if costs.get("llm_calls"):
        return (
            f"Teacher ({teachers}): {costs['llm_calls']:.1f} LLM calls and "
            f"{costs.get('total_tokens', 0.0):,.0f} tokens per query "
            f"({costs.get('prompt_tokens', 0.0):,.0f} prompt, "
            f"{costs.get('completion_tokens', 0.0):,.0f} completion){timing}."
        )
    documents = (stats.get("documents_labelled") or 0) / queries if queries else 0.0
    return (
        f"Teacher ({teachers}): no LLM calls; it scores {documents:,.0f} documents "
        f"per query{timing}."
    )


def student_sentence(system: str, rows: Sequence[Mapping[str, Any]]) -> str | None:
    """A student's serving cost per query at its fastest measured backend, in one sentence."""
    timed = [r for r in rows if r.get("system") == system and r.get("latency_ms_p50")]
    if not timed:
        return None
    best = min(timed, key=lambda r: float(r["latency_ms_p50"]))
    per_query = ""
    if best.get("pairs") and best.get("queries"):
        per_query = f" for {best['pairs'] / best['queries']:,.0f} documents"
    backend = f" ({best['backend']})" if best.get("backend") else ""
    return (
        f"Student {system}: {float(best['latency_ms_p50']):,.1f} ms per query{per_query} "
        f"at the median{backend}, with no LLM at serving time."
    )


def _students(inputs: ReportInputs, rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """The report's students, or (when not named) every benchmarked system but the teacher."""
    if inputs.students is not None:
        return inputs.students
    systems = dict.fromkeys(str(r["system"]) for r in rows if "system" in r)
    return [s for s in systems if s != inputs.teacher_name]


def headline_section(inputs: ReportInputs) -> Section | None:
    """The cost sentences, or ``None`` when the run has neither labels nor latency rows."""
    sentences: list[str] = []
    if inputs.labeling_stats:
        sentences.append(teacher_sentence(inputs.labeling_stats, inputs.labeling_seconds_per_query))
    rows = [canonical_latency_row(r) for r in inputs.latency or []]
    for system in _students(inputs, rows):
        sentence = student_sentence(system, rows)
        if sentence is not None:
            sentences.append(sentence)
    if not sentences:
        return None
    return Section(TITLE, [Paragraph(s) for s in sentences])
