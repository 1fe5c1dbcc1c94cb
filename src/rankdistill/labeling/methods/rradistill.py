"""RRADistill listwise labels: one LLM call per query over the pre-ranker's top-k + bottom-k.

SPEC section 2, steps 2-5: the 2k selected documents are shuffled with a seed (so the
LLM cannot copy the pre-ranker's order), numbered and shown with the query in a single
call. The LLM lists the relevant identifiers best first; listed documents get grades by
position, left-out documents become hard negatives (grade 0), or, with
``missing_as_negative=False``, get no label and are excluded from training targets. When
the answer was cut off by the token limit the unreached documents get no label either
(unless ``truncated_missing_as_negative``).
"""

from __future__ import annotations

import random
from typing import Unpack

from rankdistill.data.records import LabelRecord, Query
from rankdistill.labeling.backends.base import LLMBackend
from rankdistill.labeling.grading import GradingScheme, grades_from_order
from rankdistill.labeling.methods.base import (
    Corpus,
    TopBottomLabeler,
    TopBottomSettings,
    add_generation_cost,
    count_problems,
)
from rankdistill.labeling.parsing import TRUNCATED, parse_ranking
from rankdistill.labeling.prompts import PromptTemplate


def shuffled(docids: list[str], seed: int, qid: str) -> list[str]:
    """A permutation that depends only on (seed, qid): stable across processes and resumes."""
    order = list(docids)
    # A str seed is hashed with SHA-512 by `random`, independent of PYTHONHASHSEED.
    random.Random(f"{seed}:{qid}").shuffle(order)
    return order


class RRADistillLabeler(TopBottomLabeler):
    """One listwise call per query; grades from list positions; missing = hard negatives."""

    name = "rradistill"
    default_template = "rradistill-listwise"

    def __init__(
        self,
        backend: LLMBackend,
        template: PromptTemplate | None = None,
        *,
        seed: int = 13,
        grading: GradingScheme = "linear",
        missing_as_negative: bool = True,
        shuffle: bool = True,
        truncated_missing_as_negative: bool = False,
        **settings: Unpack[TopBottomSettings],
    ) -> None:
        super().__init__(backend, template, **settings)
        self.seed = seed
        self.grading: GradingScheme = grading
        self.missing_as_negative = missing_as_negative
        self.shuffle = shuffle
        self.truncated_missing_as_negative = truncated_missing_as_negative

    def label_query(
        self, query: Query, candidates: list[tuple[str, float]], corpus: Corpus
    ) -> LabelRecord:
        prerank_scores = dict(candidates)
        selected = self.top_and_bottom(candidates)
        shown = shuffled(selected, self.seed, query.qid) if self.shuffle else selected
        passages = [self.passage(corpus, d) for d in shown]
        generation = self.generate([self.template.render(query=query.text, passages=passages)])[0]
        parsed = parse_ranking(generation.text, len(shown), generation.finish_reason)
        # (reconstructed) An answer cut off by the token limit says nothing about the
        # documents it did not reach, so by default they are not made hard negatives.
        truncated = TRUNCATED in parsed.problems
        negatives = self.missing_as_negative and (
            self.truncated_missing_as_negative or not truncated
        )
        grades = grades_from_order(parsed.order, len(shown), self.grading, negatives)
        record = self.new_record(
            query,
            shown,
            grades={shown[i]: g for i, g in grades.items()},
            missing=[shown[i] for i in parsed.missing],
            parse_problems=count_problems(parsed.problems),
            extra={
                "listed": [shown[i] for i in parsed.order],
                "repeated": [shown[i] for i in parsed.repeated],
                "unknown_ids": parsed.unknown,
                "raw_response": parsed.raw,
                "finish_reason": generation.finish_reason,
                "prerank_scores": {d: prerank_scores[d] for d in shown},
                "top_docids": selected[: self.top_k],
                "grading": self.grading,
                "missing_as_negative": negatives,
            },
        )
        add_generation_cost(record, [generation])
        return record
