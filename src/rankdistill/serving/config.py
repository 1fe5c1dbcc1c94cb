"""Settings of export, the rerank service and the inference benchmark (SPEC section 6)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class ExportConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    formats: list[Literal["onnx", "onnx-int8", "sentence-transformers"]] = Field(
        default_factory=lambda: ["sentence-transformers", "onnx", "onnx-int8"]
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
    max_length: int = 256
    batch_size: int = Field(32, description="Pairs per forward pass inside the engine.")
    model_name: str | None = Field(
        None, description="Name reported in responses; default: the model directory's name."
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
