"""load_dataset for every format, query logs, run detection and cross-file checks."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from rankdistill.data.config import DatasetSpec
from rankdistill.data.errors import DataFormatError
from rankdistill.data.loading import (
    LOADERS,
    load_dataset,
    read_corpus,
    read_queries,
    read_query_log,
    read_run,
    write_dataset,
)
from rankdistill.data.records import Document, Query, RankingData


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def _trec_files(root: Path) -> None:
    _write(
        root / "queries.tsv", "1\twhat is bm25\n2\thow do cross encoders rerank passages\n3\tx\n"
    )
    _write(
        root / "corpus.tsv",
        "d1\tBM25 is a bag-of-words ranking function.\n"
        "d2\tCross-encoders read query and passage together.\n",
    )
    _write(root / "run.trec", "1 Q0 d1 1 5.0 bm25\n1 Q0 d2 2 1.0 bm25\n2 Q0 d2 1 3.0 bm25\n")
    _write(root / "qrels.txt", "1 0 d1 2\n2 0 d2 3\n")


# The files _trec_files writes, as a dataset spec.
TREC_FILES = DatasetSpec(
    format="trec",
    queries="queries.tsv",
    corpus="corpus.tsv",
    candidates=["run.trec"],
    qrels="qrels.txt",
)


def test_registry_covers_every_configurable_format() -> None:
    from typing import get_args

    from rankdistill.data.config import DataFormat

    assert set(LOADERS) == set(get_args(DataFormat))


def test_load_trec_relative_to_base_dir(tmp_path: Path) -> None:
    _trec_files(tmp_path / "d")
    data = load_dataset(TREC_FILES, base_dir=tmp_path / "d")
    assert list(data.queries) == ["1", "2", "3"]
    assert data.candidates == {"1": {"d1": 5.0, "d2": 1.0}, "2": {"d2": 3.0}}
    assert data.qrels == {"1": {"d1": 2}, "2": {"d2": 3}}
    assert data.corpus["d2"] == Document("d2", "Cross-encoders read query and passage together.")


def test_load_jsonl_and_max_queries(tmp_path: Path) -> None:
    _write(tmp_path / "q.jsonl", '{"qid": "a", "text": "one"}\n{"qid": "b", "text": "two"}\n')
    _write(tmp_path / "c.jsonl", '{"docid": "x", "text": "passage", "title": "T"}\n')
    _write(tmp_path / "run.trec", "a Q0 x 1 1.0 t\nb Q0 x 1 2.0 t\n")
    spec = DatasetSpec(
        format="jsonl",
        queries=str(tmp_path / "q.jsonl"),
        corpus=str(tmp_path / "c.jsonl"),
        candidates=[str(tmp_path / "run.trec")],
        max_queries=1,
    )
    data = load_dataset(spec)
    assert list(data.queries) == ["a"] and list(data.candidates) == ["a"]
    assert data.corpus["x"].title == "T" and data.qrels is None


def test_load_rankllm_with_json_qrels(tmp_path: Path) -> None:
    hits = [
        {"qid": 5, "docid": "p1", "rank": 1, "score": 2.0, "content": "text one"},
        {"qid": 5, "docid": "p2", "rank": 2, "score": 1.0, "content": "text two"},
    ]
    _write(tmp_path / "c.json", json.dumps([{"query": "a question", "hits": hits}]))
    _write(tmp_path / "qrels.json", '{"5": {"p2": "3"}}')
    data = load_dataset(
        DatasetSpec(format="rankllm", candidates=["c.json"], qrels="qrels.json"), base_dir=tmp_path
    )
    assert data.queries == {"5": Query("5", "a question")}
    assert data.qrels == {"5": {"p2": 3}}
    assert data.candidate_list("5").docids == ["p1", "p2"]


def test_load_beir(tmp_path: Path) -> None:
    _write(tmp_path / "b" / "corpus.jsonl", '{"_id": "d", "title": "", "text": "t"}\n')
    _write(tmp_path / "b" / "queries.jsonl", '{"_id": "q", "text": "query"}\n')
    _write(tmp_path / "b" / "qrels" / "dev.tsv", "query-id\tcorpus-id\tscore\nq\td\t1\n")
    data = load_dataset(DatasetSpec(format="beir", path="b", split="dev"), base_dir=tmp_path)
    assert data.qrels == {"q": {"d": 1}} and set(data.queries) == {"q"}


def test_load_builtin_splits() -> None:
    data = load_dataset(DatasetSpec(format="builtin", split="dev", max_queries=5))
    assert (
        len(data.queries) == 5 and data.qrels is not None and set(data.qrels) == set(data.queries)
    )
    with pytest.raises(ValueError, match="'train' and 'dev'"):
        load_dataset(DatasetSpec(format="builtin", split="test"))


def test_unused_and_missing_fields_are_reported(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"does not use \['queries'\]"):
        load_dataset(DatasetSpec(format="builtin", queries="q.tsv"))
    with pytest.raises(ValueError, match="needs 'corpus'"):
        _write(tmp_path / "q.tsv", "1\tq\n")
        load_dataset(DatasetSpec(format="trec", queries="q.tsv"), base_dir=tmp_path)
    with pytest.raises(ValueError, match="needs 'candidates'"):
        load_dataset(DatasetSpec(format="rankllm"))


def test_candidates_must_name_known_queries_and_documents(tmp_path: Path) -> None:
    _trec_files(tmp_path)
    _write(tmp_path / "bad.trec", "1 Q0 ghost 1 1.0 t\n")
    spec = DatasetSpec(
        format="trec", queries="queries.tsv", corpus="corpus.tsv", candidates=["bad.trec"]
    )
    with pytest.raises(ValueError, match="not in the corpus"):
        load_dataset(spec, base_dir=tmp_path)
    _write(tmp_path / "bad2.trec", "99 Q0 d1 1 1.0 t\n")
    with pytest.raises(ValueError, match="not among the queries"):
        load_dataset(spec.model_copy(update={"candidates": ["bad2.trec"]}), base_dir=tmp_path)


def test_two_run_files_concatenate_but_may_not_overlap(tmp_path: Path) -> None:
    _trec_files(tmp_path)
    _write(tmp_path / "more.trec", "3 Q0 d2 1 0.5 t\n")
    spec = DatasetSpec(
        format="trec",
        queries="queries.tsv",
        corpus="corpus.tsv",
        candidates=["run.trec", "more.trec"],
    )
    assert set(load_dataset(spec, base_dir=tmp_path).candidates) == {"1", "2", "3"}
    with pytest.raises(ValueError, match="already has candidates"):
        load_dataset(
            spec.model_copy(update={"candidates": ["run.trec", "run.trec"]}), base_dir=tmp_path
        )


def test_query_log_tsv_and_jsonl(tmp_path: Path) -> None:
    tsv = _write(tmp_path / "log.tsv", "query\tcount\nWhat is  BM25\t10\nwhat is bm25\t5\nx\t1\n")
    assert read_query_log(tsv) == {"what is bm25": 15, "x": 1}
    jsonl = _write(tmp_path / "log.jsonl", '{"query": "What is BM25", "count": 7}\n')
    assert read_query_log(jsonl) == {"what is bm25": 7}
    with pytest.raises(DataFormatError, match="not an integer") as info:
        read_query_log(_write(tmp_path / "bad.tsv", "a\t1\nb\tlots\n"))
    assert (info.value.line, info.value.field) == (2, "count")
    with pytest.raises(DataFormatError, match=">= 0"):
        read_query_log(_write(tmp_path / "neg.jsonl", '{"query": "a", "count": -1}\n'))


def test_query_log_frequencies_are_attached(tmp_path: Path) -> None:
    _trec_files(tmp_path)
    _write(tmp_path / "log.tsv", "WHAT IS BM25\t40\nhow do cross encoders rerank passages\t2\n")
    spec = DatasetSpec(
        format="trec", queries="queries.tsv", corpus="corpus.tsv", query_log="log.tsv"
    )
    data = load_dataset(spec, base_dir=tmp_path)
    assert {q: v.frequency for q, v in data.queries.items()} == {"1": 40, "2": 2, "3": 0}


def test_read_run_detects_trec_and_rankllm(tmp_path: Path) -> None:
    trec = _write(tmp_path / "r.txt", "1 Q0 d1 1 2.5 t\n")
    hits = [{"qid": 1, "docid": "d1", "rank": 1, "score": 2.5, "content": "c"}]
    rankllm = _write(tmp_path / "r.data", json.dumps([{"query": "q", "hits": hits}]))
    assert read_run(trec) == read_run(rankllm) == {"1": {"d1": 2.5}}


def test_read_queries_and_corpus_detect_jsonl(tmp_path: Path) -> None:
    q = _write(tmp_path / "queries.txt", '{"qid": "1", "text": "hello"}\n')
    assert read_queries(q) == {"1": Query("1", "hello")}
    c = _write(tmp_path / "docs.tsv", "d\tTitle\tbody\n")
    assert read_corpus(c) == {"d": Document("d", "body", "Title")}


@pytest.mark.skipif(
    importlib.util.find_spec("ir_datasets") is not None, reason="ir_datasets is installed here"
)
def test_irds_without_package_is_a_clear_error() -> None:
    with pytest.raises(ImportError, match="pip install ir_datasets"):
        load_dataset(DatasetSpec(format="irds", path="msmarco-passage/trec-dl-2020"))


@pytest.mark.parametrize("fmt", ["trec", "jsonl"])
def test_write_dataset_then_load_gives_the_same_data(tmp_path: Path, fmt: str) -> None:
    _trec_files(tmp_path / "in")
    data = load_dataset(TREC_FILES, base_dir=tmp_path / "in")
    written = write_dataset(data, fmt, tmp_path / "out")
    ext = "tsv" if fmt == "trec" else "jsonl"
    assert {p.name for p in written} == {f"queries.{ext}", f"corpus.{ext}", "run.trec", "qrels.txt"}
    back = load_dataset(
        DatasetSpec(
            format=fmt,
            queries=f"queries.{ext}",
            corpus=f"corpus.{ext}",
            candidates=["run.trec"],
            qrels="qrels.txt",
        ),
        base_dir=tmp_path / "out",
    )
    assert (back.queries, back.corpus, back.candidates, back.qrels) == (
        data.queries,
        data.corpus,
        data.candidates,
        data.qrels,
    )


def test_write_dataset_rankllm_needs_candidates(tmp_path: Path) -> None:
    data = RankingData(queries={"1": Query("1", "q")}, corpus={})
    with pytest.raises(ValueError, match="has none"):
        write_dataset(data, "rankllm", tmp_path)
    with pytest.raises(ValueError, match="unknown output format"):
        write_dataset(data, "parquet", tmp_path)
