"""The service's OpenAPI document: request schemas with the configured limits written in."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic.json_schema import models_json_schema

from rankdistill.serving.config import ServeConfig
from rankdistill.serving.schemas import REQUEST_MODELS, ErrorResponse

ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorResponse, "description": "Malformed or too deeply nested JSON."},
    401: {"model": ErrorResponse, "description": "Missing or wrong API key."},
    413: {"model": ErrorResponse, "description": "An input over a limit (named)."},
    422: {"model": ErrorResponse, "description": "Wrong types or missing fields."},
}


def request_body(*names: str) -> dict[str, Any]:
    """``openapi_extra`` for a route whose JSON body is one of the named schemas."""
    refs = [{"$ref": f"#/components/schemas/{name}"} for name in names]
    schema = refs[0] if len(refs) == 1 else {"anyOf": refs}
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


def request_schemas(cfg: ServeConfig) -> dict[str, Any]:
    """JSON schemas of the request models, with the service's limits written in."""
    _, top = models_json_schema(
        [(m, "validation") for m in REQUEST_MODELS], ref_template="#/components/schemas/{model}"
    )
    defs: dict[str, Any] = top["$defs"]
    for name, field in (("RerankRequest", "documents"), ("TEIRerankRequest", "texts")):
        props = defs[name]["properties"]
        props["query"]["maxLength"] = cfg.max_query_chars
        props[field]["maxItems"] = cfg.max_documents
        items = props[field]["items"]
        for option in items.get("anyOf", [items]):
            if option.get("type") == "string":
                option["maxLength"] = cfg.max_document_chars
    defs["DocumentObject"]["properties"]["text"]["maxLength"] = cfg.max_document_chars
    return defs


def install_openapi(app: FastAPI, cfg: ServeConfig, description: str | None) -> None:
    """Make ``app`` publish the request schemas its routes read by hand (with limits)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title, version=app.version, description=description, routes=app.routes
            )
            schema.setdefault("components", {}).setdefault("schemas", {}).update(
                request_schemas(cfg)
            )
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
