"""The service's error answers: ``{"error": {"type", "message", ...}}`` for every 4xx/5xx."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from rankdistill.serving.metrics import ServiceMetrics

logger = logging.getLogger("rankdistill.serving.app")

RERANK_ROUTES = ("/rerank", "/v1/rerank", "/v2/rerank")
KNOWN_ENDPOINTS = (*RERANK_ROUTES, "/health", "/metrics")
HTTP_ERROR_TYPES = {404: "not_found", 405: "method_not_allowed"}


class ApiError(Exception):
    """An error answered as ``{"error": {"type", "message", ...}}`` with ``status``."""

    def __init__(self, status: int, kind: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.kind, self.message, self.extra = status, kind, message, extra

    def response(self) -> JSONResponse:
        body = {"error": {"type": self.kind, "message": self.message, **self.extra}}
        headers = {"WWW-Authenticate": "Bearer"} if self.status == 401 else None
        return JSONResponse(body, status_code=self.status, headers=headers)


def too_large(what: str, value: int, limit_name: str, limit: int) -> ApiError:
    """A 413 whose message and ``limit`` field name the limit exceeded."""
    return ApiError(
        413, "payload_too_large", f"{what}: {value} > {limit_name}={limit}", limit=limit_name
    )


def validation_message(errors: Sequence[Any]) -> str:
    """The first few pydantic errors on one line, each with its field path."""
    parts = []
    for err in list(errors)[:5]:
        loc = ".".join(str(p) for p in err["loc"]) or "body"
        parts.append(f"{loc}: {err['msg']}")
    return "; ".join(parts)


def install_error_handlers(app: FastAPI, metrics: ServiceMetrics) -> None:
    """JSON errors for Starlette's 404/405 and FastAPI's 422; a middleware that counts
    requests (and rerank latency) and turns an unhandled exception into a JSON 500."""

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> Response:
        kind = HTTP_ERROR_TYPES.get(exc.status_code, "http_error")
        response = ApiError(exc.status_code, kind, str(exc.detail)).response()
        if exc.headers:  # e.g. Allow on a 405
            response.headers.update(exc.headers)
        return response

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> Response:
        return ApiError(422, "invalid_request", validation_message(exc.errors())).response()

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
        if endpoint in RERANK_ROUTES:
            metrics.latency.observe(time.perf_counter() - start)
        return response
