"""OpenAIBackend against a real local HTTP server speaking the OpenAI protocol."""

from __future__ import annotations

import logging
import math
import threading
import traceback

import pytest

from rankdistill.labeling.backends import BackendError, LLMBackend, build_backend
from rankdistill.labeling.backends.openai_backend import OpenAIBackend, parse_retry_after
from rankdistill.labeling.config import BackendConfig
from tests.openai_server import OpenAITestServer, count_prompt_tokens, scripted_responder

pytest_plugins = ["tests.openai_server"]

SECRET = "sk-test-NEVER-LOG-9f3a1c77"
KEY_ENV = "RANKDISTILL_TEST_OPENAI_KEY"

RANK_PROMPT = [
    {"role": "system", "content": "You rank passages."},
    {
        "role": "user",
        "content": (
            "Query: solar panel efficiency\n"
            "[1] recipes for banana bread\n"
            "[2] solar panel efficiency drops with heat\n"
            "[3] the efficiency of wind turbines\n"
            "List the relevant passages."
        ),
    },
]


def _prompt(i: int) -> list[dict[str, str]]:
    return [{"role": "user", "content": f"prompt number {i} please answer"}]


def _backend(server: OpenAITestServer, **cfg: object) -> OpenAIBackend:
    settings: dict[str, object] = {
        "kind": "openai",
        "model": "test-model",
        "base_url": server.base_url,
        "api_key_env": KEY_ENV,
        "timeout_s": 5.0,
        "max_retries": 3,
        "concurrency": 4,
    }
    settings.update(cfg)
    return OpenAIBackend(BackendConfig(**settings), backoff_base_s=0.01, backoff_max_s=0.05)


@pytest.fixture(autouse=True)
def _api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, SECRET)


def test_generate_returns_server_answer_and_usage(openai_server: OpenAITestServer) -> None:
    backend = build_backend(
        BackendConfig(
            kind="openai", model="test-model", base_url=openai_server.base_url, api_key_env=KEY_ENV
        )
    )
    [generation] = backend.generate([RANK_PROMPT], max_new_tokens=50)
    # The oracle ranks passage 2 (two shared words) above 3 (one) and omits 1.
    assert generation.text == "[2] > [3]"
    assert generation.prompt_tokens == count_prompt_tokens(RANK_PROMPT)
    assert generation.completion_tokens == 3
    assert generation.finish_reason == "stop"
    assert generation.cached is False
    [request] = openai_server.chat_requests()
    assert request.path == "/v1/chat/completions"
    assert request.body == {
        "model": "test-model",
        "messages": RANK_PROMPT,
        "max_tokens": 50,
        "temperature": 0.0,
    }
    backend.close()


def test_token_limit_field_is_configurable(openai_server: OpenAITestServer) -> None:
    backend = _backend(openai_server, token_limit_field="max_completion_tokens")
    [generation] = backend.generate([_prompt(0)], max_new_tokens=2)
    assert generation.text == "echo: prompt"  # the server read the limit from that field
    assert generation.finish_reason == "length"
    backend.count_tokens(_prompt(0))
    first, second = openai_server.chat_requests()
    assert first.body is not None and second.body is not None
    assert first.body["max_completion_tokens"] == 2 and "max_tokens" not in first.body
    assert second.body["max_completion_tokens"] == 1 and "max_tokens" not in second.body
    backend.close()


def test_results_keep_input_order(openai_server: OpenAITestServer) -> None:
    backend = _backend(openai_server, concurrency=4)
    prompts = [_prompt(i) for i in range(10)]
    results = backend.generate(prompts, max_new_tokens=20)
    assert [g.text for g in results] == [
        f"echo: prompt number {i} please answer" for i in range(10)
    ]
    backend.close()


def test_429_is_retried_after_retry_after(openai_server: OpenAITestServer) -> None:
    backend = _backend(openai_server)
    openai_server.fail_next(1, status=429, retry_after="1")
    [generation] = backend.generate([_prompt(0)], max_new_tokens=10)
    assert generation.text.startswith("echo: prompt number 0")
    first, second = openai_server.chat_requests()
    # Backoff alone would wait <= 0.05 s here; the retry came after the 1 s asked for.
    assert second.received_at - first.received_at >= 0.95
    backend.close()


def test_500_twice_then_success(openai_server: OpenAITestServer) -> None:
    backend = _backend(openai_server)
    openai_server.fail_next(2, status=500)
    [generation] = backend.generate([_prompt(1)], max_new_tokens=10)
    assert generation.text.startswith("echo: prompt number 1")
    assert len(openai_server.chat_requests()) == 3
    backend.close()


def test_timeout_then_success(openai_server: OpenAITestServer) -> None:
    backend = _backend(openai_server, timeout_s=0.3)
    openai_server.hang_next(1, seconds=2.0)
    [generation] = backend.generate([_prompt(2)], max_new_tokens=10)
    assert generation.text.startswith("echo: prompt number 2")
    assert len(openai_server.chat_requests()) == 2
    backend.close()


def test_connection_refused_is_retried_then_reported() -> None:
    server = OpenAITestServer().start()
    url = server.base_url
    server.stop()  # nothing listens on that port any more
    backend = OpenAIBackend(
        BackendConfig(kind="openai", base_url=url, max_retries=2, timeout_s=1.0),
        backoff_base_s=0.01,
    )
    with pytest.raises(BackendError, match="after 3 attempts; last error: connection error"):
        backend.generate([_prompt(0)], max_new_tokens=5)
    backend.close()


