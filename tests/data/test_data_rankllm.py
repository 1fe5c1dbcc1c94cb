"""rank_llm "retrieve results" JSON: reading, concatenation, writing, malformed input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from rankdistill.data.errors import DataFormatError
from rankdistill.data.rankllm import read_rankllm, write_rankllm
from rankdistill.data.records import Document, Query, RankingData


def _hit(qid: Any, docid: str, rank: int, score: float, content: str) -> dict[str, Any]:
    return {"qid": qid, "docid": docid, "rank": rank, "score": score, "content": content}


def _entries() -> list[dict[str, Any]]:
    return [
        {
            "query": "what is a reranker",
            "hits": [
                _hit(101, "d1", 1, 9.0, "A reranker reorders candidates."),
                _hit(101, "d2", 2, 9.0, "BM25 is a lexical retriever."),
                _hit(101, "d3", 3, 4.5, "Unrelated passage."),
            ],
        },
        {
            "query": "bm25 formula",
            "hits": [
                _hit(102, "d2", 1, 12.0, "BM25 is a lexical retriever."),
            ],
        },
    ]


def _dump(tmp_path: Path, name: str, obj: Any) -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(obj, indent=1), encoding="utf-8")
    return path


def test_read_rankllm_queries_corpus_candidates(tmp_path: Path) -> None:
    data = read_rankllm(_dump(tmp_path, "a.json", _entries()))
    assert data.queries == {
        "101": Query("101", "what is a reranker"),
        "102": Query("102", "bm25 formula"),
    }
    assert data.corpus["d2"] == Document("d2", "BM25 is a lexical retriever.")
    assert len(data.corpus) == 3
    assert data.candidates["101"] == {"d1": 9.0, "d2": 9.0, "d3": 4.5}
    # Tied scores keep file order.
    assert data.candidate_list("101").docids == ["d1", "d2", "d3"]
    assert data.qrels is None


def test_scores_file_order_breaks_ties_by_position(tmp_path: Path) -> None:
    data = read_rankllm(_dump(tmp_path, "a.json", _entries()), scores="file_order")
    assert data.candidates["101"] == {"d1": 1.0, "d2": 0.5, "d3": 1 / 3}


def test_several_files_concatenate(tmp_path: Path) -> None:
    first, second = _entries()
    data = read_rankllm([_dump(tmp_path, "a.json", [first]), _dump(tmp_path, "b.json", [second])])
    assert list(data.queries) == ["101", "102"]
    assert set(data.candidates) == {"101", "102"}


def test_same_query_in_two_files_is_an_error(tmp_path: Path) -> None:
    a = _dump(tmp_path, "a.json", _entries())
    b = _dump(tmp_path, "b.json", _entries()[:1])
    with pytest.raises(DataFormatError, match="already read") as info:
        read_rankllm([a, b])
    assert info.value.path == str(b) and info.value.field == "[0].hits[0].qid"


def test_write_then_read_round_trip(tmp_path: Path) -> None:
    data = read_rankllm(_dump(tmp_path, "a.json", _entries()))
    run = {"101": {"d3": 5.0, "d1": 2.0, "d2": 7.0}, "102": {"d2": 1.0}}
    path = write_rankllm(data, run, tmp_path / "out.json")
    raw = json.loads(path.read_text())
    assert [h["docid"] for h in raw[0]["hits"]] == ["d2", "d3", "d1"]
    assert [h["rank"] for h in raw[0]["hits"]] == [1, 2, 3]
    assert raw[0]["hits"][0]["qid"] == 101  # numeric ids stay JSON integers
    back = read_rankllm(path)
    assert back.queries == data.queries and back.corpus == data.corpus
    assert back.candidates == run


def test_write_rankllm_cuts_at_k_and_keeps_titles(tmp_path: Path) -> None:
    data = RankingData(
        queries={"q-a": Query("q-a", "title query")},
        corpus={"x": Document("x", "body", "Title"), "y": Document("y", "other")},
    )
    path = write_rankllm(data, {"q-a": {"x": 1.0, "y": 2.0}}, tmp_path / "o.json", k=1)
    raw = json.loads(path.read_text())
    assert raw == [
        {
            "query": "title query",
            "hits": [{"qid": "q-a", "docid": "y", "rank": 1, "score": 2.0, "content": "other"}],
        }
    ]
    path = write_rankllm(data, {"q-a": {"x": 3.0}}, tmp_path / "o2.json")
    assert json.loads(path.read_text())[0]["hits"][0]["content"] == "Title\nbody"


def test_query_without_candidates_survives_round_trip(tmp_path: Path) -> None:
    data = RankingData(queries={"7": Query("7", "lonely")}, corpus={})
    back = read_rankllm(write_rankllm(data, {"7": {}}, tmp_path / "o.json"))
    assert back.queries == {"7": Query("7", "lonely")} and back.candidates == {"7": {}}


def test_write_rankllm_unknown_document(tmp_path: Path) -> None:
    data = RankingData(queries={"1": Query("1", "q")}, corpus={})
    with pytest.raises(ValueError, match="not in the corpus"):
        write_rankllm(data, {"1": {"zz": 1.0}}, tmp_path / "o.json")


def _broken(mutate) -> list[dict[str, Any]]:
    entries = _entries()
    mutate(entries)
    return entries


@pytest.mark.parametrize(
    ("mutate", "field", "problem"),
    [
        (lambda e: e[1]["hits"][0].pop("content"), "[1].hits[0].content", "missing"),
        (lambda e: e[0]["hits"][2].pop("docid"), "[0].hits[2].docid", "missing"),
        (lambda e: e[0]["hits"][1].update(docid="d1"), "[0].hits[1].docid", "listed twice"),
        (lambda e: e[0]["hits"][1].update(score="high"), "[0].hits[1].score", "not a number"),
        (lambda e: e[0]["hits"][1].update(qid=999), "[0].hits[1].qid", "differs"),
        (lambda e: e[0].update(query="  "), "[0].query", "empty text"),
        (lambda e: e[0].pop("query"), "[0].query", "missing"),
        (lambda e: e[1].pop("hits"), "[1].hits", "missing or not a list"),
        (lambda e: e[1].update(hits=[]), "[1].hits", "empty"),
        (
            lambda e: e[1]["hits"][0].update(content="different text"),
            "[1].hits[0].docid",
            "different text",
        ),
        (lambda e: e[0]["hits"][0].update(rank="first"), "[0].hits[0].rank", "not an integer"),
        (lambda e: e[0]["hits"].__setitem__(1, "d2"), "[0].hits[1]", "must be an object"),
    ],
)
def test_malformed_entries_name_the_json_path(
    tmp_path: Path, mutate, field: str, problem: str
) -> None:
    path = _dump(tmp_path, "bad.json", _broken(mutate))
    with pytest.raises(DataFormatError, match=problem) as info:
        read_rankllm(path)
    assert info.value.path == str(path)
    assert info.value.field == field
    assert field in str(info.value)


def test_invalid_json_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text('[\n{"query": "x",\n "hits": [}\n]', encoding="utf-8")
    with pytest.raises(DataFormatError, match="invalid JSON") as info:
        read_rankllm(path)
    assert info.value.line == 3


def test_top_level_must_be_a_list(tmp_path: Path) -> None:
    with pytest.raises(DataFormatError, match="must be a list"):
        read_rankllm(_dump(tmp_path, "bad.json", {"query": "x"}))
