"""The InPars / Promptagator method through a real OpenAI-protocol HTTP server."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from rankdistill.data.errors import DataFormatError
from rankdistill.data.records import Document, Query, RankingData
from rankdistill.generation.config import GenerationConfig
from rankdistill.generation.llm import (
    FewShotExample,
    examples_from_ranking,
    list_generation_templates,
    load_generation_template,
    parse_generation_template,
    parse_query,
)
from rankdistill.generation.run import generate_queries, read_generated_queries
from tests.generation.query_server import (
    EMPTY_MARK,
    LONG_MARK,
    PASSAGES,
    QueryServer,
    expected_query,
    word_logprob,
)
from tests.openai_server import count_prompt_tokens

pytest_plugins = ["tests.generation.query_server"]

REAL_EXAMPLES = [
    FewShotExample("how tall is mount kilimanjaro", "Mount Kilimanjaro rises 5,895 metres."),
    FewShotExample("what do pandas eat", "Giant pandas eat bamboo almost exclusively."),
    FewShotExample("when was the printing press invented", "Gutenberg built a press c. 1440."),
]


def _cfg(server: QueryServer, **settings: Any) -> GenerationConfig:
    data: dict[str, Any] = {
        "method": "llm",
        "backend": {
            "kind": "openai",
            "model": "test-model",
            "base_url": server.base_url,
            "api_key_env": "",
            "max_retries": 0,
        },
        "filters": {"round_trip": {"k": 1}},
    }
    for key, value in settings.items():
        data[key] = value
    return GenerationConfig.model_validate(data)


def _user(body: dict[str, Any]) -> str:
    return [m for m in body["messages"] if m["role"] == "user"][-1]["content"]


def test_llm_queries_tokens_and_few_shot_prompts(
    query_server: QueryServer, corpus: dict[str, Document], tmp_path: Path
) -> None:
    cfg = _cfg(query_server, per_passage=2, shots=2)
    result = generate_queries(corpus, cfg, tmp_path, examples=REAL_EXAMPLES, progress=False)

    requests = query_server.chat_requests()
    assert len(requests) == 2 * len(PASSAGES)  # one call per query, none repeated
    assert {r.body["max_tokens"] for r in requests} == {cfg.max_new_tokens}  # type: ignore[index]
    # The server answers the same question for both prompts of a passage: the duplicate
    # is removed, the round trip keeps every query (its words are its passage's first).
    assert (result.generated, result.kept) == (10, 5)
    queries = read_generated_queries(result.queries_path)
    assert {q.source_docid: q.text for q in queries} == {
        d: expected_query(t) for d, t in PASSAGES.items()
    }
    assert all(q.method == "llm" and q.logprob is None for q in queries)
    for request in requests:
        user = _user(request.body or {})
        shown = [e.query for e in REAL_EXAMPLES if f"Question: {e.query}" in user]
        assert len(shown) == 2  # `shots` real examples, no built-in one
        assert "copper" not in user
    # The two prompts of one passage draw different examples (distinct cache keys).
    prompts = {json.dumps(r.body["messages"]) for r in requests}  # type: ignore[index]
    assert len(prompts) == len(requests)

    # Token accounting against the server's own counting rule.
    sent = sum(count_prompt_tokens(r.body["messages"]) for r in requests)  # type: ignore[index]
    assert result.tokens["prompt_tokens"] == sent
    assert result.tokens["completion_tokens"] == 5 * 10  # "Question: w1 w2 w3 w4?" each
    assert result.tokens["llm_calls"] == 10
    assert result.tokens["prompt_tokens_per_query"] == pytest.approx(sent / 10)
    for query in queries:  # each query carries the tokens of its own request
        passage = PASSAGES[query.source_docid]
        own = [r.body["messages"] for r in requests if passage in _user(r.body or {})]  # type: ignore[index]
        assert len(own) == 2
        assert query.extra["prompt_tokens"] in {count_prompt_tokens(m) for m in own}
        assert query.extra["completion_tokens"] == 5
    assert result.query_words["mean"] == 4.0
    summary = json.loads(Path(result.summary_path).read_text())
    assert [f["name"] for f in summary["filters"]] == [
        "evaluation_queries",
        "near_duplicates",
        "logprob",
        "round_trip",
        "max_queries",
    ]
    assert summary["filters"][1]["kept"] == 5

    # A rerun answers everything from the store: no request at all.
    again = generate_queries(corpus, cfg, tmp_path, examples=REAL_EXAMPLES, progress=False)
    assert len(query_server.chat_requests()) == 10
    assert read_generated_queries(again.queries_path) == queries


@pytest.mark.parametrize("order", ["per-passage", "fixed"])
def test_fixed_example_order_gives_every_passage_the_same_examples(
    query_server: QueryServer, corpus: dict[str, Document], tmp_path: Path, order: str
) -> None:
    """With ``fixed`` every prompt shows the same examples in the same order (a prefix
    the backend's KV cache can keep); per passage, the order changes from passage to
    passage. Both show ``shots`` of the real examples and then the passage."""
    examples = [*REAL_EXAMPLES, FewShotExample("why is the sky blue", "Air scatters blue light.")]
    cfg = _cfg(query_server, shots=3, example_order=order)
    generate_queries(corpus, cfg, tmp_path, examples=examples, progress=False)
    users = [_user(r.body or {}) for r in query_server.chat_requests()]
    assert len(users) == len(PASSAGES)
    shown = {
        tuple(sorted((u.index(f"Question: {e.query}"), e.query) for e in examples if e.query in u))
        for u in users
    }
    assert all(len(s) == 3 for s in shown)
    if order == "fixed":
        assert len(shown) == 1
        prefix = users[0][: users[0].rindex("Passage:")]
        assert all(u.startswith(prefix) for u in users)
    else:
        assert len(shown) > 1


def test_builtin_examples_and_style_templates(
    query_server: QueryServer, corpus: dict[str, Document], tmp_path: Path
) -> None:
    cfg = _cfg(query_server, style="tail", shots=3)
    generate_queries(corpus, cfg, tmp_path, progress=False)
    template = load_generation_template("generate-tail")
    for request in query_server.chat_requests():
        user = _user(request.body or {})
        assert "fifteen words or more" in user
        assert sum(f"Question: {e.query}" in user for e in template.examples) == 3
    records = [json.loads(line) for line in (tmp_path / "passages.jsonl").read_text().splitlines()]
    assert {r["template_id"] for r in records} == {"generate-tail"}
    assert {r["method"] for r in records} == {"generate-llm"}


def test_generation_logprob_is_recorded_and_filters(
    query_server: QueryServer, corpus: dict[str, Document], tmp_path: Path
) -> None:
    cfg = _cfg(query_server, filters={"logprob": {"keep_fraction": 0.4}, "round_trip": {"k": 1}})
    result = generate_queries(corpus, cfg, tmp_path, progress=False)
    assert all(r.body.get("logprobs") is True for r in query_server.chat_requests())  # type: ignore[union-attr]

    def mean(passage: str) -> float:
        words = ("Question: " + expected_query(passage)).split(" ")
        return sum(word_logprob(w) for w in words) / len(words)

    store = [json.loads(line) for line in (tmp_path / "passages.jsonl").read_text().splitlines()]
    recorded = {r["qid"]: r["extra"]["queries"][0]["logprob"] for r in store}
    assert recorded == pytest.approx({d: mean(t) for d, t in PASSAGES.items()})
    # ceil(0.4 * 5) = 2 queries with the highest mean log-probability survive.
    best = sorted(PASSAGES, key=lambda d: -mean(PASSAGES[d]))[: math.ceil(0.4 * 5)]
    kept = read_generated_queries(result.queries_path)
    assert sorted(q.source_docid for q in kept) == sorted(best)
    [report] = [f for f in result.filters if f["name"] == "logprob"]
    assert (report["input"], report["kept"], report["details"]["scored"]) == (5, 2, 5)


def test_parse_failures_are_counted(query_server: QueryServer, tmp_path: Path) -> None:
    filler = " ".join(f"word{i}" for i in range(25))
    corpus = {
        "ok": Document("ok", "Ordinary passage about rivers " + filler),
        "empty": Document("empty", f"{EMPTY_MARK} passage " + filler),
        "long": Document("long", f"{LONG_MARK} passage " + filler),
    }
    cfg = _cfg(query_server, max_query_words=10)
    result = generate_queries(corpus, cfg, tmp_path, progress=False)
    assert result.parse_failures == {"empty": 1, "too_long": 1}
    assert result.generated == 1
    assert [q.source_docid for q in read_generated_queries(result.queries_path)] == ["ok"]


@pytest.mark.parametrize(
    ("answer", "query", "problem"),
    [
        ("Query: solar panel cost", "solar panel cost", None),
        ('\n\n  Question 1: "why is the sky blue?"\nbecause...', "why is the sky blue?", None),
        ("1. best  pizza   dough", "best pizza dough", None),
        ("   \n ", None, "empty"),
        ("a b c d e f", None, "too_long"),
    ],
)
def test_parse_query(answer: str, query: str | None, problem: str | None) -> None:
    assert parse_query(answer, max_words=5) == (query, problem)


def test_examples_from_ranking_take_each_querys_top_passage() -> None:
    data = RankingData(
        queries={"q1": Query("q1", "first query"), "q2": Query("q2", "second query")},
        corpus={"a": Document("a", "passage a"), "b": Document("b", "passage b", "Title B")},
        candidates={"q1": {"a": 1.0, "b": 2.0}, "q2": {"a": 3.0}},
    )
    assert examples_from_ranking(data) == [
        FewShotExample("first query", "Title B passage b"),
        FewShotExample("second query", "passage a"),
    ]
    assert len(examples_from_ranking(data, limit=1)) == 1


def test_shipped_templates_load_and_bad_ones_name_the_field(tmp_path: Path) -> None:
    assert list_generation_templates() == ["generate-keyword", "generate-question", "generate-tail"]
    for template_id in list_generation_templates():
        template = load_generation_template(template_id)
        assert template.id == template_id and len(template.examples) >= 3
    good = {"id": "t", "version": "1", "user": "{examples} {passage}", "example_format": "{query}"}
    assert parse_generation_template(good, "t.yaml").id == "t"
    with pytest.raises(DataFormatError, match=r"t\.yaml: field 'user': unknown placeholder"):
        parse_generation_template({**good, "user": "{passage} {bogus}"}, "t.yaml")
    with pytest.raises(DataFormatError, match="field 'example_format': required"):
        parse_generation_template({**good, "example_format": ""}, "t.yaml")
    with pytest.raises(DataFormatError, match=r"field 'examples\[0\]'"):
        parse_generation_template({**good, "examples": [{"query": "q"}]}, "t.yaml")
    path = tmp_path / "mine.yaml"
    path.write_text("id: mine\nversion: 2\nuser: 'P: {passage}'\nexample_format: '{query}'\n")
    assert load_generation_template(str(path)).version == "2"


@pytest.mark.slow
def test_real_llm_through_llama_cpp(corpus: dict[str, Document], tmp_path: Path) -> None:
    """The packaged SmolLM2 GGUF writes a question; a rerun asks it nothing again."""
    pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed")
    from rankdistill.labeling.cache import CachedBackend

    backend = {"kind": "llama-cpp", "model": "smollm2-135m", "context_length": 2048}
    cfg = GenerationConfig.model_validate(
        {"method": "llm", "backend": backend, "max_passages": 1, "shots": 1, "max_new_tokens": 24}
    )
    try:
        result = generate_queries(corpus, cfg, tmp_path, progress=False)
    except FileNotFoundError as exc:  # the weights package is not installed
        pytest.skip(str(exc))
    assert result.generated + sum(result.parse_failures.values()) == 1
    assert result.tokens["llm_calls"] == 1
    assert result.tokens["prompt_tokens"] > 100  # instruction, one example and the passage
    assert 0 < result.tokens["completion_tokens"] <= 24
    with CachedBackend(_NoBackend(), tmp_path / "llm_cache.sqlite") as cache:
        assert len(cache) == 1
    again = generate_queries(corpus, cfg, tmp_path, progress=False)
    assert again.tokens == result.tokens
    with CachedBackend(_NoBackend(), tmp_path / "llm_cache.sqlite") as cache:
        assert len(cache) == 1


class _NoBackend:
    """Opens a cache file for counting; any call would be an error."""

    model_id = "none"

    def close(self) -> None:
        return None
