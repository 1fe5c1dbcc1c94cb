"""What every labelling method implements, and helpers they share."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Protocol, runtime_checkable

from rankdistill.data.records import Document, LabelRecord, Query
from rankdistill.labeling.backends.base import Generation, TokenScores

Corpus = Mapping[str, Document]


@runtime_checkable
class LabelMethod(Protocol):
    """Labels one query's candidates; one :class:`LabelRecord` per query.

    ``candidates`` are (docid, score) pairs, best first: the pre-ranker's scores for
    methods that pre-rank (``uses_prerank``), the first-stage scores otherwise. The
    runner cuts them to ``candidate_depth`` before calling.
    """

    name: str
    uses_prerank: bool
    candidate_depth: int

    def label_query(
        self, query: Query, candidates: list[tuple[str, float]], corpus: Corpus
    ) -> LabelRecord: ...


def response_hash(text: str) -> str:
    """A short stable fingerprint of a raw LLM response, stored instead of the text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def count_problems(problems: Iterable[str]) -> dict[str, int]:
    return dict(sorted(Counter(problems).items()))


def merge_counts(into: dict[str, int], more: Mapping[str, int]) -> None:
    for key, value in more.items():
        into[key] = into.get(key, 0) + value


def add_generation_cost(record: LabelRecord, generations: Iterable[Generation]) -> None:
    """Count calls and tokens of generations (cached ones too: the labelling's cost)."""
    for gen in generations:
        record.llm_calls += 1
        record.prompt_tokens += gen.prompt_tokens
        record.completion_tokens += gen.completion_tokens
        record.raw_response_hashes.append(response_hash(gen.text))


def add_logprob_cost(record: LabelRecord, scores: Iterable[TokenScores]) -> None:
    for item in scores:
        record.llm_calls += 1
        record.prompt_tokens += item.prompt_tokens


def document_text(corpus: Corpus, docid: str) -> str:
    if docid not in corpus:
        raise KeyError(f"candidate document {docid!r} is not in the corpus")
    return corpus[docid].full_text
