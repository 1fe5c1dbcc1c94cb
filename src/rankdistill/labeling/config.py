"""Settings of LLM (or any-ranker) teacher labelling (SPEC section 2)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from rankdistill.labeling.cascade import CascadeOptions
from rankdistill.labeling.run_input import RunLabelOptions
from rankdistill.registry import registered_name

# The pre-ranker setting that keeps the first-stage order (no scorer is built).
FIRST_STAGE = "first-stage"


BackendKind = registered_name("rankdistill.labeling.backends:BACKENDS")
MethodName = registered_name("rankdistill.labeling.methods:METHODS")
PrerankScorer = registered_name("rankdistill.scoring:SCORERS", extra=(FIRST_STAGE,))


class BackendConfig(BaseModel):
    """Which LLM runs the prompts, and how it is reached."""

    model_config = ConfigDict(extra="forbid")

    kind: BackendKind = Field(
        "transformers", description="A backend of rankdistill.labeling.backends.BACKENDS."
    )
    # A hub id, a local directory, a GGUF file, or a packaged alias (see rankdistill.resources).
    model: str = "smollm2-135m"
    gguf_file: str | None = None
    device: str = "auto"
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    batch_size: int = 4
    max_new_tokens: int = 96
    temperature: float = 0.0
    generation_logprobs: bool = Field(
        False,
        description="Ask for the generated text's log-probability (Generation.logprob) where "
        "the backend can give it; off by default: some hosted models reject the request.",
    )
    context_length: int = 8192
    n_threads: int | None = Field(
        None, ge=1, description="llama.cpp threads; None: the physical cores this process may use."
    )
    # OpenAI-compatible HTTP servers.
    base_url: str = "http://127.0.0.1:8000/v1"
    api_key_env: str = Field("OPENAI_API_KEY", description="Env var holding the key; never logged.")
    concurrency: int = 8
    timeout_s: float = 60.0
    max_retries: int = 5
    token_limit_field: Literal["max_tokens", "max_completion_tokens"] = Field(
        "max_tokens",
        description=(
            "Request field carrying the answer's token limit: OpenAI's newest models want "
            "max_completion_tokens; vLLM, llama.cpp and older servers read max_tokens."
        ),
    )
    # vLLM.
    tensor_parallel_size: int = 1
    gpu_memory_utilization: float = 0.9


class PrerankConfig(BaseModel):
    """Pre-ranking of the K first-stage candidates before the one listwise call."""

    model_config = ConfigDict(extra="forbid")

    scorer: PrerankScorer = Field(
        "bi-encoder",
        description="first-stage (keep its order) or a kind of rankdistill.scoring.SCORERS.",
    )
    model: str = "minilm-l6"
    candidates: int = Field(50, description="K first-stage candidates per query.")
    top_k: int = 10
    bottom_k: int = 10
    batch_size: int = 32

    def scorer_spec(self) -> str | None:
        """The scorer spec of the pre-ranker; ``None`` keeps the first-stage order."""
        if self.scorer == FIRST_STAGE:
            return None
        from rankdistill.scoring import SCORERS

        return (
            self.scorer if not SCORERS[self.scorer].takes_model else f"{self.scorer}:{self.model}"
        )


class LabelingConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    method: MethodName = Field(
        "rradistill", description="A method of rankdistill.labeling.methods.METHODS."
    )
    backend: BackendConfig = Field(default_factory=BackendConfig)
    prerank: PrerankConfig = Field(default_factory=PrerankConfig)
    template: str | None = Field(None, description="Prompt template id; None = method default.")
    seed: int = 13
    max_doc_words: int = Field(100, description="Passages are cut to this many words in prompts.")
    # RRADistill label construction (reconstructed defaults).
    missing_as_negative: bool = True
    grading: Literal["linear", "reciprocal", "binary"] = "linear"
    truncated_missing_as_negative: bool = Field(
        False,
        description="Also make unlisted documents hard negatives when the answer was cut off "
        "by the token limit (reconstructed default: no, they get no label).",
    )
    shuffle: bool = Field(True, description="Shuffle the 2k shown documents (seeded per query).")
    listwise_max_new_tokens: int | None = Field(
        None, description="Token limit of listwise answers; None = backend.max_new_tokens."
    )
    # Pointwise baselines.
    pointwise_select: Literal["top-bottom", "all"] = Field(
        "top-bottom", description="Judge the pre-ranker's top-k + bottom-k, or all K candidates."
    )
    pointwise_max_new_tokens: int = Field(8, description="Token limit of graded 0-3 answers.")
    # RankGPT sliding window.
    window_size: int = 20
    step: int = 10
    sliding_candidates: int = 100
    # Rationales for RRA-GPT.
    rationales: bool = False
    rationale_backend: BackendConfig | None = None
    rationale_max_new_tokens: int = 48
    # "ranker" teachers: a fusion of non-LLM scorers (bi-encoder, BM25, a student...).
    ranker_models: list[str] = Field(default_factory=lambda: ["minilm-l6", "bm25"])
    ranker_fusion: Literal["rrf", "zscore"] = "zscore"
    rrf_k: int = Field(60, description="k of reciprocal rank fusion, 1 / (k + rank).")
    run: RunLabelOptions = Field(default_factory=RunLabelOptions)
    cascade: CascadeOptions = Field(default_factory=CascadeOptions)
    # Scale-out.
    num_shards: int = 1
    use_ray: bool = False
    ray_address: str | None = None
    cache: bool = True
    # Label-quality gates (methods that parse LLM answers only; not ranker teachers).
    max_parse_failure_rate: float = Field(
        0.5,
        ge=0.0,
        le=1.0,
        description="Stop when more than this share of queries had answers that needed repair.",
    )
    max_missing_rate: float = Field(
        0.95,
        ge=0.0,
        le=1.0,
        description="Stop when more than this share of the documents shown went unlisted.",
    )
