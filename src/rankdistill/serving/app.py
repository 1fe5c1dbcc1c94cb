"""The HTTP rerank service (FastAPI + uvicorn).

Routes (request and response schemas are published in ``/openapi.json``):

- ``POST /v1/rerank`` (Cohere v1, Jina) and ``POST /v2/rerank`` (Cohere v2)::

      {"model": str?, "query": str, "documents": [str | {"text": str}], "top_n": int?,
       "return_documents": bool, "max_tokens_per_doc": int?}
      -> {"id": str, "model": str,
          "results": [{"index": int, "relevance_score": float, "document": {"text": str}?}],
          "meta": {"billed_units": {...}, "tokens": {...}, "windows_scored": int, ...},
          "usage": {"total_tokens": int}}

- ``POST /rerank``: the same, or the Hugging Face TEI shape (``texts`` instead of
  ``documents``)::

      {"query": str, "texts": [str], "raw_scores": bool, "return_text": bool}
      -> [{"index": int, "score": float, "text": str?}]

Scores: ``relevance_score`` and TEI's ``score`` are the logistic of the model's logit, a
value in [0, 1] as Cohere, Jina and TEI report it (same order as the logit). TEI's
``raw_scores: true`` returns the logit itself; ``ServeConfig.raw_scores`` does so for the
other routes (``meta.score`` says which one a response holds). Results are sorted best
first (ties: lower index first); ``model`` is ignored (one model is served) and the
response names the student from its manifest.

Long documents are scored in overlapping windows and get their best window's score
(:mod:`rankdistill.scoring_windows`, ``ServeConfig.windows``); ``max_tokens_per_doc``
lowers the configured cap per request. ``meta.windows_scored`` (and the
``X-Windows-Scored`` header, TEI included) counts the windows scored.

Errors, every 4xx included (unknown path 404, wrong method 405), are JSON
``{"error": {"type": ..., "message": ...}}``: malformed or too deeply nested JSON -> 400,
wrong types, missing fields or both ``documents`` and ``texts`` -> 422, inputs over a
limit -> 413 (the message names the limit), missing or wrong API key -> 401.
``GET /health`` and ``GET /metrics`` (Prometheus text) need no key.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

from fastapi import FastAPI

from rankdistill.serving.api_errors import (
    HTTP_ERROR_TYPES,
    KNOWN_ENDPOINTS,
    RERANK_ROUTES,
    ApiError,
    install_error_handlers,
)
from rankdistill.serving.batcher import MicroBatcher
from rankdistill.serving.config import ServeConfig
from rankdistill.serving.manifest import served_model_name
from rankdistill.serving.metrics import ServiceMetrics
from rankdistill.serving.openapi import ERROR_RESPONSES, install_openapi
from rankdistill.serving.request_checks import api_key, max_body_bytes
from rankdistill.serving.rerank_service import (
    DOCUMENTS_PER_SEARCH_UNIT,
    WINDOWS_HEADER,
    RerankService,
    sigmoid,
)
from rankdistill.serving.routes import add_rerank_routes, add_status_routes
from rankdistill.serving.schemas import (
    REQUEST_MODELS,
    BilledUnits,
    DocumentObject,
    ErrorBody,
    ErrorResponse,
    Health,
    PositiveInt,
    RerankMeta,
    RerankRequest,
    RerankResponse,
    RerankResult,
    ResultDocument,
    TEIRerankRequest,
    TEIResult,
    TokenCounts,
    Usage,
)
from rankdistill.serving.server import BackgroundServer, load_reranker, uvicorn_config

if TYPE_CHECKING:
    from rankdistill.serving.engine import Reranker

__all__ = [
    "DOCUMENTS_PER_SEARCH_UNIT",
    "ERROR_RESPONSES",
    "HTTP_ERROR_TYPES",
    "KNOWN_ENDPOINTS",
    "REQUEST_MODELS",
    "RERANK_ROUTES",
    "WINDOWS_HEADER",
    "ApiError",
    "BackgroundServer",
    "BilledUnits",
    "DocumentObject",
    "ErrorBody",
    "ErrorResponse",
    "Health",
    "PositiveInt",
    "RerankMeta",
    "RerankRequest",
    "RerankResponse",
    "RerankResult",
    "ResultDocument",
    "TEIRerankRequest",
    "TEIResult",
    "TokenCounts",
    "Usage",
    "create_app",
    "load_reranker",
    "max_body_bytes",
    "serve",
    "sigmoid",
]


def create_app(reranker: Reranker, cfg: ServeConfig | None = None) -> FastAPI:
    """The rerank service around ``reranker`` (see the module docstring for the API)."""
    cfg = cfg or ServeConfig()
    expected_key = api_key(cfg)
    metrics = ServiceMetrics()
    batcher = MicroBatcher(
        reranker.score_pairs,
        max_batch_pairs=cfg.max_batch_pairs,
        batch_wait_ms=cfg.batch_wait_ms,
        on_batch=lambda n: (metrics.batch_pairs.observe(n), metrics.pairs.inc(amount=n)),
    )
    service = RerankService(
        reranker,
        cfg,
        batcher,
        metrics,
        model_name=cfg.model_name or served_model_name(reranker.manifest),
        expected_key=expected_key,
        body_limit=max_body_bytes(cfg),
    )

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await batcher.start()
        try:
            yield
        finally:
            # uvicorn has stopped accepting and waited for open requests; finish the queue.
            await batcher.close(cfg.graceful_timeout_s)

    app = FastAPI(title="rankdistill rerank service", lifespan=lifespan)
    app.state.reranker, app.state.metrics, app.state.batcher = reranker, metrics, batcher
    install_openapi(app, cfg, description=__doc__.split("\n\n")[0] if __doc__ else None)
    install_error_handlers(app, metrics)
    add_rerank_routes(app, service)
    add_status_routes(app, service)
    return app


def serve(model_dir: str | Path, cfg: ServeConfig | None = None) -> None:
    """Load ``model_dir`` on ``cfg.backend`` and serve it until interrupted (Ctrl-C drains)."""
    import uvicorn

    cfg = cfg or ServeConfig()
    reranker = load_reranker(model_dir, cfg)
    uvicorn.Server(uvicorn_config(create_app(reranker, cfg), cfg, "info")).run()
