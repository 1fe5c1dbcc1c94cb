"""A real local HTTP server speaking the OpenAI chat-completions protocol, for tests.

It runs ``http.server`` on 127.0.0.1 (a free port) in a background thread and answers
``POST /v1/chat/completions`` like an OpenAI-compatible server: ``choices``, ``usage``,
and ``logprobs`` / ``top_logprobs`` when asked. Answers come from a ``responder``:
``scripted_responder([...])`` for fixed answers, by default a word-overlap oracle that
ranks numbered passages RankGPT style (``[2] > [1]``). The next-token distribution used
for logprobs is settable (``token_distribution``).

Faults for the next N requests: HTTP errors (``fail_next(2, status=500)``, 429 with
``Retry-After``) and hangs past the client's timeout (``hang_next(1, seconds=2)``).
Every request is recorded with its headers and JSON body, and the server tracks how many
requests were in flight at once.

Use it from a test module with either line::

    pytest_plugins = ["tests.openai_server"]          # provides the `openai_server` fixture
    from tests.openai_server import OpenAITestServer   # the class, for custom setups

(``tests/__init__.py`` makes ``tests`` importable as a package.)
"""

from __future__ import annotations

import json
import math
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

Responder = Callable[[dict[str, Any]], str]

_WORD = re.compile(r"[a-z0-9]+")
_QUERY_LINE = re.compile(r"^\s*(?:search\s+)?query\s*:\s*(.+)$", re.IGNORECASE | re.MULTILINE)
_PASSAGE_LINE = re.compile(r"^\s*\[(\d+)\]\s*(.+)$", re.MULTILINE)


def count_prompt_tokens(messages: list[dict[str, str]]) -> int:
    """The server's token rule: whitespace words of every message plus 4 per message."""
    return sum(len(str(m.get("content", "")).split()) + 4 for m in messages)


def count_completion_tokens(text: str) -> int:
    return len(text.split())


def _words(text: str) -> set[str]:
    return set(_WORD.findall(text.lower()))


def overlap_ranking_responder(body: dict[str, Any]) -> str:
    """Rank the numbered passages ``[n] text`` of the last user message by word overlap
    with its ``Query:`` line; passages sharing no word are left out (as RRADistill allows).
    Without passages, echo the first words of the last user message.
    """
    user = [m for m in body["messages"] if m.get("role") == "user"]
    text = str(user[-1]["content"]) if user else ""
    passages = [(int(n), p) for n, p in _PASSAGE_LINE.findall(text)]
    if not passages:
        return "echo: " + " ".join(text.split()[:8])
    query = _QUERY_LINE.search(text)
    query_words = _words(query.group(1)) if query else set()
    scored = [(len(query_words & _words(p)), n) for n, p in passages]
    ranked = sorted((s for s in scored if s[0] > 0), key=lambda s: (-s[0], s[1]))
    return " > ".join(f"[{n}]" for _, n in ranked)


def scripted_responder(answers: list[str]) -> Responder:
    """Answer with ``answers`` in order, one per request (then repeat the last one)."""
    remaining = list(answers)
    lock = threading.Lock()

    def respond(body: dict[str, Any]) -> str:
        with lock:
            return remaining.pop(0) if len(remaining) > 1 else remaining[0]

    return respond


def default_token_distribution() -> dict[str, float]:
    """Next-token probabilities (normalised): mostly Yes/No variants, then filler tokens."""
    probs = {"Yes": 0.45, " Yes": 0.15, "No": 0.25, " No": 0.05, "Maybe": 0.04}
    rest = 1.0 - sum(probs.values())
    filler = {f"tok{i}": rest / 30 for i in range(30)}
    return {t: math.log(p) for t, p in {**probs, **filler}.items()}


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]  # lower-cased names
    body: dict[str, Any] | None
    received_at: float


@dataclass
class _Fault:
    status: int | None = None
    retry_after: str | None = None
    hang_s: float | None = None


