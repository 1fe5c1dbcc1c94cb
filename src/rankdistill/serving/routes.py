"""The service's routes: the rerank family (Cohere v1/v2, Jina, TEI), health and metrics."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from rankdistill.serving.metrics import CONTENT_TYPE
from rankdistill.serving.openapi import ERROR_RESPONSES, request_body
from rankdistill.serving.rerank_service import RerankService
from rankdistill.serving.schemas import Health, RerankResponse, TEIResult

_COHERE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"model": RerankResponse, "description": "Documents by relevance, best first."},
    **ERROR_RESPONSES,
}
_ANY_SHAPE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "model": RerankResponse | list[TEIResult],
        "description": "Cohere/Jina response, or a TEI list for a TEI request.",
    },
    **ERROR_RESPONSES,
}

# path, route name (the OpenAPI operation id's stem), summary, whether TEI requests pass
_RERANK_ROUTES = (
    ("/v1/rerank", "rerank_v1", "Rerank (Cohere v1 / Jina)", False),
    ("/v2/rerank", "rerank_v2", "Rerank (Cohere v2)", False),
    ("/rerank", "rerank", "Rerank (Cohere / Jina / TEI)", True),
)


def _rerank_endpoint(service: RerankService, allow_tei: bool) -> Any:
    # The body is read by hand (limits before parsing), so the endpoint takes only the request.
    async def endpoint(request: Request) -> Response:
        return await service.handle(request, allow_tei=allow_tei)

    return endpoint


def add_rerank_routes(app: FastAPI, service: RerankService) -> None:
    """The three rerank routes; only ``/rerank`` also takes the TEI request shape."""
    for path, name, summary, allow_tei in _RERANK_ROUTES:
        app.add_api_route(
            path,
            _rerank_endpoint(service, allow_tei),
            methods=["POST"],
            name=name,
            response_model=None,
            responses=_ANY_SHAPE_RESPONSES if allow_tei else _COHERE_RESPONSES,
            openapi_extra=request_body(
                *(("RerankRequest", "TEIRerankRequest") if allow_tei else ("RerankRequest",))
            ),
            summary=summary,
        )


def add_status_routes(app: FastAPI, service: RerankService) -> None:
    """``GET /health`` (503 when the scoring worker is down) and ``GET /metrics``."""

    @app.get(
        "/health",
        response_model=Health,
        responses={503: {"model": Health, "description": "The scoring worker is down."}},
    )
    async def health() -> JSONResponse:
        worker = service.batcher._worker
        ok = worker is not None and not worker.done()
        body = {
            "status": "ok" if ok else "unavailable",
            "model": service.model_name,
            "kind": service.reranker.kind,
            "backend": service.reranker.backend.name,
        }
        return JSONResponse(body, status_code=200 if ok else 503)

    @app.get(
        "/metrics",
        response_class=PlainTextResponse,
        responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
    )
    async def prometheus_metrics() -> Response:
        return Response(service.metrics.render(), media_type=CONTENT_TYPE)
