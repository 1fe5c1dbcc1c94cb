"""CLI: ``rankdistill serve MODEL_DIR``: the HTTP rerank service.

Every option defaults to ``None`` = "not given": the defaults live in
:class:`rankdistill.serving.config.ServeConfig` alone (and are shown in ``--help``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from pydantic import ValidationError

from rankdistill.cli.help import HelpCommand
from rankdistill.cli.options import add_options
from rankdistill.scoring_windows import AGGREGATIONS, WindowConfig
from rankdistill.serving.config import ServeConfig

BACKEND_CHOICES = ("torch", "onnx", "onnx-int8")


def _default(field: str, model: type[Any] = ServeConfig) -> str:
    value = model.model_fields[field].default
    return f" (default: {value})" if value is not None else ""


# (field, type, help) of ServeConfig (first table) and WindowConfig (second): the options
# of `serve`, each named after its field. Not given (None): the config's default.
_SERVE_FIELDS: tuple[tuple[str, Any, str], ...] = (
    ("host", str | None, "Interface to bind (0.0.0.0 = every interface)."),
    ("port", int | None, "TCP port."),
    (
        "backend",
        str | None,
        "Inference backend: torch, onnx or onnx-int8 (exported on the fly when MODEL_DIR "
        "has no such export).",
    ),
    (
        "api_key_env",
        str | None,
        "Name of an environment variable holding the API key; clients send "
        "'Authorization: Bearer KEY' or 'X-API-Key: KEY'. Default: no authentication.",
    ),
    ("max_documents", int | None, "Most documents per request (else 413)."),
    ("max_document_chars", int | None, "Most characters per document (else 413)."),
    ("max_query_chars", int | None, "Most characters in the query (else 413)."),
    (
        "max_batch_pairs",
        int | None,
        "Micro-batching: most pairs collected from concurrent requests per model call.",
    ),
    (
        "batch_wait_ms",
        float | None,
        "Micro-batching: how long to wait for more requests before scoring.",
    ),
    ("batch_size", int | None, "Pairs per forward pass inside the engine."),
    ("threads", int | None, "Intra-op threads of the backend (default: the library's choice)."),
    (
        "max_length",
        int | None,
        "Max tokens of query + document (default: the length the student was trained and "
        "exported with, from its rankdistill.json).",
    ),
    (
        "model_name",
        str | None,
        "Model name reported in responses (default: the student's, from its manifest).",
    ),
)
_WINDOW_FIELDS: tuple[tuple[str, Any, str], ...] = (
    (
        "aggregation",
        str | None,
        "Long documents: score of the best window (max), their mean, or the first window "
        "only (first = truncation).",
    ),
    (
        "window_tokens",
        int | None,
        "Long documents: document tokens per window (default: what fits beside the query "
        "in the max length).",
    ),
    (
        "stride_tokens",
        int | None,
        "Long documents: tokens between window starts (default: half a window).",
    ),
    (
        "max_tokens_per_doc",
        int | None,
        "Document tokens scored at most; requests may lower it.",
    ),
)
_METAVARS = {"api_key_env": "VAR", "model_name": "NAME", "aggregation": "MODE"}
RAW_SCORES_OPT = typer.Option(
    None,
    "--raw-scores/--probabilities",
    help="Cohere/Jina routes: the raw logit instead of its logistic in [0, 1] "
    "(default: probabilities).",
)


def _field_options(
    fields: tuple[tuple[str, Any, str], ...], model: type[Any]
) -> tuple[tuple[str, Any, Any], ...]:
    return tuple(
        (
            name,
            kind,
            typer.Option(None, metavar=_METAVARS.get(name), help=text + _default(name, model)),
        )
        for name, kind, text in fields
    )


CONFIG_OPT = typer.Option(
    None,
    "--config",
    metavar="CONFIG",
    help="A run config (YAML file or shipped name) whose serve section sets the defaults; "
    "the options given here win over it.",
)

_OPTIONS = (
    ("config", str | None, CONFIG_OPT),
    *_field_options(_SERVE_FIELDS, ServeConfig),
    ("raw_scores", bool | None, RAW_SCORES_OPT),
    *_field_options(_WINDOW_FIELDS, WindowConfig),
)


def serve_config(**flags: Any) -> dict[str, Any]:
    """``{"cfg": ServeConfig}`` from the options given (None: not given); a bad value is a
    ``ValueError`` naming the option, printed as one line by the command group."""
    if flags["backend"] is not None and flags["backend"] not in BACKEND_CHOICES:
        raise ValueError(f"--backend: choose one of {', '.join(BACKEND_CHOICES)}")
    if flags["aggregation"] is not None and flags["aggregation"] not in AGGREGATIONS:
        raise ValueError(f"--aggregation: choose one of {', '.join(AGGREGATIONS)}")
    config = flags.pop("config")
    base = _configured(config) if config is not None else {}
    base_windows = base.pop("windows", {})
    given = {k: v for k, v in flags.items() if v is not None}
    windows = {name: given.pop(name) for name, _, _ in _WINDOW_FIELDS if name in given}
    try:
        cfg = ServeConfig(**{**base, **given}, windows=WindowConfig(**{**base_windows, **windows}))
    except ValidationError as exc:
        first = exc.errors()[0]
        option = "--" + str(first["loc"][-1]).replace("_", "-") if first["loc"] else "options"
        raise ValueError(f"{option}: {first['msg']}") from None
    return {"cfg": cfg}


def _configured(config: str) -> dict[str, Any]:
    """The serve section of a run config, as the fields it sets."""
    from rankdistill.config import load_config

    return load_config(config).serve.model_dump(exclude_unset=True)


def serve_command(
    model_dir: Path = typer.Argument(
        ...,
        help="A student directory (or its ONNX export) to serve.",
        exists=True,
        file_okay=False,
    ),
    *,
    cfg: ServeConfig,
) -> None:
    """Serve a re-ranker over HTTP: POST /v1/rerank, /v2/rerank (Cohere, Jina), /rerank
    (also TEI), /health, /metrics; API schemas at /openapi.json."""
    from rankdistill.serving.app import serve

    serve(model_dir, cfg)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the main app."""
    app.command("serve", cls=HelpCommand)(
        add_options(serve_command, ("cfg",), _OPTIONS, serve_config)
    )