@dataclass
class OpenAITestServer:
    """The server; ``start()`` it, point a client at ``base_url``, ``stop()`` it."""

    responder: Responder = overlap_ranking_responder
    token_distribution: dict[str, float] = field(default_factory=default_token_distribution)
    delay_s: float = 0.0  # added to every request, to make concurrency observable
    # Requests whose last message contains this text get HTTP 500 ("poison" prompts).
    fail_matching: str | None = None
    model_name: str = "test-model"
    requests: list[RecordedRequest] = field(default_factory=list)
    max_in_flight: int = 0

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: deque[_Fault] = deque()
        self._in_flight = 0
        self._stopping = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- control -------------------------------------------------------------------

    def start(self) -> OpenAITestServer:
        server = self

        class Handler(_Handler):
            owner = server

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving (idempotent)."""
        self._stopping.set()  # wakes hanging handlers
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    @property
    def base_url(self) -> str:
        assert self._httpd is not None, "server not started"
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def fail_next(self, n: int, status: int = 500, retry_after: str | None = None) -> None:
        """Answer the next ``n`` requests with HTTP ``status`` (and a Retry-After header)."""
        with self._lock:
            self._faults.extend(_Fault(status=status, retry_after=retry_after) for _ in range(n))

    def hang_next(self, n: int, seconds: float) -> None:
        """Sleep ``seconds`` before answering each of the next ``n`` requests."""
        with self._lock:
            self._faults.extend(_Fault(hang_s=seconds) for _ in range(n))

    def chat_requests(self) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.path.endswith("/chat/completions")]

    # -- request handling (called from handler threads) ----------------------------

    def _enter(self, request: RecordedRequest) -> _Fault | None:
        with self._lock:
            self.requests.append(request)
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)
            return self._faults.popleft() if self._faults else None

    def _leave(self) -> None:
        with self._lock:
            self._in_flight -= 1

    def _sleep(self, seconds: float) -> None:
        self._stopping.wait(seconds)

    def completion(self, body: dict[str, Any]) -> dict[str, Any]:
        """The JSON answer to a valid chat-completions request."""
        max_tokens = int(body.get("max_tokens") or body.get("max_completion_tokens") or 256)
        ranked = sorted(self.token_distribution.items(), key=lambda kv: -kv[1])
        if body.get("logprobs") or max_tokens == 1:
            # A one-token answer is the most likely next token (greedy).
            words = [ranked[0][0]]
        else:
            words = self.responder(body).split(" ")
        finish = "length" if len(words) > max_tokens else "stop"
        text = " ".join(words[:max_tokens])
        choice: dict[str, Any] = {
            "index": 0,
            "message": {"role": "assistant", "content": text},
            "finish_reason": finish,
        }
        if body.get("logprobs"):
            k = int(body.get("top_logprobs") or 0)
            first = ranked[0]
            choice["logprobs"] = {
                "content": [
                    {
                        "token": first[0],
                        "logprob": first[1],
                        "bytes": list(first[0].encode()),
                        "top_logprobs": [
                            {"token": t, "logprob": lp, "bytes": list(t.encode())}
                            for t, lp in ranked[:k]
                        ],
                    }
                ]
            }
        prompt_tokens = count_prompt_tokens(body["messages"])
        completion_tokens = count_completion_tokens(text)
        return {
            "id": f"chatcmpl-{len(self.requests)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", self.model_name),
            "choices": [choice],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as real servers do
    owner: OpenAITestServer

    def log_message(self, format: str, *args: Any) -> None:  # quiet test output
        return

    def _send_json(self, status: int, payload: dict[str, Any], headers: dict[str, str]) -> None:
        data = json.dumps(payload).encode("utf-8")
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout test): nothing to answer

    def do_GET(self) -> None:
        if self.path.rstrip("/").endswith("/models"):
            self._send_json(200, {"object": "list", "data": [{"id": self.owner.model_name}]}, {})
        else:
            self._send_json(404, {"error": {"message": f"no route {self.path}"}}, {})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except json.JSONDecodeError:
            body = None
        request = RecordedRequest(
            method="POST",
            path=self.path,
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
            received_at=time.monotonic(),
        )
        fault = self.owner._enter(request)
        try:
            self._answer(body, fault)
        finally:
            self.owner._leave()

    def _answer(self, body: dict[str, Any] | None, fault: _Fault | None) -> None:
        if fault is not None and fault.hang_s is not None:
            self.owner._sleep(fault.hang_s)
        if fault is not None and fault.status is not None:
            headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
            message = {"error": {"message": f"scripted failure {fault.status}"}}
            self._send_json(fault.status, message, headers)
            return
        if not self.path.rstrip("/").endswith("/chat/completions"):
            self._send_json(404, {"error": {"message": f"no route {self.path}"}}, {})
            return
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
            self._send_json(400, {"error": {"message": "body must have a messages list"}}, {})
            return
        poison = self.owner.fail_matching
        if poison and poison in str(body["messages"][-1].get("content", "")):
            self._send_json(500, {"error": {"message": "poisoned prompt"}}, {})
            return
        if self.owner.delay_s:
            self.owner._sleep(self.owner.delay_s)
        self._send_json(200, self.owner.completion(body), {})


@pytest.fixture
def openai_server() -> Iterator[OpenAITestServer]:
    """A started :class:`OpenAITestServer`, stopped after the test."""
    server = OpenAITestServer().start()
    try:
        yield server
    finally:
        server.stop()
