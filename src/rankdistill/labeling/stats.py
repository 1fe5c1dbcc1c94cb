"""Label statistics (SPEC section 2, step 7): what the teacher did and what it cost.

Missing rate, list lengths, parse problems by kind, agreement with the pre-ranker
(Kendall's tau-b per query, averaged), LLM calls and tokens per query.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from rankdistill.data.records import LabelRecord, Qrels, Run


def _summary(values: Sequence[float]) -> dict[str, float]:
    if not values:
        return {"mean": 0.0, "min": 0.0, "max": 0.0}
    return {"mean": sum(values) / len(values), "min": min(values), "max": max(values)}


def _teacher_targets(record: LabelRecord) -> dict[str, float]:
    return record.targets(prefer="grades" if record.grades else "scores")


def kendall_tau(teacher: dict[str, float], reference: dict[str, float]) -> float | None:
    """Kendall's tau-b over the documents both rank; None when undefined (< 2 docs or a
    constant side)."""
    from scipy.stats import kendalltau

    common = [d for d in teacher if d in reference]
    if len(common) < 2:
        return None
    tau = kendalltau([teacher[d] for d in common], [reference[d] for d in common]).statistic
    return None if tau is None or math.isnan(tau) else float(tau)


def _agreement(
    records: Sequence[LabelRecord], reference_of: Callable[[LabelRecord], Mapping[str, float]]
) -> dict[str, Any]:
    taus = []
    for record in records:
        tau = kendall_tau(_teacher_targets(record), dict(reference_of(record)))
        if tau is not None:
            taus.append(tau)
    return {
        "kendall_tau_mean": sum(taus) / len(taus) if taus else None,
        "queries": len(taus),
    }


def _per_query(total: int, queries: int) -> float:
    return total / queries if queries else 0.0


def label_statistics(
    records: Sequence[LabelRecord], prerank_run: Run | None = None, qrels: Qrels | None = None
) -> dict:
    """Statistics of a set of label records (one per query).

    ``prerank_run`` overrides the pre-ranker scores the records carry
    (``extra["prerank_scores"]``) as the reference of the agreement measure. With
    ``qrels``, the agreement of the labels with the judgments (over judged documents) is
    reported too.
    """
    n = len(records)
    calls = sum(r.llm_calls for r in records)
    prompt_tokens = sum(r.prompt_tokens for r in records)
    completion_tokens = sum(r.completion_tokens for r in records)
    shown = sum(len(r.docids) for r in records)
    missing = sum(len(r.missing) for r in records)
    listwise = [r for r in records if "listed" in r.extra]
    list_lengths = [len(r.extra["listed"]) for r in listwise]
    problems: Counter[str] = Counter()
    for record in records:
        problems.update(record.parse_problems)
    grades: Counter[str] = Counter()
    for record in records:
        grades.update(f"{g:g}" for g in record.grades.values())
    rationale_costs = [r.extra["rationale_cost"] for r in records if "rationale_cost" in r.extra]
    return {
        "queries": n,
        "methods": dict(Counter(r.method for r in records)),
        "teachers": sorted({r.teacher for r in records}),
        "documents_labelled": shown,
        "llm_calls": {"total": calls, "per_query": _per_query(calls, n)},
        "prompt_tokens": {"total": prompt_tokens, "per_query": _per_query(prompt_tokens, n)},
        "completion_tokens": {
            "total": completion_tokens,
            "per_query": _per_query(completion_tokens, n),
        },
        "missing": {
            "total": missing,
            "rate": missing / shown if shown else 0.0,
            "queries_all_missing": sum(
                1 for r in records if r.docids and len(r.missing) == len(r.docids)
            ),
        },
        "list_length": {
            **_summary(list_lengths),
            "histogram": dict(sorted(Counter(list_lengths).items())),
        },
        "parse_problems": dict(sorted(problems.items())),
        "queries_with_parse_problems": sum(1 for r in records if r.parse_problems),
        "grades": dict(sorted(grades.items(), key=lambda kv: float(kv[0]))),
        "agreement_with_prerank": _agreement(
            records,
            (lambda r: prerank_run.get(r.qid, {}))
            if prerank_run is not None
            else (lambda r: r.extra.get("prerank_scores", {})),
        ),
        **(
            {"agreement_with_qrels": _agreement(records, lambda r: qrels.get(r.qid, {}))}
            if qrels is not None
            else {}
        ),
        "rationales": {
            "documents": sum(len(r.rationales) for r in records),
            "llm_calls": sum(c["llm_calls"] for c in rationale_costs),
            "prompt_tokens": sum(c["prompt_tokens"] for c in rationale_costs),
            "completion_tokens": sum(c["completion_tokens"] for c in rationale_costs),
        },
    }


def format_statistics(stats: dict) -> str:
    """A compact human-readable report of :func:`label_statistics`."""
    tau = stats["agreement_with_prerank"]["kendall_tau_mean"]
    methods = ", ".join(f"{k}: {v}" for k, v in stats["methods"].items())
    missing = stats["missing"]
    lines = [
        f"queries labelled        {stats['queries']}  ({methods})",
        f"teacher(s)              {', '.join(stats['teachers'])}",
        f"documents labelled      {stats['documents_labelled']}",
        f"LLM calls / query       {stats['llm_calls']['per_query']:.2f}"
        f"  (total {stats['llm_calls']['total']})",
        f"prompt tokens / query   {stats['prompt_tokens']['per_query']:.1f}",
        f"output tokens / query   {stats['completion_tokens']['per_query']:.1f}",
        f"missing rate            {missing['rate']:.3f}  ({missing['total']} documents; "
        f"{missing['queries_all_missing']} queries with nothing listed)",
    ]
    lengths = stats["list_length"]
    if lengths["histogram"]:
        lines.append(
            f"listed per query        mean {lengths['mean']:.2f}, min {lengths['min']:g}, "
            f"max {lengths['max']:g}"
        )
    problems = stats["parse_problems"]
    lines.append(
        "parse problems          "
        + (", ".join(f"{k}: {v}" for k, v in problems.items()) if problems else "none")
        + f"  ({stats['queries_with_parse_problems']} queries)"
    )
    if stats["grades"]:
        grades = ", ".join(f"{k}: {v}" for k, v in stats["grades"].items())
        lines.append(f"grades                  {grades}")
    lines.append(
        "Kendall tau vs prerank  "
        + ("n/a" if tau is None else f"{tau:.3f}")
        + f"  ({stats['agreement_with_prerank']['queries']} queries)"
    )
    if "agreement_with_qrels" in stats:
        agreement = stats["agreement_with_qrels"]
        value = agreement["kendall_tau_mean"]
        lines.append(
            "Kendall tau vs qrels    "
            + ("n/a" if value is None else f"{value:.3f}")
            + f"  ({agreement['queries']} queries)"
        )
    if stats["rationales"]["documents"]:
        r = stats["rationales"]
        lines.append(f"rationales              {r['documents']} ({r['llm_calls']} calls)")
    return "\n".join(lines)
