"""The service's contract: one error shape for every 4xx, clean answers to hostile bodies,
the model named from the manifest, request and response schemas for every route in
/openapi.json, and a schemathesis run against the live service (no 5xx, every response
within its published schema)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.config import SchemathesisConfig
from schemathesis.generation.modes import GenerationMode

from rankdistill.serving.engine import Reranker
from rankdistill.serving.manifest import read_manifest, served_model_name
from tests.fixtures.service import running_service
from tests.fixtures.students import DOCUMENTS, QUERIES

LIMITS = {"max_documents": 8, "max_document_chars": 400, "max_query_chars": 100}


@pytest.fixture(scope="module")
def service_url(student_engine: Reranker) -> Iterator[str]:
    # Small limits keep generated requests cheap to score on a CPU.
    with running_service(student_engine, **LIMITS) as url:
        yield url


def _error(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"} and {"type", "message"} <= set(body["error"])
    return body["error"]


def test_unknown_path_and_wrong_method_use_the_error_shape(service_url: str) -> None:
    assert _error(httpx.get(f"{service_url}/v3/rerank"), 404)["type"] == "not_found"
    wrong = httpx.get(f"{service_url}/v2/rerank")
    assert _error(wrong, 405)["type"] == "method_not_allowed"
    assert "POST" in wrong.headers["allow"]


def test_deeply_nested_body_is_a_400(service_url: str) -> None:
    depth = 40_000  # far past any recursion limit, within the small body limit
    body = b'{"query": "q", "documents": ' + b"[" * depth + b"]" * depth + b"}"
    for route in ("/rerank", "/v1/rerank", "/v2/rerank"):
        response = httpx.post(f"{service_url}{route}", content=body, timeout=60)
        assert "nested too deeply" in _error(response, 400)["message"]
    # The service is still up and answers normally.
    ok = httpx.post(f"{service_url}/v2/rerank", json={"query": "q", "documents": ["d"]})
    assert ok.status_code == 200


def test_huge_integer_is_a_400(service_url: str) -> None:
    body = b'{"query": "q", "documents": ["d"], "top_n": ' + b"9" * 10_000 + b"}"
    _error(httpx.post(f"{service_url}/v1/rerank", content=body), 400)


@pytest.mark.parametrize("route", ["/rerank", "/v1/rerank", "/v2/rerank"])
def test_documents_and_texts_together_are_a_422(service_url: str, route: str) -> None:
    body = {"query": "q", "documents": ["a"], "texts": ["b"]}
    message = _error(httpx.post(f"{service_url}{route}", json=body), 422)["message"]
    assert "documents" in message and "texts" in message


def test_tei_shape_only_on_rerank(service_url: str) -> None:
    body = {"query": QUERIES[0], "texts": DOCUMENTS[:3]}
    assert isinstance(httpx.post(f"{service_url}/rerank", json=body).json(), list)
    # The Cohere routes need documents: a TEI body is missing that field.
    assert "documents" in _error(httpx.post(f"{service_url}/v2/rerank", json=body), 422)["message"]


def test_model_name_comes_from_the_manifest(service_url: str, student_dir: Path) -> None:
    manifest = read_manifest(student_dir)
    expected = served_model_name(manifest)
    assert expected == f"{manifest['kind']}-minilm-l6"  # kind and backbone, not the folder
    body = {"model": "whatever-the-client-says", "query": "q", "documents": ["d"]}
    assert httpx.post(f"{service_url}/v2/rerank", json=body).json()["model"] == expected
    assert httpx.get(f"{service_url}/health").json()["model"] == expected


def test_every_route_publishes_its_schemas(service_url: str) -> None:
    spec = httpx.get(f"{service_url}/openapi.json").json()
    schemas = spec["components"]["schemas"]
    for route in ("/rerank", "/v1/rerank", "/v2/rerank"):
        operation = spec["paths"][route]["post"]
        request = operation["requestBody"]["content"]["application/json"]["schema"]
        refs = [r["$ref"] for r in request.get("anyOf", [request])]
        assert all(ref.rsplit("/", 1)[-1] in schemas for ref in refs)
        for status in ("200", "400", "401", "413", "422"):
            assert "schema" in operation["responses"][status]["content"]["application/json"]
    request_schema = schemas["RerankRequest"]
    assert request_schema["properties"]["documents"]["maxItems"] == LIMITS["max_documents"]
    assert {"query", "documents"} <= set(request_schema["required"])
    for route in ("/health", "/metrics"):
        assert spec["paths"][route]["get"]["responses"]["200"]["content"]


RERANK_OPERATIONS = [("/rerank", "POST"), ("/v1/rerank", "POST"), ("/v2/rerank", "POST")]
# Operations without inputs have no invalid requests to generate.
CASES = [
    *((path, method, mode) for path, method in RERANK_OPERATIONS for mode in GenerationMode),
    ("/health", "GET", GenerationMode.POSITIVE),
    ("/metrics", "GET", GenerationMode.POSITIVE),
]


# Invalid input may also be answered 413 when it breaks a published limit (maxItems, maxLength).
REJECTION_STATUSES = ["400", "401", "404", "405", "413", "422"]


@pytest.fixture(scope="module")
def live_schema(service_url: str) -> Any:
    config = SchemathesisConfig.from_dict(
        {"checks": {"negative_data_rejection": {"expected-statuses": REJECTION_STATUSES}}}
    )
    return schemathesis.openapi.from_url(f"{service_url}/openapi.json", config=config)


@pytest.mark.parametrize(("path", "method", "mode"), CASES)
def test_schemathesis_finds_no_5xx_and_no_schema_violation(
    live_schema: Any, path: str, method: str, mode: GenerationMode
) -> None:
    """Requests generated from the published schema (valid ones, then invalid ones): every
    answer passes schemathesis' checks (no 5xx, status, content type and body as published,
    invalid input rejected, valid input accepted)."""
    operation = live_schema[path][method]

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=30,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def check(case: Any) -> None:
        case.call_and_validate(timeout=120)

    check()
