"""The generation methods: one registry (:data:`GENERATION_METHODS`), read by the config,
the CLI's choices and the runner.

A method writes the queries of one passage at a time (:class:`PassageQueryWriter`). So
that generation resumes, shards and scales out on Ray exactly as labelling does, a writer
is also a labelling method (``label_query``): one passage's queries travel as a
:class:`~rankdistill.data.records.LabelRecord` keyed by the passage's docid, with the
calls, tokens and parse problems it cost, which the labelling runner's store, shard merge
and Ray rows carry unchanged.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from rankdistill.data.records import Document, LabelRecord, Query
from rankdistill.generation.records import GeneratedQuery
from rankdistill.labeling.backends.base import Generation, LLMBackend
from rankdistill.labeling.methods.base import Corpus, add_generation_cost, count_problems
from rankdistill.registry import Registry

if TYPE_CHECKING:
    from rankdistill.generation.config import GenerationConfig
    from rankdistill.generation.llm import FewShotExample

RECORD_METHOD_PREFIX = "generate-"


@dataclass
class PassageQueries:
    """What a writer made of one passage: its queries, the answers it could not use and
    the LLM calls it cost."""

    queries: list[GeneratedQuery]
    problems: list[str] = field(default_factory=list)
    generations: list[Generation] = field(default_factory=list)


class PassageQueryWriter(ABC):
    """Writes training queries for one passage at a time."""

    name: str
    teacher: str
    template_id: str | None = None
    template_version: str | None = None
    # The labelling runner's view: the passage is the one "candidate" of its own record.
    uses_prerank = False
    candidate_depth = 1

    @abstractmethod
    def write(self, doc: Document) -> PassageQueries:
        """The queries of ``doc`` (each with ``source_docid == doc.docid``)."""

    def write_many(self, docs: Sequence[Document]) -> list[PassageQueries]:
        """The queries of several passages (an LLM writer sends them in one call)."""
        return [self.write(doc) for doc in docs]

    def record(self, doc: Document, made: PassageQueries) -> LabelRecord:
        """One passage's queries as one store record, with the calls they cost."""
        record = LabelRecord(
            qid=doc.docid,
            query="",
            docids=[doc.docid],
            method=RECORD_METHOD_PREFIX + self.name,
            teacher=self.teacher,
            template_id=self.template_id,
            template_version=self.template_version,
            parse_problems=count_problems(made.problems),
            extra={"queries": [q.to_dict() for q in made.queries]},
        )
        add_generation_cost(record, made.generations)
        return record

    def records(self, docs: Sequence[Document]) -> list[LabelRecord]:
        return [self.record(d, made) for d, made in zip(docs, self.write_many(docs), strict=True)]

    def label_query(
        self, query: Query, candidates: list[tuple[str, float]], corpus: Corpus
    ) -> LabelRecord:
        """The passage ``query.qid`` written as one store record."""
        doc = corpus[query.qid]
        return self.record(doc, self.write(doc))


def record_queries(record: LabelRecord) -> list[GeneratedQuery]:
    """The generated queries a store record holds."""
    return [GeneratedQuery.from_dict(q) for q in record.extra.get("queries", [])]


class CropWriter(PassageQueryWriter):
    """Spans cropped from the passage (``generation.crop``): no LLM, deterministic."""

    name = "crop"
    teacher = "crop"

    def __init__(self, cfg: GenerationConfig) -> None:
        from rankdistill.generation.crop import CropOptions

        self.options = CropOptions(
            style=cfg.style, per_passage=cfg.per_passage, min_passage_words=cfg.min_passage_words
        )
        self.seed = cfg.seed

    def write(self, doc: Document) -> PassageQueries:
        from rankdistill.generation.crop import crop_queries

        queries = crop_queries({doc.docid: doc}, [doc.docid], self.options, self.seed)
        missing = self.options.per_passage - len(queries)
        return PassageQueries(queries, problems=["no_span"] * missing)


WriterFactory = Callable[
    ["GenerationConfig", LLMBackend | None, "Sequence[FewShotExample] | None"],
    PassageQueryWriter,
]


@dataclass(frozen=True)
class GenerationMethod:
    """A registry entry: how to build the method's writer, and whether it needs an LLM."""

    build: WriterFactory
    needs_llm: bool
    help: str


def _build_crop(
    cfg: GenerationConfig,
    backend: LLMBackend | None,
    examples: Sequence[FewShotExample] | None,
) -> PassageQueryWriter:
    return CropWriter(cfg)


def _build_llm(
    cfg: GenerationConfig,
    backend: LLMBackend | None,
    examples: Sequence[FewShotExample] | None,
) -> PassageQueryWriter:
    from rankdistill.generation.llm import LLMQueryWriter

    if backend is None:
        raise ValueError("generation method 'llm' needs an LLM backend")
    return LLMQueryWriter.from_config(cfg, backend, examples)


GENERATION_METHODS: Registry[GenerationMethod] = Registry("generation method")
GENERATION_METHODS.register(
    "llm",
    GenerationMethod(_build_llm, True, "few-shot LLM prompt (InPars / Promptagator)"),
)
GENERATION_METHODS.register(
    "crop", GenerationMethod(_build_crop, False, "sentence spans of the passage, no LLM")
)


def build_writer(
    cfg: GenerationConfig,
    backend: LLMBackend | None = None,
    examples: Sequence[FewShotExample] | None = None,
) -> PassageQueryWriter:
    """The configured method's writer."""
    return GENERATION_METHODS.require(cfg.method).build(cfg, backend, examples)
