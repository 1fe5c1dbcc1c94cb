"""RankGPT's sliding-window permutation generation (the costly baseline RRADistill avoids).

A window of ``window_size`` documents slides from the back of the first-stage ranking to
the front in steps of ``step``; the LLM re-orders each window, so strong documents bubble
up towards the top. With n candidates it takes ``1 + ceil(max(0, n - w) / s)`` calls per
query (RankGPT: n=100, w=20, s=10 -> 9 calls). After the last window the top ``w - s``
documents are exactly the LLM's choice among all n (each window hands its best
``w - s`` on to the next).
"""

from __future__ import annotations

import math
from typing import Unpack

from rankdistill.data.records import LabelRecord, Query
from rankdistill.labeling.backends.base import LLMBackend
from rankdistill.labeling.methods.base import (
    Corpus,
    LLMLabeler,
    LLMSettings,
    add_generation_cost,
    count_problems,
    merge_counts,
)
from rankdistill.labeling.parsing import parse_ranking
from rankdistill.labeling.prompts import PromptTemplate


def window_starts(num_docs: int, window_size: int, step: int) -> list[int]:
    """Start positions of the windows, back to front; the last one starts at 0.

    (RankGPT's own loop stops as soon as ``start - step < 0``, which can leave the first
    documents out of every window when ``n - w`` is not a multiple of ``s``; here the
    final window is clamped to start at 0 instead.)
    """
    if window_size < 1 or step < 1:
        raise ValueError(f"window_size and step must be >= 1, got {window_size} and {step}")
    if num_docs == 0:
        return []
    starts, start = [], num_docs - window_size
    while start > 0:
        starts.append(start)
        start -= step
    starts.append(0)
    return starts


def sliding_window_calls(num_docs: int, window_size: int, step: int) -> int:
    """LLM calls per query: ``1 + ceil(max(0, n - w) / s)`` (0 for no documents)."""
    if num_docs == 0:
        return 0
    return 1 + math.ceil(max(0, num_docs - window_size) / step)


def apply_permutation(window: list[str], order: list[int]) -> list[str]:
    """Listed documents first in the listed order, then the unlisted ones in their old order
    (RankGPT's ``receive_permutation``)."""
    listed = set(order)
    return [window[i] for i in order] + [d for i, d in enumerate(window) if i not in listed]


class SlidingWindowLabeler(LLMLabeler):
    """RankGPT: a full re-ranking of the first-stage top-n by overlapping windows."""

    name = "slidingwindow"
    uses_prerank = False
    default_template = "rankgpt-window"

    def __init__(
        self,
        backend: LLMBackend,
        template: PromptTemplate | None = None,
        *,
        candidates: int = 100,
        window_size: int = 20,
        step: int = 10,
        **llm_settings: Unpack[LLMSettings],
    ) -> None:
        super().__init__(backend, template, **llm_settings)
        self.candidate_depth = candidates
        self.window_size = window_size
        self.step = step
        window_starts(1, window_size, step)  # validates the sizes now, not mid-run

    def label_query(
        self, query: Query, candidates: list[tuple[str, float]], corpus: Corpus
    ) -> LabelRecord:
        ranking = [d for d, _ in candidates]
        texts = {d: self.passage(corpus, d) for d in ranking}
        record = self.new_record(query, list(ranking))
        raw_responses: list[str] = []
        for start in window_starts(len(ranking), self.window_size, self.step):
            end = min(start + self.window_size, len(ranking))
            window = ranking[start:end]
            prompt = self.template.render(query=query.text, passages=[texts[d] for d in window])
            generation = self.generate([prompt])[0]
            parsed = parse_ranking(generation.text, len(window), generation.finish_reason)
            ranking[start:end] = apply_permutation(window, parsed.order)
            add_generation_cost(record, [generation])
            merge_counts(record.parse_problems, count_problems(parsed.problems))
            raw_responses.append(generation.text)
        n = len(ranking)
        # Rank-based teacher scores: n for the first document down to 1 for the last.
        record.scores = {d: float(n - position) for position, d in enumerate(ranking)}
        record.extra = {
            "final_order": ranking,
            "window_size": self.window_size,
            "step": self.step,
            "raw_responses": raw_responses,
            "prerank_scores": dict(candidates),
        }
        return record
