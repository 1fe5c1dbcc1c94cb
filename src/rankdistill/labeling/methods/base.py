"""What every labelling method implements, and helpers they share."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from rankdistill.data.records import Document, LabelRecord, Query
from rankdistill.labeling.backends.base import Generation, TokenScores
from rankdistill.registry import Registry

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


@dataclass(frozen=True)
class MethodEntry:
    """A registered labelling method: its class, its builder and what it can do.

    ``build(cfg, backend, ranker_scorers=..., **_)`` returns the method for a
    :class:`~rankdistill.labeling.config.LabelingConfig`. ``needs_llm``: the runner builds
    an LLM backend for it. ``parses_answers``: it reads free-text LLM answers, so the
    label-quality gates (parse problems, missing rate) apply; score-only methods and
    ranker teachers are exempt. ``uses_ranker_models``: it scores with
    ``labeling.ranker_models``, which the caller builds. ``reads_first_stage``: the
    pipeline hands it the first-stage ranking instead of the pre-ranker's (RankGPT's
    sliding window slides over the first stage, as in its paper). ``depth``: how many
    candidates per query it looks at.
    """

    cls: type
    build: Callable[..., LabelMethod]
    needs_llm: bool = True
    parses_answers: bool = True
    uses_ranker_models: bool = False
    reads_first_stage: bool = False
    depth: Callable[[Any], int] = field(default=lambda cfg: cfg.prerank.candidates)

    @property
    def uses_prerank(self) -> bool:
        """The labelling runner pre-ranks its candidates itself (the class says so)."""
        return bool(self.cls.uses_prerank)


METHODS: Registry[MethodEntry] = Registry("labelling method")


def register_method(name: str, cls: type, build: Callable[..., LabelMethod], **caps: Any) -> None:
    """Make ``labeling.method: NAME`` build ``cls`` through ``build`` (see MethodEntry)."""
    METHODS.register(name, MethodEntry(cls, build, **caps))
