"""What every labelling method implements, and helpers they share."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, TypedDict, Unpack, runtime_checkable

from rankdistill.data.records import Document, LabelRecord, Query
from rankdistill.labeling.backends.base import ChatMessages, Generation, LLMBackend, TokenScores
from rankdistill.labeling.prerank import select_top_bottom
from rankdistill.labeling.prompts import PromptTemplate, clean_passage, load_template
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


def label_record(
    query: Query, docids: list[str], method: str, teacher: str, **fields: Any
) -> LabelRecord:
    """A new record of ``method``'s labels for ``query`` over ``docids``; ``fields`` fill the
    rest of :class:`LabelRecord` (grades, scores, extra, ...)."""
    return LabelRecord(
        qid=query.qid, query=query.text, docids=docids, method=method, teacher=teacher, **fields
    )


class LLMSettings(TypedDict, total=False):
    """The keyword arguments every :class:`LLMLabeler` takes, whatever its method."""

    max_doc_words: int | None
    max_new_tokens: int | None
    temperature: float


class TopBottomSettings(LLMSettings, total=False):
    """The keyword arguments of a :class:`TopBottomLabeler`."""

    candidates: int
    top_k: int
    bottom_k: int


class LLMLabeler:
    """What the methods that prompt an LLM share: the backend, the prompt template, how
    passages are cut and how answers are generated.

    ``template`` defaults to the class's ``default_template`` and ``max_new_tokens`` to its
    ``default_max_new_tokens``. ``max_new_tokens`` and ``temperature`` apply to generated
    answers; a method that only reads next-token log-probabilities leaves them unused.
    """

    name: ClassVar[str]
    default_template: ClassVar[str]
    default_max_new_tokens: ClassVar[int] = 160

    def __init__(
        self,
        backend: LLMBackend,
        template: PromptTemplate | None = None,
        *,
        max_doc_words: int | None = 100,
        max_new_tokens: int | None = None,
        temperature: float = 0.0,
    ) -> None:
        self.backend = backend
        self.template = template or load_template(self.default_template)
        self.max_doc_words = max_doc_words
        self.max_new_tokens = (
            self.default_max_new_tokens if max_new_tokens is None else max_new_tokens
        )
        self.temperature = temperature

    def passage(self, corpus: Corpus, docid: str) -> str:
        """The document as the prompt shows it: one line, cut to ``max_doc_words`` words."""
        return clean_passage(document_text(corpus, docid), self.max_doc_words)

    def generate(self, prompts: list[ChatMessages]) -> list[Generation]:
        return self.backend.generate(prompts, self.max_new_tokens, self.temperature)

    def new_record(self, query: Query, docids: list[str], **fields: Any) -> LabelRecord:
        """A record naming this method, its model and its template (see :func:`label_record`)."""
        return label_record(
            query,
            docids,
            self.name,
            self.backend.model_id,
            template_id=self.template.id,
            template_version=self.template.version,
            **fields,
        )


class TopBottomLabeler(LLMLabeler):
    """An LLM method that shows its LLM the pre-ranker's top-k and bottom-k of the K
    (``candidates``) candidates: confident positives and confident negatives.

    RRADistill does so, and the pointwise baselines judge the same documents by default,
    so the methods are compared on equal documents.
    """

    uses_prerank = True

    def __init__(
        self,
        backend: LLMBackend,
        template: PromptTemplate | None = None,
        *,
        candidates: int = 50,
        top_k: int = 10,
        bottom_k: int = 10,
        **llm_settings: Unpack[LLMSettings],
    ) -> None:
        super().__init__(backend, template, **llm_settings)
        self.candidate_depth = candidates
        self.top_k = top_k
        self.bottom_k = bottom_k

    def top_and_bottom(self, candidates: list[tuple[str, float]]) -> list[str]:
        """The top-k then the bottom-k of the pre-ranked ``candidates``."""
        return select_top_bottom(candidates, self.top_k, self.bottom_k)


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
