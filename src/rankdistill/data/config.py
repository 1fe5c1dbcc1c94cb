"""Settings of the data stage: where the queries, corpus, candidates and qrels come from."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

DataFormat = Literal["builtin", "rankllm", "trec", "beir", "jsonl", "irds", "none"]


class DatasetSpec(BaseModel):
    """One split of data.

    - ``builtin``: the small embedded demo collection (no paths needed).
    - ``rankllm``: rank_llm "retrieve results" JSON files (``candidates``; one or more,
      concatenated), with optional ``qrels`` (JSON ``{qid: {docid: grade}}`` or TREC).
    - ``trec``: ``queries`` (TSV ``qid<TAB>text``), ``corpus`` (TSV or JSONL),
      optional ``candidates`` (TREC run) and ``qrels`` (TREC qrels).
    - ``beir``: a BEIR folder in ``path`` (corpus.jsonl, queries.jsonl, qrels/<split>.tsv).
    - ``jsonl``: ``queries`` and ``corpus`` JSONL, optional ``candidates`` run and qrels.
    - ``irds``: an ``ir_datasets`` id in ``path`` (needs the optional ``ir_datasets``
      package and usually the internet).
    - ``none``: no data (a train split made only of ``generate`` sources).
    """

    model_config = ConfigDict(extra="forbid")

    format: DataFormat = "builtin"
    path: str | None = None
    candidates: list[str] = Field(default_factory=list)
    queries: str | None = None
    corpus: str | None = None
    qrels: str | None = None
    split: str = "test"
    max_queries: int | None = Field(None, description="Keep only the first N queries (smoke runs).")
    # Optional query-log frequencies: TSV `query<TAB>count` or JSONL {query, count}.
    query_log: str | None = None


class DataConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    train: DatasetSpec = Field(default_factory=lambda: DatasetSpec(split="train"))
    dev: DatasetSpec = Field(default_factory=lambda: DatasetSpec(split="dev"))
    # Click log for the DisRanker teacher (CPT); ``None`` means simulate clicks.
    clicks: str | None = None


class SelectionConfig(BaseModel):
    """Long-tail query selection (RRADistill). Thresholds are reconstructions."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    by: Literal["auto", "frequency", "length"] = Field(
        "auto", description="auto: frequency when the queries carry one, else length."
    )
    head_percentile: float = Field(90.0, description="Frequency at/above this percentile is head.")
    tail_percentile: float = Field(50.0, description="Frequency below this percentile is tail.")
    tail_min_words: int = Field(6, description="Length rule: at least this many words is tail.")
    head_max_words: int = Field(3, description="Length rule: at most this many words is head.")
    long_queries_are_tail: bool = Field(
        True,
        description=(
            "Frequency rule (reconstructed, SPEC 1): a query of at least tail_min_words words "
            "is tail even when frequent ('rare, long or complexly phrased')."
        ),
    )
    keep_segments: list[Literal["head", "torso", "tail"]] = Field(
        default_factory=lambda: ["head", "torso", "tail"],
        description="Segments used as distillation queries (RRADistill: ['tail']).",
    )
