"""Qrels auto-detection, BEIR folders and plain JSONL queries / corpora."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rankdistill.data.beir import read_beir, read_beir_qrels
from rankdistill.data.errors import DataFormatError
from rankdistill.data.jsonl import (
    read_corpus_jsonl,
    read_queries_jsonl,
    write_corpus_jsonl,
    write_queries_jsonl,
)
from rankdistill.data.qrels import read_qrels, write_qrels_json
from rankdistill.data.records import Document, Query

QRELS = {"q1": {"d1": 3, "d2": 0}, "q2": {"d3": 1}}


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def _jsonl(path: Path, rows: list[object]) -> Path:
    return _write(path, "".join(json.dumps(r) + "\n" for r in rows))


# ---------------------------------------------------------------- qrels


def test_read_qrels_detects_json_with_string_grades(tmp_path: Path) -> None:
    path = _write(tmp_path / "q.json", '{"q1": {"d1": "3", "d2": "0"}, "q2": {"d3": 1}}')
    assert read_qrels(path) == QRELS


def test_read_qrels_detects_trec_and_beir(tmp_path: Path) -> None:
    trec = _write(tmp_path / "q.txt", "q1 0 d1 3\nq1 0 d2 0\nq2 Q0 d3 1\n")
    beir = _write(
        tmp_path / "q.tsv", "query-id\tcorpus-id\tscore\nq1\td1\t3\nq1\td2\t0\nq2\td3\t1\n"
    )
    assert read_qrels(trec) == QRELS
    assert read_qrels(beir) == QRELS


def test_write_qrels_json_round_trip_with_string_grades(tmp_path: Path) -> None:
    path = write_qrels_json(QRELS, tmp_path / "out.json")
    assert json.loads(path.read_text())["q1"] == {"d1": "3", "d2": "0"}
    assert read_qrels(path) == QRELS


def test_json_qrels_non_numeric_grade_names_json_path(tmp_path: Path) -> None:
    path = _write(tmp_path / "q.json", '{"q1": {"d1": "3", "d2": "high"}}')
    with pytest.raises(DataFormatError, match="not an integer") as info:
        read_qrels(path)
    assert info.value.field == '["q1"]["d2"]'


def test_json_qrels_wrong_shape(tmp_path: Path) -> None:
    with pytest.raises(DataFormatError, match="must map docids"):
        read_qrels(_write(tmp_path / "q.json", '{"q1": ["d1"]}'))


def test_beir_qrels_non_numeric_score(tmp_path: Path) -> None:
    path = _write(tmp_path / "q.tsv", "query-id\tcorpus-id\tscore\nq1\td1\tyes\n")
    with pytest.raises(DataFormatError, match="not an integer") as info:
        read_beir_qrels(path)
    assert (info.value.line, info.value.field) == (2, "score")


# ---------------------------------------------------------------- BEIR


def _beir_folder(root: Path) -> Path:
    _jsonl(
        root / "corpus.jsonl",
        [
            {"_id": "d1", "title": "Reranking", "text": "Cross-encoders rerank."},
            {"_id": "d2", "title": "", "text": "BM25 retrieves."},
            {"_id": "d3", "text": "Dense retrieval."},
        ],
    )
    _jsonl(
        root / "queries.jsonl",
        [
            {"_id": "q1", "text": "what reranks"},
            {"_id": "q2", "text": "what retrieves"},
            {"_id": "q3", "text": "train only query"},
        ],
    )
    _write(root / "qrels" / "test.tsv", "query-id\tcorpus-id\tscore\nq1\td1\t2\nq2\td2\t1\n")
    _write(root / "qrels" / "train.tsv", "query-id\tcorpus-id\tscore\nq3\td3\t1\n")
    return root


def test_read_beir_keeps_the_split_queries(tmp_path: Path) -> None:
    data = read_beir(_beir_folder(tmp_path / "beir"), split="test")
    assert set(data.queries) == {"q1", "q2"}
    assert data.qrels == {"q1": {"d1": 2}, "q2": {"d2": 1}}
    assert data.corpus["d1"] == Document("d1", "Cross-encoders rerank.", "Reranking")
    assert data.corpus["d2"].title is None  # an empty title is no title
    assert data.candidates == {}
    assert set(read_beir(tmp_path / "beir", split="train").queries) == {"q3"}


def test_read_beir_missing_split_lists_available(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"available: \['test', 'train'\]"):
        read_beir(_beir_folder(tmp_path / "beir"), split="dev")


def test_read_beir_qrels_with_unknown_document(tmp_path: Path) -> None:
    root = _beir_folder(tmp_path / "beir")
    _write(root / "qrels" / "test.tsv", "query-id\tcorpus-id\tscore\nq1\tzzz\t1\n")
    with pytest.raises(ValueError, match=r"not in corpus\.jsonl"):
        read_beir(root)


# ---------------------------------------------------------------- JSONL


def test_jsonl_queries_accept_aliases_and_round_trip(tmp_path: Path) -> None:
    path = _jsonl(
        tmp_path / "q.jsonl",
        [
            {"qid": 1, "text": "short query", "frequency": 40},
            {"_id": "2", "query": "a much longer tail query", "segment": "tail"},
        ],
    )
    queries = read_queries_jsonl(path)
    assert queries == {
        "1": Query("1", "short query", 40),
        "2": Query("2", "a much longer tail query", None, "tail"),
    }
    assert read_queries_jsonl(write_queries_jsonl(queries, tmp_path / "back.jsonl")) == queries


def test_jsonl_corpus_accepts_aliases_and_round_trips(tmp_path: Path) -> None:
    path = _jsonl(
        tmp_path / "c.jsonl",
        [
            {"docid": "d1", "text": "passage one", "title": "One"},
            {"_id": "d2", "contents": "pyserini style"},
            {"docid": "d3", "text": "", "title": "title only"},
        ],
    )
    corpus = read_corpus_jsonl(path)
    assert corpus == {
        "d1": Document("d1", "passage one", "One"),
        "d2": Document("d2", "pyserini style"),
        "d3": Document("d3", "", "title only"),
    }
    assert read_corpus_jsonl(write_corpus_jsonl(corpus, tmp_path / "back.jsonl")) == corpus


@pytest.mark.parametrize(
    ("lines", "line", "field", "problem"),
    [
        (['{"qid": "1", "text": "ok"}', '{"qid": "2", "text": '], 2, None, "invalid JSON"),
        (['{"qid": "1", "text": "ok"}', '{"text": "no id"}'], 2, "qid", "missing"),
        (['{"qid": "1"}'], 1, "text", "missing"),
        (['{"qid": "1", "text": "  "}'], 1, "text", "empty text"),
        (['{"qid": "1", "text": "a"}', '{"qid": "1", "text": "b"}'], 2, "qid", "different text"),
        (['{"qid": "1", "text": "a", "frequency": -3}'], 1, "frequency", ">= 0"),
        (['{"qid": "1", "text": "a", "frequency": "often"}'], 1, "frequency", "not an integer"),
        (['{"qid": "1", "text": "a", "segment": "middle"}'], 1, "segment", "must be one of"),
        (['{"qid": true, "text": "a"}'], 1, "qid", "string or integer"),
        (['["qid", "text"]'], 1, None, "expected a JSON object"),
    ],
)
def test_jsonl_query_errors(
    tmp_path: Path, lines: list[str], line: int, field: str | None, problem: str
) -> None:
    path = _write(tmp_path / "bad.jsonl", "\n".join(lines) + "\n")
    with pytest.raises(DataFormatError, match=problem) as info:
        read_queries_jsonl(path)
    assert (info.value.path, info.value.line, info.value.field) == (str(path), line, field)


@pytest.mark.parametrize(
    ("rows", "line", "field", "problem"),
    [
        (
            [{"docid": "d1", "text": "a"}, {"docid": "d1", "text": "b"}],
            2,
            "docid",
            "different text",
        ),
        ([{"docid": "d1"}], 1, "text", "missing"),
        ([{"docid": "d1", "text": ""}], 1, "text", "empty text"),
        ([{"docid": "d1", "text": 5}], 1, "text", "must be a string"),
    ],
)
def test_jsonl_corpus_errors(
    tmp_path: Path, rows: list[dict], line: int, field: str, problem: str
) -> None:
    path = _jsonl(tmp_path / "bad.jsonl", rows)
    with pytest.raises(DataFormatError, match=problem) as info:
        read_corpus_jsonl(path)
    assert (info.value.line, info.value.field) == (line, field)
