"""Settings of export, the rerank service and the inference benchmark (SPEC section 6)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from rankdistill.registry import registered_name
from rankdistill.scoring_windows import WindowConfig

ExportFormatName = registered_name("rankdistill.serving.export:EXPORT_FORMATS")

# Pairs per forward pass. benchmarks/results/inference.json: the int8 export runs 63 pairs/s
# at 16, 55 at 32 and 43 at 64 on an AVX2 CPU; smaller batches pad less and stay in cache.
DEFAULT_BATCH_SIZE = 16


class ExportConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    formats: list[ExportFormatName] = Field(
        default_factory=lambda: ["sentence-transformers", "onnx", "onnx-int8"],
        description="Formats of rankdistill.serving.export.EXPORT_FORMATS.",
    )
    opset: int = 17


class ServeConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    host: str = "127.0.0.1"
    port: int = 8080
    backend: Literal["torch", "onnx", "onnx-int8"] = "onnx-int8"
    api_key_env: str | None = Field(
        None, description="Env var holding the API key; None = no authentication."
    )
    max_documents: int = 1000
    max_document_chars: int = 20000
    max_query_chars: int = 2000
    max_batch_pairs: int = 64
    batch_wait_ms: float = 2.0
    threads: int | None = None
    max_length: int | None = Field(
        None,
        ge=8,
        description="Max tokens of query + document; None = the length the student was "
        "trained and exported with (its rankdistill.json).",
    )
    batch_size: int = Field(
        DEFAULT_BATCH_SIZE, ge=1, description="Pairs per forward pass inside the engine."
    )
    padding_slack: float | None = Field(
        0.1,
        ge=0,
        description="A forward pass also ends before padding would exceed this fraction of "
        "its real tokens (None: fixed batches). Measured on DL 2020 candidates, int8: "
        "20-pair calls 1.45x faster, near the engine's offline rate on sorted pairs.",
    )
    model_name: str | None = Field(
        None, description="Name reported in responses; None = the student's, from its manifest."
    )
    raw_scores: bool = Field(
        False,
        description="Cohere/Jina routes return the raw logit instead of its logistic "
        "(a relevance score in [0, 1]). TEI requests choose with their own raw_scores.",
    )
    windows: WindowConfig = Field(
        default_factory=WindowConfig,
        description="Documents longer than the model's window: windows and aggregation.",
    )
    graceful_timeout_s: float = Field(
        30.0, description="On shutdown, seconds to let in-flight requests finish."
    )


class BenchmarkConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    queries: int = 5
    docs_per_query: int = 100
    threads: int = 2
    backends: list[Literal["torch", "onnx", "onnx-int8", "sentence-transformers"]] = Field(
        default_factory=lambda: ["sentence-transformers", "torch", "onnx", "onnx-int8"]
    )