def test_exhausted_retries_name_status_and_url(openai_server: OpenAITestServer) -> None:
    backend = _backend(openai_server, max_retries=2)
    openai_server.fail_next(10, status=503)
    with pytest.raises(BackendError) as info:
        backend.generate([_prompt(3)], max_new_tokens=10)
    message = str(info.value)
    assert "HTTP 503" in message
    assert f"{openai_server.base_url}/chat/completions" in message
    assert "after 3 attempts" in message
    assert len(openai_server.chat_requests()) == 3
    backend.close()


def test_client_errors_are_not_retried(openai_server: OpenAITestServer) -> None:
    backend = _backend(openai_server)
    openai_server.fail_next(1, status=401)
    with pytest.raises(BackendError, match="HTTP 401"):
        backend.generate([_prompt(4)], max_new_tokens=10)
    assert len(openai_server.chat_requests()) == 1
    backend.close()


def test_concurrency_overlaps_within_limit(openai_server: OpenAITestServer) -> None:
    openai_server.delay_s = 0.2
    backend = _backend(openai_server, concurrency=3)
    results = backend.generate([_prompt(i) for i in range(9)], max_new_tokens=10)
    assert len(results) == 9
    assert 1 < openai_server.max_in_flight <= 3
    backend.close()


def test_concurrency_limit_is_shared_by_calling_threads(openai_server: OpenAITestServer) -> None:
    openai_server.delay_s = 0.05
    backend = _backend(openai_server, concurrency=2, timeout_s=5.0)
    outputs: dict[int, list[str]] = {}

    def work(offset: int) -> None:
        prompts = [_prompt(offset + i) for i in range(12)]
        outputs[offset] = [g.text for g in backend.generate(prompts, max_new_tokens=10)]

    threads = [threading.Thread(target=work, args=(o,)) for o in (0, 100, 200)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert openai_server.max_in_flight == 2
    # Every request was answered once (no connection lost to a pool race and retried).
    assert len(openai_server.chat_requests()) == 36
    for offset, texts in outputs.items():
        assert texts == [f"echo: prompt number {offset + i} please answer" for i in range(12)]
    backend.close()


def test_api_key_sent_but_never_leaked(
    openai_server: OpenAITestServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    backend = _backend(openai_server, max_retries=1)
    backend.generate([_prompt(5)], max_new_tokens=10)
    assert openai_server.chat_requests()[0].headers["authorization"] == f"Bearer {SECRET}"

    openai_server.fail_next(5, status=500)
    with pytest.raises(BackendError) as info:
        backend.generate([_prompt(6)], max_new_tokens=10)
    exc_text = "".join(traceback.format_exception(info.value))
    assert caplog.records, "retries should have been logged"
    for text in (caplog.text, exc_text, repr(info.value), repr(backend), str(vars(backend))):
        assert SECRET not in text
    backend.close()


def test_no_key_sends_no_authorization(
    openai_server: OpenAITestServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(KEY_ENV)
    backend = _backend(openai_server)
    backend.generate([_prompt(7)], max_new_tokens=5)
    assert "authorization" not in openai_server.chat_requests()[0].headers
    backend.close()


def test_next_token_logprobs_from_top_logprobs(openai_server: OpenAITestServer) -> None:
    backend = _backend(openai_server)
    dist = openai_server.token_distribution
    [scores] = backend.next_token_logprobs([RANK_PROMPT], ["Yes", "No", "Absent"])
    # "Yes" and " Yes" are both returned: their probabilities add up.
    assert scores.logprobs["Yes"] == pytest.approx(math.log(0.45 + 0.15))
    assert scores.logprobs["No"] == pytest.approx(math.log(0.25 + 0.05))
    # A candidate outside the top 20 gets the smallest returned log-probability.
    top20 = sorted(dist.values(), reverse=True)[:20]
    assert scores.logprobs["Absent"] == pytest.approx(min(top20))
    assert scores.extra == {"floored:Absent": 1.0}
    assert scores.prompt_tokens == count_prompt_tokens(RANK_PROMPT)
    [request] = openai_server.chat_requests()
    assert request.body is not None
    assert request.body["logprobs"] is True
    assert request.body["top_logprobs"] == 20
    assert request.body["max_tokens"] == 1
    backend.close()


def test_count_tokens_uses_server_usage(openai_server: OpenAITestServer) -> None:
    backend = _backend(openai_server)
    assert backend.count_tokens(RANK_PROMPT) == count_prompt_tokens(RANK_PROMPT)
    backend.close()


def test_parse_retry_after_forms() -> None:
    from datetime import UTC, datetime

    assert parse_retry_after("3") == 3.0
    assert parse_retry_after("0.5") == 0.5
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    now = datetime(2024, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("Mon, 01 Jan 2024 12:00:07 GMT", now=now) == 7.0


def test_scripted_answers_in_order(openai_server: OpenAITestServer) -> None:
    openai_server.responder = scripted_responder(["[3] > [1]", "garbage ]] [", "[2]"])
    backend = _backend(openai_server, concurrency=1)
    assert isinstance(backend, LLMBackend)
    texts = [g.text for g in backend.generate([_prompt(i) for i in range(4)], max_new_tokens=9)]
    assert texts == ["[3] > [1]", "garbage ]] [", "[2]", "[2]"]
    backend.close()
