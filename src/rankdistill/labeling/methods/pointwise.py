"""Pointwise baselines: one prompt per (query, document).

- :class:`PointwiseYesNoLabeler`: the score is log P(Yes) normalised over {Yes, No},
  read from the next-token log-probabilities (no text generated).
- :class:`PointwiseGradedLabeler`: the LLM answers a 0-3 grade (TREC DL scale); answers
  without a grade are counted as parse problems and the document gets no label.

By default they judge the same top-k + bottom-k documents RRADistill shows its LLM, so
the methods are compared on equal documents; ``select="all"`` judges all K candidates.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal, Unpack

from rankdistill.data.records import LabelRecord, Query
from rankdistill.labeling.backends.base import ChatMessages, LLMBackend, TokenScores
from rankdistill.labeling.methods.base import (
    Corpus,
    TopBottomLabeler,
    TopBottomSettings,
    add_generation_cost,
    add_logprob_cost,
)
from rankdistill.labeling.parsing import parse_grade
from rankdistill.labeling.prompts import PromptTemplate

Selection = Literal["top-bottom", "all"]
NO_GRADE = "no_grade"


def yes_logprob(
    logprobs: dict[str, float],
    yes: Sequence[str],
    no: Sequence[str],
    floored: Sequence[str] = (),
) -> float:
    """log P(yes) within {yes, no}; several spellings of an answer add up (Yes, yes).

    ``floored`` names answers whose value is only an upper bound (an HTTP backend's
    floor for tokens outside the returned top alternatives); they are left out unless
    no exact value exists for that side.
    """

    def total(words: Sequence[str]) -> float:
        exact = [w for w in words if w in logprobs and w not in floored]
        usable = exact or [w for w in words if w in logprobs]
        values = [logprobs[w] for w in usable if math.isfinite(logprobs[w])]
        if not values:
            return -math.inf
        top = max(values)
        return top + math.log(sum(math.exp(v - top) for v in values))

    lp_yes, lp_no = total(yes), total(no)
    if lp_yes == -math.inf and lp_no == -math.inf:
        return math.log(0.5)
    if lp_yes == -math.inf:
        return -1e4  # finite so JSON stays valid; far below any real score
    top = max(lp_yes, lp_no)
    return lp_yes - (top + math.log(math.exp(lp_yes - top) + math.exp(lp_no - top)))


def _floored(scores: TokenScores) -> list[str]:
    prefix = "floored:"
    return [k.removeprefix(prefix) for k, v in scores.extra.items() if k.startswith(prefix) and v]


class _PointwiseBase(TopBottomLabeler):
    """One prompt per judged document: the top-k + bottom-k, or all (``select="all"``)."""

    def __init__(
        self,
        backend: LLMBackend,
        template: PromptTemplate | None = None,
        *,
        select: Selection = "top-bottom",
        **settings: Unpack[TopBottomSettings],
    ) -> None:
        super().__init__(backend, template, **settings)
        self.select: Selection = select

    def _judged(self, candidates: list[tuple[str, float]]) -> list[str]:
        if self.select == "all":
            return [d for d, _ in candidates]
        return self.top_and_bottom(candidates)

    def _prompts(self, query: Query, docids: list[str], corpus: Corpus) -> list[ChatMessages]:
        return [
            self.template.render(query=query.text, passage=self.passage(corpus, d)) for d in docids
        ]

    def _record(
        self, query: Query, docids: list[str], candidates: list[tuple[str, float]]
    ) -> LabelRecord:
        scores = dict(candidates)
        return self.new_record(
            query, docids, extra={"prerank_scores": {d: scores[d] for d in docids}}
        )


class PointwiseYesNoLabeler(_PointwiseBase):
    """Teacher scores log P(Yes | query, passage) from next-token log-probabilities."""

    name = "pointwise"
    default_template = "pointwise-yesno"

    def __init__(
        self,
        backend: LLMBackend,
        template: PromptTemplate | None = None,
        *,
        yes: Sequence[str] = ("Yes", "yes"),
        no: Sequence[str] = ("No", "no"),
        **kwargs: object,
    ) -> None:
        super().__init__(backend, template, **kwargs)  # type: ignore[arg-type]
        self.yes, self.no = tuple(yes), tuple(no)

    def label_query(
        self, query: Query, candidates: list[tuple[str, float]], corpus: Corpus
    ) -> LabelRecord:
        docids = self._judged(candidates)
        record = self._record(query, docids, candidates)
        results = self.backend.next_token_logprobs(
            self._prompts(query, docids, corpus), [*self.yes, *self.no]
        )
        record.scores = {
            d: yes_logprob(r.logprobs, self.yes, self.no, floored=_floored(r))
            for d, r in zip(docids, results, strict=True)
        }
        add_logprob_cost(record, results)
        return record


class PointwiseGradedLabeler(_PointwiseBase):
    """Grades 0-3 from a short generated answer."""

    name = "pointwise-graded"
    default_template = "pointwise-graded"
    default_max_new_tokens = 8

    def label_query(
        self, query: Query, candidates: list[tuple[str, float]], corpus: Corpus
    ) -> LabelRecord:
        docids = self._judged(candidates)
        record = self._record(query, docids, candidates)
        generations = self.generate(self._prompts(query, docids, corpus))
        answers: dict[str, str] = {}
        for docid, generation in zip(docids, generations, strict=True):
            answers[docid] = generation.text
            grade = parse_grade(generation.text)
            if grade is None:
                record.parse_problems[NO_GRADE] = record.parse_problems.get(NO_GRADE, 0) + 1
            else:
                record.grades[docid] = float(grade)
        record.extra["raw_responses"] = answers
        add_generation_cost(record, generations)
        return record
