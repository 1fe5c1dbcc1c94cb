"""The rerank service, started for real with uvicorn on a free local port."""

from __future__ import annotations

import math
import os
import re
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from rankdistill.serving.app import BackgroundServer, create_app
from rankdistill.serving.config import ServeConfig
from rankdistill.serving.engine import Reranker
from tests.fixtures.students import DOCUMENTS, QUERIES, build_cross_encoder_dir, build_once

KEY_ENV = "RANKDISTILL_TEST_SERVE_KEY"
KEY = "s3cret-test-key"
AUTH = {"Authorization": f"Bearer {KEY}"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Reranker:
    student = build_once(
        tmp_path_factory.getbasetemp() / "serving-models" / "cross-encoder",
        build_cross_encoder_dir,
    )
    return Reranker.load(student, backend="torch", threads=1, max_length=128)


def _config(**overrides: object) -> ServeConfig:
    base = dict(
        port=free_port(),
        api_key_env=KEY_ENV,
        max_documents=12,
        max_document_chars=2000,
        max_query_chars=200,
        max_batch_pairs=64,
        batch_wait_ms=20.0,
        model_name="test-model",
    )
    base.update(overrides)
    return ServeConfig(**base)


@pytest.fixture(scope="module")
def server_url(engine: Reranker) -> Iterator[str]:
    os.environ[KEY_ENV] = KEY
    cfg = _config()
    try:
        with BackgroundServer(create_app(engine, cfg), cfg) as running:
            yield running.url
    finally:
        os.environ.pop(KEY_ENV, None)


def post(
    url: str,
    body: object = None,
    *,
    content: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    headers = {**AUTH, **(headers or {})}
    if content is not None:
        return httpx.post(f"{url}/rerank", content=content, headers=headers, timeout=60)
    return httpx.post(f"{url}/rerank", json=body, headers=headers, timeout=60)


def test_rerank_order_and_scores_equal_the_engine(server_url: str, engine: Reranker) -> None:
    docs = DOCUMENTS[:8]
    response = post(server_url, {"query": QUERIES[0], "documents": docs, "return_documents": True})
    assert response.status_code == 200, response.text
    body = response.json()
    expected = engine.rerank(QUERIES[0], docs)
    assert [r["index"] for r in body["results"]] == [r.index for r in expected]
    for got, want in zip(body["results"], expected, strict=True):
        # The logistic of the engine's logit, as Cohere and Jina report relevance.
        assert got["relevance_score"] == pytest.approx(1 / (1 + math.exp(-want.score)), abs=1e-5)
        assert got["document"] == {"text": docs[want.index]}
    assert body["model"] == "test-model"
    assert body["meta"]["backend"] == "torch" and body["meta"]["score"] == "probability"


def test_top_n_object_documents_and_no_documents_by_default(server_url: str) -> None:
    docs = [{"text": d} for d in DOCUMENTS[:6]]
    full = post(server_url, {"query": QUERIES[1], "documents": docs}).json()["results"]
    top = post(server_url, {"query": QUERIES[1], "documents": docs, "top_n": 2}).json()["results"]
    assert [r["index"] for r in top] == [r["index"] for r in full[:2]]
    assert "document" not in full[0]
    empty = post(server_url, {"query": QUERIES[1], "documents": []})
    assert empty.status_code == 200 and empty.json()["results"] == []


def test_tei_shape(server_url: str) -> None:
    body = {"query": QUERIES[2], "texts": DOCUMENTS[:4], "return_text": True}
    tei = post(server_url, body)
    raw = post(server_url, {**body, "raw_scores": True})
    assert tei.status_code == 200 and isinstance(tei.json(), list)
    assert [r["index"] for r in tei.json()] == [r["index"] for r in raw.json()]
    for prob, logit in zip(tei.json(), raw.json(), strict=True):
        assert prob["score"] == pytest.approx(1 / (1 + math.exp(-logit["score"])), abs=1e-6)
        assert prob["text"] == DOCUMENTS[prob["index"]]


@pytest.mark.parametrize(
    ("body", "limit"),
    [
        ({"query": "q", "documents": ["d"] * 13}, "max_documents"),
        ({"query": "q", "documents": ["ok", "x" * 2001]}, "max_document_chars"),
        ({"query": "q" * 201, "documents": ["d"]}, "max_query_chars"),
        ({"query": "q", "texts": ["d"] * 13}, "max_documents"),
    ],
)
def test_oversize_requests_get_413_naming_the_limit(
    server_url: str, body: dict[str, object], limit: str
) -> None:
    response = post(server_url, body)
    assert response.status_code == 413
    error = response.json()["error"]
    assert error["limit"] == limit and limit in error["message"]


def test_huge_body_is_refused_before_parsing(server_url: str) -> None:
    response = post(
        server_url, content=b"x" * 2_000_000, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert "max_body_bytes" in response.json()["error"]["message"]


@pytest.mark.parametrize(
    ("content", "status", "fragment"),
    [
        (b'{"query": "q", "documents": [', 400, "not valid JSON"),
        (b"\xff\xfe garbage", 400, "not valid JSON"),
        (b'["a list"]', 422, "JSON object"),
        (b'{"documents": ["d"]}', 422, "query"),
        (b'{"query": "q", "documents": "not a list"}', 422, "documents"),
        (b'{"query": "q", "documents": [1, 2]}', 422, "documents"),
        (b'{"query": "q", "documents": ["d"], "top_n": "two"}', 422, "top_n"),
        (b'{"query": "q", "documents": ["d"], "top_n": 0}', 422, "top_n"),
        (b'{"query": 5, "documents": ["d"]}', 422, "query"),
    ],
)
def test_malformed_requests_get_clean_4xx(
    server_url: str, content: bytes, status: int, fragment: str
) -> None:
    response = post(server_url, content=content, headers={"Content-Type": "application/json"})
    assert response.status_code == status, response.text
    assert fragment in response.json()["error"]["message"]


def test_api_key(server_url: str) -> None:
    body = {"query": "q", "documents": ["d"]}
    assert httpx.post(f"{server_url}/rerank", json=body).status_code == 401
    wrong = httpx.post(f"{server_url}/rerank", json=body, headers={"Authorization": "Bearer no"})
    assert wrong.status_code == 401 and wrong.headers["www-authenticate"] == "Bearer"
    url = f"{server_url}/rerank"
    assert httpx.post(url, json=body, headers={"X-API-Key": "no"}).status_code == 401
    assert httpx.post(url, json=body, headers={"X-API-Key": KEY}).status_code == 200
    assert httpx.post(f"{server_url}/rerank", json=body, headers=AUTH).status_code == 200


def test_missing_key_variable_refuses_to_start(engine: Reranker) -> None:
    with pytest.raises(ValueError, match="RANKDISTILL_UNSET_KEY"):
        create_app(engine, ServeConfig(api_key_env="RANKDISTILL_UNSET_KEY"))


def _metric(text: str, name: str, labels: str = "") -> float:
    match = re.search(rf"^{re.escape(name + labels)} (\S+)$", text, flags=re.MULTILINE)
    return float(match.group(1)) if match else 0.0


def test_concurrent_requests_are_micro_batched_and_counted(
    server_url: str, engine: Reranker
) -> None:
    before = httpx.get(f"{server_url}/metrics").text
    jobs = [(QUERIES[i % len(QUERIES)], DOCUMENTS[i % 3 : i % 3 + 4]) for i in range(12)]
    results: dict[int, httpx.Response] = {}
    barrier = threading.Barrier(len(jobs))

    def send(i: int) -> None:
        barrier.wait()
        results[i] = post(server_url, {"query": jobs[i][0], "documents": jobs[i][1]})

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(jobs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    for i, (query, docs) in enumerate(jobs):
        assert results[i].status_code == 200
        expected = [r.index for r in engine.rerank(query, docs)]
        assert [r["index"] for r in results[i].json()["results"]] == expected
    post(server_url, content=b"{bad", headers={"Content-Type": "application/json"})
    after = httpx.get(f"{server_url}/metrics").text
    ok = '{endpoint="/rerank",status="200"}'
    bad = '{endpoint="/rerank",status="400"}'
    assert _metric(after, "rankdistill_requests_total", ok) - _metric(
        before, "rankdistill_requests_total", ok
    ) == len(jobs)
    assert (
        _metric(after, "rankdistill_requests_total", bad)
        - _metric(before, "rankdistill_requests_total", bad)
        == 1
    )
    batches = _metric(after, "rankdistill_batch_pairs_count") - _metric(
        before, "rankdistill_batch_pairs_count"
    )
    pairs = _metric(after, "rankdistill_pairs_scored_total") - _metric(
        before, "rankdistill_pairs_scored_total"
    )
    assert pairs == 4 * len(jobs)
    assert 1 <= batches < len(jobs)  # concurrent requests shared model calls
    assert _metric(after, "rankdistill_request_latency_seconds_count") >= len(jobs)
    assert "# TYPE rankdistill_request_latency_seconds histogram" in after


def test_health(server_url: str) -> None:
    response = httpx.get(f"{server_url}/health")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "model": "test-model",
        "kind": "cross-encoder",
        "backend": "torch",
    }


def test_graceful_shutdown_finishes_in_flight_requests(
    engine: Reranker, monkeypatch: pytest.MonkeyPatch
) -> None:
    scoring = threading.Event()
    original = engine.score_pairs

    def slow_score_pairs(pairs: list[tuple[str, str]]) -> list[float]:
        scoring.set()
        time.sleep(0.5)  # still scoring when the shutdown starts
        return original(pairs)

    monkeypatch.setattr(engine, "score_pairs", slow_score_pairs)
    cfg = _config(api_key_env=None)
    server = BackgroundServer(create_app(engine, cfg), cfg)
    answer: dict[str, httpx.Response] = {}
    with server:
        sender = threading.Thread(
            target=lambda: answer.setdefault(
                "r",
                httpx.post(
                    f"{server.url}/rerank",
                    json={"query": QUERIES[0], "documents": DOCUMENTS * 1},
                    timeout=60,
                ),
            )
        )
        sender.start()
        # Shut down only once the request is being scored, however slow the machine.
        assert scoring.wait(timeout=60), "the request never reached the engine"
    sender.join(timeout=60)
    assert answer["r"].status_code == 200
    assert len(answer["r"].json()["results"]) == len(DOCUMENTS)
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{server.url}/health", timeout=2)
