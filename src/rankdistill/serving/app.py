"""The HTTP rerank service (FastAPI + uvicorn).

``POST /rerank`` accepts the request shape of the Cohere and Jina rerank APIs::

    {"query": str, "documents": [str | {"text": str}], "top_n": int | null,
     "return_documents": bool}
    -> {"id": str, "model": str,
        "results": [{"index": int, "relevance_score": float, "document": {"text": str}?}],
        "meta": {...}}

and the Hugging Face TEI shape (``texts`` instead of ``documents``)::

    {"query": str, "texts": [str], "raw_scores": bool, "return_text": bool}
    -> [{"index": int, "score": float, "text": str?}]

Results are sorted by score, best first (ties: lower index first). ``relevance_score`` is
the model's raw score (a logit, not calibrated to [0, 1]); TEI's ``score`` is its sigmoid
unless ``raw_scores`` is true, as in TEI. An empty ``documents`` list is answered with
200 and empty results.

Errors are JSON ``{"error": {"type": ..., "message": ...}}``: malformed JSON -> 400,
wrong types or missing fields -> 422, inputs over a limit -> 413 (the message names the
limit), missing or wrong API key -> 401. ``GET /health`` and ``GET /metrics`` (Prometheus
text) need no key.
"""

from __future__ import annotations

import contextlib
import hmac
import json
import logging
import math
import os
import threading
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr, ValidationError

from rankdistill.serving.batcher import MicroBatcher
from rankdistill.serving.config import ServeConfig
from rankdistill.serving.engine import rank_indices
from rankdistill.serving.metrics import CONTENT_TYPE, ServiceMetrics

if TYPE_CHECKING:
    import uvicorn

    from rankdistill.serving.engine import Reranker

logger = logging.getLogger(__name__)

KNOWN_ENDPOINTS = ("/rerank", "/health", "/metrics")


class DocumentObject(BaseModel):
    model_config = ConfigDict(extra="ignore")
    text: StrictStr


class RerankRequest(BaseModel):
    """Cohere / Jina rerank request (unknown fields such as ``model`` are ignored)."""

    model_config = ConfigDict(extra="ignore")
    query: StrictStr
    documents: list[StrictStr | DocumentObject]
    top_n: StrictInt | None = Field(None, ge=1)
    return_documents: StrictBool = False


class TEIRerankRequest(BaseModel):
    """Hugging Face text-embeddings-inference rerank request."""

    model_config = ConfigDict(extra="ignore")
    query: StrictStr
    texts: list[StrictStr]
    raw_scores: StrictBool = False
    return_text: StrictBool = False


