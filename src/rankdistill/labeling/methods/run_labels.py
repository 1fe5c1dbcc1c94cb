"""Labels from an existing ranking (``labeling.method: run``).

The user's ranking (a TREC run or rank_llm output, see
:mod:`rankdistill.labeling.run_input`) plays the LLM's listwise answer: of a query's K
candidates, the ones the run ranks within its cut are "listed" in the run's order and
graded by position with the same rule as RRADistill's listwise labels
(:func:`~rankdistill.labeling.grading.grades_from_order`); the candidates it ranks lower,
or not at all, are "missing", i.e. hard negatives (grade 0), or unlabelled with
``missing_as_negative: false``. Scores equal the grades, so score-based losses and the
teacher's dev ranking see the run's order too.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rankdistill.data.records import LabelRecord, Query
from rankdistill.labeling.backends.base import LLMBackend
from rankdistill.labeling.config import LabelingConfig
from rankdistill.labeling.grading import GradingScheme, grades_from_order
from rankdistill.labeling.methods.base import Corpus, label_record
from rankdistill.labeling.run_input import Ranking, RunFormat, read_ranking

# parse_problems key of a query whose ranking names none of its candidates.
NO_RANKED_CANDIDATE = "no_ranked_candidate"


def labels_from_order(
    listed: Sequence[str],
    shown: Sequence[str],
    scheme: GradingScheme = "linear",
    missing_as_negative: bool = True,
) -> tuple[dict[str, float], list[str]]:
    """(grades, missing) of ``shown`` documents of which ``listed`` came out, best first.

    The listwise rule: the listed documents are graded by position, the other shown
    documents are missing (grade 0 when ``missing_as_negative``, no grade otherwise).
    Grades are keyed in ``listed`` order, then the missing ones in ``shown`` order.
    """
    index = {docid: i for i, docid in enumerate(shown)}
    unknown = [d for d in listed if d not in index]
    if unknown:
        raise ValueError(f"listed documents {unknown[:3]} are not among the shown ones")
    by_index = grades_from_order([index[d] for d in listed], len(shown), scheme, False)
    grades = {shown[i]: g for i, g in by_index.items()}
    listed_set = set(listed)
    missing = [d for d in shown if d not in listed_set]
    if missing_as_negative:
        grades.update(dict.fromkeys(missing, 0.0))
    return grades, missing


class RunLabeler:
    """Grades each query's candidates from a given ranking; no LLM is called."""

    name = "run"
    uses_prerank = False

    def __init__(
        self,
        ranking: Ranking,
        *,
        source: str = "run",
        candidates: int = 100,
        cut: int | None = None,
        grading: GradingScheme = "linear",
        missing_as_negative: bool = True,
    ) -> None:
        if cut is not None and cut < 1:
            raise ValueError(f"cut must be >= 1 or None, got {cut}")
        self.ranking = ranking
        self.source = source
        self.candidate_depth = candidates
        self.cut = cut
        self.grading: GradingScheme = grading
        self.missing_as_negative = missing_as_negative

    @classmethod
    def from_file(cls, path: str | Path, fmt: RunFormat = "auto", **kwargs: Any) -> RunLabeler:
        return cls(read_ranking(path, fmt), source=str(path), **kwargs)

    @property
    def model_id(self) -> str:
        return f"run:{Path(self.source).name}"

    def label_query(
        self, query: Query, candidates: list[tuple[str, float]], corpus: Corpus
    ) -> LabelRecord:
        if query.qid not in self.ranking:
            raise ValueError(f"{self.source}: the ranking has no entry for query {query.qid!r}")
        shown = [d for d, _ in candidates]
        shown_set = set(shown)
        run_order = self.ranking[query.qid]
        ranked = [d for d in run_order if d in shown_set]
        listed = ranked[: self.cut] if self.cut is not None else ranked
        # Missing documents keep the run's order, then the candidates' order: ties in the
        # scores then break the way the run ranks them.
        ranked_set = set(ranked)
        order = ranked + [d for d in shown if d not in ranked_set]
        grades, missing = labels_from_order(listed, order, self.grading, self.missing_as_negative)
        run_rank = {d: r for r, d in enumerate(run_order, start=1) if d in shown_set}
        return label_record(
            query,
            order,
            self.name,
            self.model_id,
            grades=grades,
            scores=dict(grades),
            missing=missing,
            parse_problems={} if ranked else {NO_RANKED_CANDIDATE: 1},
            extra={
                "source": self.source,
                "listed": listed,
                "run_rank": run_rank,
                "outside_candidates": len(run_order) - len(ranked),
                "cut": self.cut,
                "grading": self.grading,
                "missing_as_negative": self.missing_as_negative,
            },
        )


def build_run_labeler(
    cfg: LabelingConfig, backend: LLMBackend | None = None, **_: Any
) -> RunLabeler:
    """The ``run`` method from a :class:`~rankdistill.labeling.config.LabelingConfig`."""
    options = cfg.run
    if options.path is None:
        raise ValueError(
            "labeling.method 'run' needs labeling.run.path (a TREC run or rank_llm file)"
        )
    return RunLabeler.from_file(
        options.path,
        options.format,
        candidates=cfg.prerank.candidates,
        cut=options.cut,
        grading=cfg.grading,
        missing_as_negative=cfg.missing_as_negative,
    )
