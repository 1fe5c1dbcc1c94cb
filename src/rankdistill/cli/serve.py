"""CLI: ``rankdistill serve MODEL_DIR``: the HTTP rerank service."""

from __future__ import annotations

from pathlib import Path

import typer

BACKEND_CHOICES = ("torch", "onnx", "onnx-int8")


def serve_command(
    model_dir: Path = typer.Argument(
        ...,
        help="A student directory (or its ONNX export) to serve.",
        exists=True,
        file_okay=False,
    ),
    host: str = typer.Option("127.0.0.1", help="Interface to bind (0.0.0.0 = every interface)."),
    port: int = typer.Option(8080, help="TCP port."),
    backend: str = typer.Option(
        "onnx-int8",
        help="Inference backend: torch, onnx or onnx-int8 (exported on the fly "
        "when MODEL_DIR has no such export).",
    ),
    api_key_env: str | None = typer.Option(
        None,
        help="Name of an environment variable holding the API key; clients send "
        "'Authorization: Bearer KEY' or 'X-API-Key: KEY'. Default: no authentication.",
    ),
    max_documents: int = typer.Option(1000, help="Most documents per request (else 413)."),
    max_document_chars: int = typer.Option(20000, help="Most characters per document (else 413)."),
    max_query_chars: int = typer.Option(2000, help="Most characters in the query (else 413)."),
    max_batch_pairs: int = typer.Option(
        64, help="Micro-batching: most pairs collected from concurrent requests per model call."
    ),
    batch_wait_ms: float = typer.Option(
        2.0, help="Micro-batching: how long to wait for more requests before scoring."
    ),
    batch_size: int = typer.Option(32, help="Pairs per forward pass inside the engine."),
    threads: int | None = typer.Option(
        None, help="Intra-op threads of the backend (default: the library's choice)."
    ),
    max_length: int = typer.Option(256, help="Max tokens of query + document."),
    model_name: str | None = typer.Option(
        None, help="Model name reported in responses (default: the directory name)."
    ),
) -> None:
    """Serve a re-ranker over HTTP: POST /rerank (Cohere/Jina/TEI shapes), /health, /metrics."""
    from rankdistill.serving.app import serve
    from rankdistill.serving.config import ServeConfig

    if backend not in BACKEND_CHOICES:
        raise typer.BadParameter(
            f"choose one of {', '.join(BACKEND_CHOICES)}", param_hint="--backend"
        )
    cfg = ServeConfig(
        host=host,
        port=port,
        backend=backend,
        api_key_env=api_key_env,
        max_documents=max_documents,
        max_document_chars=max_document_chars,
        max_query_chars=max_query_chars,
        max_batch_pairs=max_batch_pairs,
        batch_wait_ms=batch_wait_ms,
        batch_size=batch_size,
        threads=threads,
        max_length=max_length,
        model_name=model_name,
    )
    serve(model_dir, cfg)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the main app."""
    app.command("serve")(serve_command)