class ApiError(Exception):
    """An error answered as ``{"error": {"type", "message", ...}}`` with ``status``."""

    def __init__(self, status: int, kind: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.kind, self.message, self.extra = status, kind, message, extra

    def response(self) -> JSONResponse:
        body = {"error": {"type": self.kind, "message": self.message, **self.extra}}
        headers = {"WWW-Authenticate": "Bearer"} if self.status == 401 else None
        return JSONResponse(body, status_code=self.status, headers=headers)


def _too_large(what: str, value: int, limit_name: str, limit: int) -> ApiError:
    return ApiError(
        413, "payload_too_large", f"{what}: {value} > {limit_name}={limit}", limit=limit_name
    )


def _validation_message(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        loc = ".".join(str(p) for p in err["loc"]) or "body"
        parts.append(f"{loc}: {err['msg']}")
    return "; ".join(parts)


def max_body_bytes(cfg: ServeConfig) -> int:
    """The largest body that can hold a request within the limits (UTF-8, JSON escapes)."""
    chars = cfg.max_documents * (cfg.max_document_chars + 32) + cfg.max_query_chars
    return 6 * chars + 65536


def _parse_request(raw: bytes) -> RerankRequest | TEIRerankRequest:
    try:
        body = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ApiError(400, "invalid_json", f"request body is not valid JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise ApiError(422, "invalid_request", "request body must be a JSON object")
    model = TEIRerankRequest if "texts" in body and "documents" not in body else RerankRequest
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        raise ApiError(422, "invalid_request", _validation_message(exc)) from exc


def _check_limits(cfg: ServeConfig, query: str, texts: list[str]) -> None:
    if len(texts) > cfg.max_documents:
        raise _too_large("too many documents", len(texts), "max_documents", cfg.max_documents)
    if len(query) > cfg.max_query_chars:
        raise _too_large(
            "query too long (characters)", len(query), "max_query_chars", cfg.max_query_chars
        )
    for i, text in enumerate(texts):
        if len(text) > cfg.max_document_chars:
            raise _too_large(
                f"documents[{i}] too long (characters)",
                len(text),
                "max_document_chars",
                cfg.max_document_chars,
            )


def _api_key(cfg: ServeConfig) -> str | None:
    if not cfg.api_key_env:
        return None
    key = os.environ.get(cfg.api_key_env, "")
    if not key:
        raise ValueError(
            f"api_key_env={cfg.api_key_env!r} but that environment variable is empty or unset"
        )
    return key


def _check_key(request: Request, expected: str | None) -> None:
    if expected is None:
        return
    given = request.headers.get("x-api-key")
    auth = request.headers.get("authorization", "")
    if given is None and auth.lower().startswith("bearer "):
        given = auth[7:].strip()
    if given is None or not hmac.compare_digest(given.encode(), expected.encode()):
        raise ApiError(
            401,
            "unauthorized",
            "missing or wrong API key (send 'Authorization: Bearer KEY' or 'X-API-Key: KEY')",
        )


def _sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)


def create_app(reranker: Reranker, cfg: ServeConfig | None = None) -> FastAPI:
    """The rerank service around ``reranker`` (see the module docstring for the API)."""
    cfg = cfg or ServeConfig()
    expected_key = _api_key(cfg)
    model_name = cfg.model_name or Path(reranker.model_dir).name or reranker.name
    metrics = ServiceMetrics()
    batcher = MicroBatcher(
        reranker.score_pairs,
        max_batch_pairs=cfg.max_batch_pairs,
        batch_wait_ms=cfg.batch_wait_ms,
        on_batch=lambda n: (metrics.batch_pairs.observe(n), metrics.pairs.inc(amount=n)),
    )
    body_limit = max_body_bytes(cfg)

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

    @app.middleware("http")
    async def count_requests(request: Request, call_next: Any) -> Response:
        start = time.perf_counter()
        try:
            response = await call_next(request)
        except Exception:  # never let an exception out as a bare 500 page
            logger.exception("unhandled error on %s", request.url.path)
            response = ApiError(500, "internal_error", "internal error").response()
        path = request.url.path
        endpoint = path if path in KNOWN_ENDPOINTS else "other"
        metrics.requests.inc(endpoint, str(response.status_code))
        if endpoint == "/rerank":
            metrics.latency.observe(time.perf_counter() - start)
        return response

    @app.post("/rerank", response_model=None)
    async def rerank(request: Request) -> Any:
        try:
            _check_key(request, expected_key)
            declared = request.headers.get("content-length")
            if declared is not None and declared.isdigit() and int(declared) > body_limit:
                raise _too_large(
                    "request body too large (bytes)", int(declared), "max_body_bytes", body_limit
                )
            raw = await request.body()
            if len(raw) > body_limit:
                raise _too_large(
                    "request body too large (bytes)", len(raw), "max_body_bytes", body_limit
                )
            parsed = _parse_request(raw)
            if isinstance(parsed, TEIRerankRequest):
                texts = list(parsed.texts)
            else:
                texts = [d if isinstance(d, str) else d.text for d in parsed.documents]
            _check_limits(cfg, parsed.query, texts)
            scores = await batcher.score([(parsed.query, t) for t in texts])
        except ApiError as err:
            return err.response()
        order = rank_indices(scores)
        if isinstance(parsed, TEIRerankRequest):
            return [
                {
                    "index": i,
                    "score": scores[i] if parsed.raw_scores else _sigmoid(scores[i]),
                    **({"text": texts[i]} if parsed.return_text else {}),
                }
                for i in order
            ]
        results = []
        for i in order[: parsed.top_n]:
            item: dict[str, Any] = {"index": i, "relevance_score": scores[i]}
            if parsed.return_documents:
                item["document"] = {"text": texts[i]}
            results.append(item)
        return {
            "id": str(uuid.uuid4()),
            "model": model_name,
            "results": results,
            "meta": {
                "backend": reranker.backend.name,
                "documents": len(texts),
                "max_length": reranker.max_length,
            },
        }

    @app.get("/health")
    async def health() -> JSONResponse:
        worker = batcher._worker
        ok = worker is not None and not worker.done()
        body = {
            "status": "ok" if ok else "unavailable",
            "model": model_name,
            "kind": reranker.kind,
            "backend": reranker.backend.name,
        }
        return JSONResponse(body, status_code=200 if ok else 503)

    @app.get("/metrics")
    async def prometheus_metrics() -> Response:
        return Response(metrics.render(), media_type=CONTENT_TYPE)

    return app


def _uvicorn_config(app: FastAPI, cfg: ServeConfig, log_level: str) -> uvicorn.Config:
    import uvicorn

    return uvicorn.Config(
        app,
        host=cfg.host,
        port=cfg.port,
        log_level=log_level,
        timeout_graceful_shutdown=math.ceil(cfg.graceful_timeout_s),
    )


def serve(model_dir: str | Path, cfg: ServeConfig | None = None) -> None:
    """Load ``model_dir`` on ``cfg.backend`` and serve it until interrupted (Ctrl-C drains)."""
    import uvicorn

    from rankdistill.serving.engine import Reranker

    cfg = cfg or ServeConfig()
    reranker = Reranker.load(
        model_dir,
        backend=cfg.backend,
        threads=cfg.threads,
        max_length=cfg.max_length,
        batch_size=cfg.batch_size,
    )
    uvicorn.Server(_uvicorn_config(create_app(reranker, cfg), cfg, "info")).run()


class BackgroundServer:
    """A real uvicorn server in a thread (tests, benchmarks): ``with BackgroundServer(...)``."""

    def __init__(self, app: FastAPI, cfg: ServeConfig, log_level: str = "warning") -> None:
        import uvicorn

        self.server = uvicorn.Server(_uvicorn_config(app, cfg, log_level))
        self.url = f"http://{cfg.host}:{cfg.port}"
        self._thread = threading.Thread(
            target=self.server.run, name="rankdistill-serve", daemon=True
        )

    def __enter__(self) -> BackgroundServer:
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the rerank service did not start on {self.url}")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True  # graceful: finish open requests, then lifespan end
        self._thread.join(timeout=60)
