"""A real OpenAI-protocol HTTP server that writes queries, and a small corpus, for the
generation tests (``pytest_plugins = ["tests.generation.query_server"]``).

The server (``QueryServer``) extends the project's test server: its answer to a few-shot
prompt is ``Question: <the first four words of the prompt's last passage>?``, with
per-token log-probabilities when the request asks for them (``-0.1`` per character of each
word). It records every request it answered in full, and can stop answering after
``answer_limit`` requests (the rest wait until ``release`` is set), so a test can kill a
client at a known point.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from rankdistill.data.records import Document
from tests.openai_server import OpenAITestServer

_PASSAGE = re.compile(r"^Passage: (.+)$", re.MULTILINE)
EMPTY_MARK = "emptymark"
LONG_MARK = "longmark"


def passage_words(text: str, n: int = 4) -> str:
    return " ".join(text.split()[:n])


def expected_query(passage: str) -> str:
    """The question the server writes for ``passage`` (its first four words)."""
    return passage_words(passage) + "?"


def word_logprob(word: str) -> float:
    return -0.1 * len(word)


def query_responder(body: dict[str, Any]) -> str:
    user = [m for m in body["messages"] if m.get("role") == "user"][-1]["content"]
    target = _PASSAGE.findall(str(user))[-1]
    if EMPTY_MARK in target:
        return ""
    if LONG_MARK in target:
        return "Question: " + " ".join(["very"] * 60) + "?"
    return f"Question: {expected_query(target)}"


@dataclass
class QueryServer(OpenAITestServer):
    responder: Any = query_responder
    answer_limit: int | None = None
    answered: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__post_init__()
        self.release = threading.Event()

    def received(self) -> int:
        return len(self.chat_requests())

    def completion(self, body: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            blocked = self.answer_limit is not None and len(self.answered) >= self.answer_limit
            if not blocked:
                self.answered.append(body)
        if blocked:
            self.release.wait(60)  # the client is killed meanwhile; nobody reads this answer
        plain = {k: v for k, v in body.items() if k not in ("logprobs", "top_logprobs")}
        answer = super().completion(plain)
        choice = answer["choices"][0]
        if body.get("logprobs"):
            words = choice["message"]["content"].split(" ")
            choice["logprobs"] = {
                "content": [
                    {"token": w, "logprob": word_logprob(w), "top_logprobs": []} for w in words
                ]
            }
        return answer


@pytest.fixture
def query_server() -> Iterator[QueryServer]:
    server = QueryServer().start()
    try:
        yield server
    finally:
        server.release.set()
        server.stop()


PASSAGES = {
    "p1": "Glaciers carve deep valleys as they slowly move downhill, grinding rock beneath "
    "their enormous weight and leaving moraines of gravel and boulders behind them.",
    "p2": "Sourdough bread rises because wild yeast and lactic acid bacteria in the starter "
    "ferment the flour, producing gas bubbles and the tangy flavour bakers prize.",
    "p3": "Lighthouses warn ships of dangerous coasts with a rotating lamp whose pattern of "
    "flashes tells sailors exactly which lighthouse they are looking at at night.",
    "p4": "Honeybees communicate the direction of flowers through a waggle dance performed "
    "on the comb, the angle of the dance matching the angle of the sun outside.",
    "p5": "Volcanic soil is very fertile because the ash releases minerals such as potassium "
    "and phosphorus as it weathers, which is why farms cluster near old volcanoes.",
}


@pytest.fixture
def corpus() -> dict[str, Document]:
    return {d: Document(d, text) for d, text in PASSAGES.items()}


@pytest.fixture
def corpus_file(tmp_path: Path) -> Path:
    path = tmp_path / "corpus.jsonl"
    path.write_text(
        "".join(json.dumps({"docid": d, "text": t}) + "\n" for d, t in PASSAGES.items()),
        encoding="utf-8",
    )
    return path
