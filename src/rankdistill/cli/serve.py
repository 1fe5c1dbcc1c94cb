"""CLI: ``rankdistill serve MODEL_DIR``: the HTTP rerank service.

Every option defaults to ``None`` = "not given": the defaults live in
:class:`rankdistill.serving.config.ServeConfig` alone (and are shown in ``--help``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from pydantic import ValidationError

from rankdistill.scoring_windows import AGGREGATIONS, WindowConfig
from rankdistill.serving.config import ServeConfig

BACKEND_CHOICES = ("torch", "onnx", "onnx-int8")


def _default(field: str, model: type[Any] = ServeConfig) -> str:
    value = model.model_fields[field].default
    return f" (default: {value})" if value is not None else ""


def serve_command(
    model_dir: Path = typer.Argument(
        ...,
        help="A student directory (or its ONNX export) to serve.",
        exists=True,
        file_okay=False,
    ),
    host: str | None = typer.Option(
        None, help="Interface to bind (0.0.0.0 = every interface)." + _default("host")
    ),
    port: int | None = typer.Option(None, help="TCP port." + _default("port")),
    backend: str | None = typer.Option(
        None,
        help="Inference backend: torch, onnx or onnx-int8 (exported on the fly "
        "when MODEL_DIR has no such export)." + _default("backend"),
    ),
    api_key_env: str | None = typer.Option(
        None,
        help="Name of an environment variable holding the API key; clients send "
        "'Authorization: Bearer KEY' or 'X-API-Key: KEY'. Default: no authentication.",
    ),
    max_documents: int | None = typer.Option(
        None, help="Most documents per request (else 413)." + _default("max_documents")
    ),
    max_document_chars: int | None = typer.Option(
        None, help="Most characters per document (else 413)." + _default("max_document_chars")
    ),
    max_query_chars: int | None = typer.Option(
        None, help="Most characters in the query (else 413)." + _default("max_query_chars")
    ),
    max_batch_pairs: int | None = typer.Option(
        None,
        help="Micro-batching: most pairs collected from concurrent requests per model call."
        + _default("max_batch_pairs"),
    ),
    batch_wait_ms: float | None = typer.Option(
        None,
        help="Micro-batching: how long to wait for more requests before scoring."
        + _default("batch_wait_ms"),
    ),
    batch_size: int | None = typer.Option(
        None, help="Pairs per forward pass inside the engine." + _default("batch_size")
    ),
    threads: int | None = typer.Option(
        None, help="Intra-op threads of the backend (default: the library's choice)."
    ),
    max_length: int | None = typer.Option(
        None,
        help="Max tokens of query + document (default: the length the student was "
        "trained and exported with, from its rankdistill.json).",
    ),
    model_name: str | None = typer.Option(
        None, help="Model name reported in responses (default: the student's, from its manifest)."
    ),
    raw_scores: bool | None = typer.Option(
        None,
        "--raw-scores/--probabilities",
        help="Cohere/Jina routes: the raw logit instead of its logistic in [0, 1] "
        "(default: probabilities).",
    ),
    aggregation: str | None = typer.Option(
        None,
        help="Long documents: score of the best window (max), their mean, or the first "
        "window only (first = truncation)." + _default("aggregation", WindowConfig),
    ),
    window_tokens: int | None = typer.Option(
        None,
        help="Long documents: document tokens per window (default: what fits beside the "
        "query in the max length).",
    ),
    stride_tokens: int | None = typer.Option(
        None, help="Long documents: tokens between window starts (default: half a window)."
    ),
    max_tokens_per_doc: int | None = typer.Option(
        None,
        help="Document tokens scored at most; requests may lower it."
        + _default("max_tokens_per_doc", WindowConfig),
    ),
) -> None:
    """Serve a re-ranker over HTTP: POST /v1/rerank, /v2/rerank (Cohere, Jina), /rerank
    (also TEI), /health, /metrics; API schemas at /openapi.json."""
    from rankdistill.serving.app import serve

    if backend is not None and backend not in BACKEND_CHOICES:
        raise typer.BadParameter(
            f"choose one of {', '.join(BACKEND_CHOICES)}", param_hint="--backend"
        )
    if aggregation is not None and aggregation not in AGGREGATIONS:
        raise typer.BadParameter(
            f"choose one of {', '.join(AGGREGATIONS)}", param_hint="--aggregation"
        )
    given = {
        "host": host,
        "port": port,
        "backend": backend,
        "api_key_env": api_key_env,
        "max_documents": max_documents,
        "max_document_chars": max_document_chars,
        "max_query_chars": max_query_chars,
        "max_batch_pairs": max_batch_pairs,
        "batch_wait_ms": batch_wait_ms,
        "batch_size": batch_size,
        "threads": threads,
        "max_length": max_length,
        "model_name": model_name,
        "raw_scores": raw_scores,
    }
    windows = {
        "aggregation": aggregation,
        "window_tokens": window_tokens,
        "stride_tokens": stride_tokens,
        "max_tokens_per_doc": max_tokens_per_doc,
    }
    try:
        cfg = ServeConfig(
            **{k: v for k, v in given.items() if v is not None},
            windows=WindowConfig(**{k: v for k, v in windows.items() if v is not None}),
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        option = "--" + str(first["loc"][-1]).replace("_", "-") if first["loc"] else "options"
        raise typer.BadParameter(first["msg"], param_hint=option) from None
    serve(model_dir, cfg)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the main app."""
    app.command("serve")(serve_command)
