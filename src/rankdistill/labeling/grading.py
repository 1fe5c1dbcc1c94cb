"""Graded labels from a listwise answer (SPEC section 2, step 5).

The LLM lists the relevant documents best first and leaves the others out. Listed
documents get a grade from their position; documents it left out are RRADistill's hard
negatives (grade 0), unless the switch is off, in which case they get no label at all
and drop out of the training targets.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Literal

from rankdistill.data.records import LabelRecord, Qrels, rank_docs

GradingScheme = Literal["linear", "reciprocal", "binary"]


def _linear(position: int, num_listed: int) -> float:
    # (reconstructed) The first of k listed documents gets k, the last gets 1, so every
    # listed document stays above the unlisted ones (grade 0).
    return float(num_listed - position)


def _reciprocal(position: int, num_listed: int) -> float:
    return 1.0 / (position + 1)


def _binary(position: int, num_listed: int) -> float:
    return 1.0


GRADING_SCHEMES: dict[str, Callable[[int, int], float]] = {
    "linear": _linear,
    "reciprocal": _reciprocal,
    "binary": _binary,
}


def grades_from_order(
    order: Sequence[int],
    num_shown: int,
    scheme: GradingScheme = "linear",
    missing_as_negative: bool = True,
) -> dict[int, float]:
    """Grades keyed by 0-based index of the shown documents.

    ``order`` is the parsed list (0-based indices, best first, no repeats). Shown
    documents not in it get 0.0 when ``missing_as_negative`` and are absent otherwise.
    """
    if scheme not in GRADING_SCHEMES:
        raise ValueError(f"unknown grading scheme {scheme!r}; use one of {sorted(GRADING_SCHEMES)}")
    if len(set(order)) != len(order):
        raise ValueError(f"order has repeated indices: {list(order)}")
    bad = [i for i in order if not 0 <= i < num_shown]
    if bad:
        raise ValueError(f"order indices {bad} are outside 0..{num_shown - 1}")
    grade = GRADING_SCHEMES[scheme]
    grades = {index: grade(position, len(order)) for position, index in enumerate(order)}
    if missing_as_negative:
        for index in range(num_shown):
            grades.setdefault(index, 0.0)
    return grades


# (reconstructed) Share of a score-only teacher's ranking graded 3, 2 and 1 (cumulative):
# the top 10% get 3, the next 20% 2, the next 30% 1, the rest 0.
PSEUDO_GRADE_SHARES = (0.1, 0.3, 0.6)


def grades_by_rank(ranked: Sequence[str], cuts: Sequence[float]) -> dict[str, int]:
    """0-3 grades from an order, best first: a document at 0-based rank r gets
    ``3 - (how many cuts are <= r)``, so ``cuts=(2, 5, 10)`` gives ranks 0-1 grade 3,
    2-4 grade 2, 5-9 grade 1 and the rest 0."""
    return {d: 3 - sum(r >= c for c in cuts) for r, d in enumerate(ranked)}


def pseudo_grades(record: LabelRecord) -> dict[str, int]:
    """0-3 grades from a teacher's labels, to simulate clicks when there is no log.

    Graded labels are rounded; score-only teachers are cut by rank share
    (:data:`PSEUDO_GRADE_SHARES`).
    """
    if record.grades:
        return {d: round(g) for d, g in record.grades.items()}
    ranked = [d for d, _ in rank_docs(record.scores)]
    return grades_by_rank(ranked, [share * len(ranked) for share in PSEUDO_GRADE_SHARES])


def grades_from_labels(labels: Iterable[LabelRecord]) -> Qrels:
    """:func:`pseudo_grades` of every record, as a ``Qrels`` (to simulate clicks)."""
    return {r.qid: pseudo_grades(r) for r in labels}
