"""The official Cohere SDK (``ClientV2.rerank`` -> /v2/rerank, ``Client.rerank`` -> /v1/rerank)
against the real service: it parses the answers, scores are the logistic of the model's
logits (in [0, 1], same order), and errors reach the SDK as its own error types."""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from pathlib import Path

import cohere
import pytest

from rankdistill.serving.engine import Reranker
from rankdistill.serving.manifest import read_manifest, served_model_name
from tests.fixtures.service import running_service
from tests.fixtures.students import DOCUMENTS, QUERIES

KEY_ENV = "RANKDISTILL_TEST_COHERE_KEY"
KEY = "cohere-sdk-test-key"
DOCS = DOCUMENTS[:8]


@pytest.fixture(scope="module")
def service_url(student_engine: Reranker) -> Iterator[str]:
    os.environ[KEY_ENV] = KEY
    try:
        with running_service(student_engine, api_key_env=KEY_ENV) as url:
            yield url
    finally:
        os.environ.pop(KEY_ENV, None)


def _expected(engine: Reranker, query: str, docs: list[str]) -> list[tuple[int, float]]:
    """(index, logistic of the logit) by descending logit, from the engine itself."""
    return [(r.index, 1 / (1 + math.exp(-r.score))) for r in engine.rerank(query, docs)]


def test_client_v2_rerank(service_url: str, student_engine: Reranker, student_dir: Path) -> None:
    client = cohere.ClientV2(api_key=KEY, base_url=service_url, timeout=60)
    response = client.rerank(model="rerank-v3.5", query=QUERIES[0], documents=DOCS, top_n=5)
    expected = _expected(student_engine, QUERIES[0], DOCS)[:5]
    assert [r.index for r in response.results] == [i for i, _ in expected]
    for result, (_, probability) in zip(response.results, expected, strict=True):
        assert 0.0 <= result.relevance_score <= 1.0
        assert result.relevance_score == pytest.approx(probability, abs=1e-5)
    # The SDK's own meta types parse the counts; the name is the student's, from its manifest.
    assert response.meta is not None and response.meta.billed_units is not None
    assert response.meta.billed_units.search_units == 1
    assert response.meta.tokens is not None and response.meta.tokens.input_tokens > len(DOCS)
    assert response.model == served_model_name(read_manifest(student_dir))  # type: ignore[attr-defined]


def test_client_v1_rerank_with_documents(service_url: str, student_engine: Reranker) -> None:
    client = cohere.Client(api_key=KEY, base_url=service_url, timeout=60)
    docs = [{"text": d} for d in DOCS]
    response = client.rerank(
        model="rerank-english-v3.0", query=QUERIES[1], documents=docs, return_documents=True
    )
    expected = _expected(student_engine, QUERIES[1], DOCS)
    assert [r.index for r in response.results] == [i for i, _ in expected]
    scores = [r.relevance_score for r in response.results]
    assert all(0.0 <= s <= 1.0 for s in scores) and scores == sorted(scores, reverse=True)
    for result in response.results:
        assert result.document is not None and result.document.text == DOCS[result.index]


def test_sdk_sees_wrong_key_and_bad_input_as_its_errors(service_url: str) -> None:
    wrong = cohere.ClientV2(api_key="not-the-key", base_url=service_url, timeout=60)
    with pytest.raises(cohere.UnauthorizedError) as unauthorized:
        wrong.rerank(model="m", query="q", documents=["d"])
    assert unauthorized.value.body["error"]["type"] == "unauthorized"
    client = cohere.ClientV2(api_key=KEY, base_url=service_url, timeout=60)
    with pytest.raises(cohere.UnprocessableEntityError) as invalid:
        client.rerank(model="m", query="q", documents=["d"], top_n=0)
    assert "top_n" in invalid.value.body["error"]["message"]
