"""What a rerank request must pass before it is scored: API key, body size, JSON, schema,
and the service's limits. Each failure is an :class:`ApiError` naming what was wrong."""

from __future__ import annotations

import hmac
import json
import os

from fastapi import Request
from pydantic import ValidationError

from rankdistill.serving.api_errors import ApiError, too_large, validation_message
from rankdistill.serving.config import ServeConfig
from rankdistill.serving.schemas import RerankRequest, TEIRerankRequest


def max_body_bytes(cfg: ServeConfig) -> int:
    """The largest body that can hold a request within the limits (UTF-8, JSON escapes)."""
    chars = cfg.max_documents * (cfg.max_document_chars + 32) + cfg.max_query_chars
    return 6 * chars + 65536


def parse_request(raw: bytes, allow_tei: bool) -> RerankRequest | TEIRerankRequest:
    """The request in ``raw``: the TEI shape only where ``allow_tei`` and it sends ``texts``."""
    try:
        body = json.loads(raw)
    except RecursionError as exc:
        raise ApiError(400, "invalid_json", "request body is nested too deeply") from exc
    except (ValueError, UnicodeDecodeError) as exc:  # JSONDecodeError, huge integers
        raise ApiError(400, "invalid_json", f"request body is not valid JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise ApiError(422, "invalid_request", "request body must be a JSON object")
    if "documents" in body and "texts" in body:
        raise ApiError(
            422,
            "invalid_request",
            "send either documents (Cohere/Jina) or texts (TEI), not both",
        )
    model = TEIRerankRequest if allow_tei and "texts" in body else RerankRequest
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        raise ApiError(422, "invalid_request", validation_message(exc.errors())) from exc
    except RecursionError as exc:
        raise ApiError(400, "invalid_json", "request body is nested too deeply") from exc


def check_limits(cfg: ServeConfig, query: str, texts: list[str]) -> None:
    """A 413 naming the first limit (documents, query or document characters) exceeded."""
    if len(texts) > cfg.max_documents:
        raise too_large("too many documents", len(texts), "max_documents", cfg.max_documents)
    if len(query) > cfg.max_query_chars:
        raise too_large(
            "query too long (characters)", len(query), "max_query_chars", cfg.max_query_chars
        )
    for i, text in enumerate(texts):
        if len(text) > cfg.max_document_chars:
            raise too_large(
                f"documents[{i}] too long (characters)",
                len(text),
                "max_document_chars",
                cfg.max_document_chars,
            )


def check_body_size(size: int, limit: int) -> None:
    """A 413 when a body of ``size`` bytes (declared or read) is over ``limit``."""
    if size > limit:
        raise too_large("request body too large (bytes)", size, "max_body_bytes", limit)


def api_key(cfg: ServeConfig) -> str | None:
    """The key requests must send (read from ``cfg.api_key_env``), or None for no key."""
    if not cfg.api_key_env:
        return None
    key = os.environ.get(cfg.api_key_env, "")
    if not key:
        raise ValueError(
            f"api_key_env={cfg.api_key_env!r} but that environment variable is empty or unset"
        )
    return key


def check_key(request: Request, expected: str | None) -> None:
    """A 401 unless ``request`` sends ``expected`` as a bearer token or ``X-API-Key``."""
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
