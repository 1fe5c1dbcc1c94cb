"""Settings of query generation: the method, the query style, the LLM and the filters."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from rankdistill.data.config import DatasetSpec
from rankdistill.data.corpus import CorpusSpec
from rankdistill.labeling.config import BackendConfig
from rankdistill.registry import registered_name
from rankdistill.retrieval.config import RetrievalConfig

# Short head-like keyword queries, natural questions, or long wordy tail questions.
QueryStyle = Literal["keyword", "question", "tail"]
ExampleOrder = Literal["per-passage", "fixed"]


GenerationMethodName = registered_name("rankdistill.generation.methods:GENERATION_METHODS")


class NearDuplicateFilterConfig(BaseModel):
    """Drop a query whose normalised text or token set is (nearly) one already kept."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    jaccard: float = Field(
        0.8,
        gt=0.0,
        le=1.0,
        description="Token-set Jaccard similarity at or above which a query is a duplicate.",
    )


class LogprobFilterConfig(BaseModel):
    """InPars: keep the queries the LLM found most likely (mean token log-probability).

    Off while both settings are ``None``. Queries without a log-probability (a backend that
    does not report one) cannot be judged and are kept; the report counts them.
    """

    model_config = ConfigDict(extra="forbid")

    keep_fraction: float | None = Field(
        None, gt=0.0, le=1.0, description="Keep this best fraction of the scored queries."
    )
    min_logprob: float | None = Field(
        None, description="Keep queries whose mean token log-probability is at least this."
    )

    @property
    def active(self) -> bool:
        return self.keep_fraction is not None or self.min_logprob is not None


class RoundTripFilterConfig(BaseModel):
    """Promptagator: keep a query only if BM25 over the corpus ranks its source in the top k."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    k: int = Field(20, ge=1, description="The source passage must be in the BM25 top k.")
    retrieval: RetrievalConfig = Field(
        default_factory=lambda: RetrievalConfig(method="bm25"),
        description="The first stage's BM25 settings (tokenisation, k1, b).",
    )


class FiltersConfig(BaseModel):
    """Applied in this order: near duplicates, log-probability, round trip, then the budget."""

    model_config = ConfigDict(extra="forbid")

    near_duplicates: NearDuplicateFilterConfig = Field(default_factory=NearDuplicateFilterConfig)
    logprob: LogprobFilterConfig = Field(default_factory=LogprobFilterConfig)
    round_trip: RoundTripFilterConfig = Field(default_factory=RoundTripFilterConfig)


class GenerationConfig(BaseModel):
    """Which passages get queries, how they are written and which ones are kept."""

    model_config = ConfigDict(extra="forbid")

    method: GenerationMethodName = Field(
        "llm", description="llm: few-shot prompt (InPars/Promptagator); crop: spans, no LLM."
    )
    style: QueryStyle = Field(
        "question", description="keyword: short keyword queries; tail: long wordy questions."
    )
    per_passage: int = Field(1, ge=1, description="Queries written per passage.")
    max_passages: int | None = Field(
        None, ge=1, description="Passages drawn (seeded) from the corpus; None: all of them."
    )
    min_passage_words: int = Field(20, ge=1, description="Shorter passages get no query.")
    max_queries: int | None = Field(
        None, ge=1, description="Budget: at most this many queries survive (seeded sample)."
    )
    seed: int = 13
    # The llm method.
    backend: BackendConfig = Field(default_factory=BackendConfig)
    max_new_tokens: int = Field(
        48, ge=1, description="Token limit of an answer: a query is a line, not a paragraph."
    )
    template: str | None = Field(
        None, description="Prompt template id or YAML path; None: generate-<style>."
    )
    shots: int = Field(3, ge=0, description="Few-shot examples per prompt.")
    example_order: ExampleOrder = Field(
        "per-passage",
        description="per-passage: each passage's prompts show a window of its own shuffle of "
        "the examples; fixed: every passage's first prompt shows the same examples, so the "
        "prompts share a long prefix whose KV cache llama.cpp (and vLLM's prefix caching) "
        "reuse: only the passage is read anew.",
    )
    max_doc_words: int = Field(160, ge=1, description="Passages are cut to this many words.")
    max_query_words: int = Field(
        48, ge=1, description="A longer answer is a parse failure, not a query."
    )
    filters: FiltersConfig = Field(default_factory=FiltersConfig)
    # Scale-out and caching, as in labelling.
    passages_per_call: int = Field(
        1,
        ge=1,
        description="Passages whose prompts go to the backend in one call (batching on a GPU, "
        "concurrent requests over HTTP). A killed run may repeat the calls of the batch it "
        "was in; 1 repeats none.",
    )
    num_shards: int = Field(1, ge=1)
    use_ray: bool = False
    ray_address: str | None = None
    cache: bool = True

    @model_validator(mode="after")
    def _backend_reports_logprobs(self) -> GenerationConfig:
        # The InPars filter needs the generation's log-probability: ask the backend for it.
        if self.filters.logprob.active and not self.backend.generation_logprobs:
            self.backend = self.backend.model_copy(update={"generation_logprobs": True})
        return self


class TrainingSourceConfig(BaseModel):
    """One extra source of training queries: a corpus and either its own questions
    (SQuAD, with ``generation: null``) or queries generated for its passages."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(
        pattern=r"^[A-Za-z0-9_.-]+$",
        description="Names the source in summaries and prefixes its query ids (name/qid).",
    )
    corpus: CorpusSpec
    generation: GenerationConfig | None = Field(
        None,
        description="How its queries are written; None: the corpus's own questions (SQuAD).",
    )
    candidates: int = Field(
        30, ge=1, description="BM25 top-k over the source's own corpus labelled per query."
    )
    max_queries: int | None = Field(
        None, ge=1, description="At most this many of its queries (a seeded sample)."
    )
    seed: int = Field(13, description="Seed of the sample of the corpus's own questions.")


class TrainingSourcesConfig(BaseModel):
    """The ``generate`` section: training sources added to ``data.train``, with the
    evaluation sets kept out of them (the run's own dev split always is)."""

    model_config = ConfigDict(extra="forbid")

    sources: list[TrainingSourceConfig] = Field(
        default_factory=list, description="Empty: the generate stage does nothing."
    )
    exclude: list[DatasetSpec] = Field(
        default_factory=list,
        description="Evaluation sets whose docids, passage texts and query texts no source "
        "may hold, beside data.dev (a BEIR folder, rank_llm files...).",
    )

    @field_validator("sources")
    @classmethod
    def _unique_names(cls, sources: list[TrainingSourceConfig]) -> list[TrainingSourceConfig]:
        names = [s.name for s in sources]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"the name {repeated[0]!r} is used twice")
        return sources
