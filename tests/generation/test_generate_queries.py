"""``generate_queries``: passage selection, evaluation exclusion, shards, Ray, summary."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from rankdistill.data.corpus import Exclusion, normalise_query
from rankdistill.data.records import Document, Query, RankingData
from rankdistill.generation.config import GenerationConfig
from rankdistill.generation.crop import sample_passages
from rankdistill.generation.methods import (
    GENERATION_METHODS,
    GenerationMethod,
    PassageQueries,
    PassageQueryWriter,
)
from rankdistill.generation.records import GeneratedQuery
from rankdistill.generation.run import (
    generate_queries,
    length_distribution,
    read_generated_queries,
)
from tests.generation.query_server import PASSAGES, QueryServer, expected_query

pytest_plugins = ["tests.generation.query_server"]


def _llm_cfg(server: QueryServer, **settings: Any) -> GenerationConfig:
    backend = {"kind": "openai", "model": "m", "base_url": server.base_url, "api_key_env": ""}
    return GenerationConfig.model_validate({"method": "llm", "backend": backend, **settings})


def test_length_distribution_matches_numpy() -> None:
    lengths = [1, 2, 3, 4, 10]
    queries = [GeneratedQuery(str(n), " ".join(["w"] * n), "d", "t") for n in lengths]
    got = length_distribution(queries)
    assert got["count"] == 5 and got["mean"] == pytest.approx(4.0)
    assert (got["min"], got["max"]) == (1, 10)
    for name, p in (("p10", 10), ("p50", 50), ("p90", 90)):
        assert got[name] == pytest.approx(float(np.percentile(lengths, p)))
    assert length_distribution([]) == {"count": 0}


def test_max_passages_and_short_passages(tmp_path: Path, corpus: dict[str, Document]) -> None:
    corpus = {**corpus, "short": Document("short", "too short to ask about")}
    cfg = GenerationConfig(method="crop", max_passages=2, seed=5)
    result = generate_queries(corpus, cfg, tmp_path, progress=False)
    usable = {d: doc for d, doc in corpus.items() if d != "short"}
    assert result.passages == 2
    sources = {q.source_docid for q in read_generated_queries(result.queries_path)}
    assert sources <= set(sample_passages(usable, 2, seed=5))


def test_evaluation_passages_and_queries_never_reach_the_output(
    query_server: QueryServer, corpus: dict[str, Document], tmp_path: Path
) -> None:
    evaluation = RankingData(
        queries={"e1": Query("e1", expected_query(PASSAGES["p2"]).upper())},
        corpus={"p1": corpus["p1"]},
    )
    exclusion = Exclusion.from_datasets([evaluation])
    cfg = _llm_cfg(query_server)
    result = generate_queries(corpus, cfg, tmp_path, exclusion=exclusion, progress=False)
    queries = read_generated_queries(result.queries_path)
    assert "p1" not in {q.source_docid for q in queries}
    assert all(not exclusion.blocks_query(q.text) for q in queries)
    assert normalise_query(expected_query(PASSAGES["p2"])) in exclusion.query_texts
    assert sorted(q.source_docid for q in queries) == ["p3", "p4", "p5"]
    # The evaluation passage is never even shown to the LLM.
    assert all(PASSAGES["p1"] not in json.dumps(r.body) for r in query_server.chat_requests())
    report = result.filters[0]
    assert (report["name"], report["input"], report["kept"]) == ("evaluation_queries", 4, 3)


def test_shards_write_what_one_process_writes(tmp_path: Path, corpus: dict[str, Document]) -> None:
    one = generate_queries(corpus, GenerationConfig(method="crop"), tmp_path / "one")
    sharded_cfg = GenerationConfig(method="crop", num_shards=2)
    two = generate_queries(corpus, sharded_cfg, tmp_path / "two", progress=False)
    assert Path(one.queries_path).read_bytes() == Path(two.queries_path).read_bytes()
    lines = (tmp_path / "two" / "passages.jsonl").read_text().splitlines()
    assert [json.loads(line)["qid"] for line in lines] == sample_passages(corpus, None, 13)
    assert not list((tmp_path / "two" / "shards").glob("*.jsonl"))


def test_sharded_llm_run_shares_one_cache(
    query_server: QueryServer, corpus: dict[str, Document], tmp_path: Path
) -> None:
    cfg = _llm_cfg(query_server, num_shards=2, per_passage=2)
    result = generate_queries(corpus, cfg, tmp_path, progress=False)
    assert len(query_server.chat_requests()) == 2 * len(PASSAGES)
    assert {q.source_docid: q.text for q in read_generated_queries(result.queries_path)} == {
        d: expected_query(t) for d, t in PASSAGES.items()
    }
    written = Path(result.queries_path).read_text()
    # Without the passage records, every call is answered by the shared cache.
    (tmp_path / "passages.jsonl").unlink()
    again = generate_queries(corpus, cfg, tmp_path, progress=False)
    assert len(query_server.chat_requests()) == 2 * len(PASSAGES)
    assert Path(again.queries_path).read_text() == written


def test_a_given_backend_cannot_be_sharded(tmp_path: Path, corpus: dict[str, Document]) -> None:
    cfg = GenerationConfig(method="crop", num_shards=2)
    with pytest.raises(ValueError, match="do not pass a backend"):
        generate_queries(corpus, cfg, tmp_path, backend=object())  # type: ignore[arg-type]


@pytest.mark.slow
def test_ray_writes_what_one_process_writes(tmp_path: Path, corpus: dict[str, Document]) -> None:
    pytest.importorskip("ray")
    one = generate_queries(corpus, GenerationConfig(method="crop"), tmp_path / "one")
    for per_call in (1, 2):
        ray_cfg = GenerationConfig(method="crop", use_ray=True, passages_per_call=per_call)
        on_ray = generate_queries(corpus, ray_cfg, tmp_path / f"ray{per_call}", progress=False)
        assert Path(one.queries_path).read_bytes() == Path(on_ray.queries_path).read_bytes()


class _FirstWords(PassageQueryWriter):
    name = "first-words"
    teacher = "none"

    def write(self, doc: Document) -> PassageQueries:
        text = " ".join(doc.text.split()[:3])
        return PassageQueries([GeneratedQuery(f"fw-{doc.docid}", text, doc.docid, self.name)])


def test_a_registered_method_is_accepted_everywhere(
    tmp_path: Path, corpus: dict[str, Document]
) -> None:
    with pytest.raises(ValueError, match="unknown generation method 'first-words'"):
        GenerationConfig(method="first-words")
    entry = GenerationMethod(lambda cfg, backend, examples: _FirstWords(), False, "test")
    GENERATION_METHODS.register("first-words", entry)
    try:
        cfg = GenerationConfig.model_validate({"method": "first-words"})
        result = generate_queries(corpus, cfg, tmp_path, progress=False)
    finally:
        GENERATION_METHODS.unregister("first-words")
    assert {q.text for q in read_generated_queries(result.queries_path)} == {
        " ".join(t.split()[:3]) for t in PASSAGES.values()
    }


def test_several_passages_per_call_write_the_same_queries(
    query_server: QueryServer, corpus: dict[str, Document], tmp_path: Path
) -> None:
    one = generate_queries(corpus, _llm_cfg(query_server, per_passage=2), tmp_path / "one")
    assert query_server.max_in_flight <= 2  # one passage's two prompts at a time
    query_server.delay_s = 0.2  # keeps requests in flight long enough to overlap
    batched_cfg = _llm_cfg(query_server, per_passage=2, passages_per_call=3)
    batched = generate_queries(corpus, batched_cfg, tmp_path / "batched", progress=False)
    assert query_server.max_in_flight > 2  # three passages' prompts in one backend call
    assert len(query_server.chat_requests()) == 2 * 2 * len(PASSAGES)  # no cache shared
    assert Path(one.queries_path).read_text() == Path(batched.queries_path).read_text()
    assert batched.tokens == one.tokens
    records = (tmp_path / "batched" / "passages.jsonl").read_text().splitlines()
    assert [json.loads(r)["llm_calls"] for r in records] == [2] * len(PASSAGES)
