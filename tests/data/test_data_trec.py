"""TREC run / qrels and TSV queries / corpus: good input, round trips, every malformed case."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from rankdistill.data.errors import DataFormatError
from rankdistill.data.records import Document, Query
from rankdistill.data.trec import (
    read_corpus_tsv,
    read_queries_tsv,
    read_trec_qrels,
    read_trec_run,
    write_corpus_tsv,
    write_queries_tsv,
    write_trec_qrels,
    write_trec_run,
)


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_read_trec_run_keeps_scores_and_file_order(tmp_path: Path) -> None:
    path = _write(
        tmp_path, "run.trec", "q1 Q0 d3 1 9.5 bm25\nq1 Q0 d1 2 7.25 bm25\n\nq2 Q0 d1 1 -1e-3 bm25\n"
    )
    run = read_trec_run(path)
    assert run == {"q1": {"d3": 9.5, "d1": 7.25}, "q2": {"d1": -0.001}}
    assert list(run["q1"]) == ["d3", "d1"]


def test_write_trec_run_ranks_by_score_stably(tmp_path: Path) -> None:
    run = {"q1": {"a": 1.0, "b": 3.0, "c": 1.0, "d": 2.0}}
    path = write_trec_run(run, tmp_path / "out.trec", tag="mine")
    lines = [line.split() for line in path.read_text().splitlines()]
    assert [(c[2], c[3]) for c in lines] == [("b", "1"), ("d", "2"), ("a", "3"), ("c", "4")]
    assert all(c[1] == "Q0" and c[5] == "mine" for c in lines)


def test_trec_run_round_trip_preserves_exact_floats(tmp_path: Path) -> None:
    run = {"q1": {"d1": 0.1 + 0.2, "d2": 1 / 3, "d3": -2.5e-12}, "q2": {"d9": 12345.678901234}}
    back = read_trec_run(write_trec_run(run, tmp_path / "r.trec"))
    assert back == run


def test_write_trec_run_rejects_whitespace_ids(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="whitespace"):
        write_trec_run({"q 1": {"d1": 1.0}}, tmp_path / "r.trec")
    with pytest.raises(ValueError, match="whitespace"):
        write_trec_run({"q1": {"d1": 1.0}}, tmp_path / "r.trec", tag="my tag")


def test_qrels_read_accepts_0_and_q0_and_round_trips(tmp_path: Path) -> None:
    path = _write(tmp_path, "qrels.txt", "q1 0 d1 3\nq1 Q0 d2 0\nq2 0 d1 -1\nq1 0 d1 3\n")
    qrels = read_trec_qrels(path)
    assert qrels == {"q1": {"d1": 3, "d2": 0}, "q2": {"d1": -1}}
    assert read_trec_qrels(write_trec_qrels(qrels, tmp_path / "back.txt")) == qrels


def test_queries_tsv_read_and_round_trip(tmp_path: Path) -> None:
    path = _write(
        tmp_path, "q.tsv", "1\twhat is bm25\r\n2\t  how do rerankers work \n1\twhat is bm25\n"
    )
    queries = read_queries_tsv(path)
    assert queries == {"1": Query("1", "what is bm25"), "2": Query("2", "how do rerankers work")}
    assert read_queries_tsv(write_queries_tsv(queries, tmp_path / "back.tsv")) == queries


def test_corpus_tsv_two_and_three_columns(tmp_path: Path) -> None:
    path = _write(tmp_path, "c.tsv", "d1\tplain passage\nd2\tA Title\tbody text\nd3\t\tno title\n")
    corpus = read_corpus_tsv(path)
    assert corpus["d1"] == Document("d1", "plain passage")
    assert corpus["d2"] == Document("d2", "body text", "A Title")
    assert corpus["d3"] == Document("d3", "no title")
    assert corpus["d2"].full_text == "A Title\nbody text"
    back = read_corpus_tsv(write_corpus_tsv(corpus, tmp_path / "back.tsv"))
    assert back == corpus


# Every malformed case of every reader: (reader, content, line, field, problem). Each must
# name its file, line and field, in the error and in its message.
MALFORMED = [
    (read_trec_run, "q1 Q0 d1 1 2.0\n", 1, None, "expected 6"),
    (read_trec_run, "q1 Q0 d1 1 2.0 t\nq1 Q0 d2 2 high t\n", 2, "score", "not a number"),
    (read_trec_run, "q1 Q0 d1 first 2.0 t\n", 1, "rank", "not an integer"),
    (read_trec_run, "q1 Q0 d1 1 2.0 t\nq1 Q0 d1 2 1.0 t\n", 2, "docid", "listed twice"),
    (read_trec_run, "q1 Q0 d1 1 nan t\n", 1, "score", "NaN"),
    (read_trec_qrels, "q1 0 d1 2\nq1 0 d2 relevant\n", 2, "rel", "not an integer"),
    (read_trec_qrels, "q1 0 d1 2\nq1 0 d2 1.5\n", 2, "rel", "not an integer"),
    (read_trec_qrels, "q1 0 d1\n", 1, None, "expected 4"),
    (read_trec_qrels, "q1 0 d1 2\nq1 0 d1 3\n", 2, "rel", "different grades"),
    (read_queries_tsv, "1\tok\n2\t   \n", 2, "text", "empty text"),
    (read_queries_tsv, "1\tok\n2\ttoo\tmany\n", 2, None, "expected 2"),
    (read_queries_tsv, "1\tfirst text\n1\tsecond text\n", 2, "qid", "different text"),
    (read_queries_tsv, "1\tok\n\tno id\n", 2, "qid", "empty id"),
    (read_corpus_tsv, "d1\ttext\nd1\tother text\n", 2, "docid", "different text"),
    (read_corpus_tsv, "d1\ttext\nd2\n", 2, None, "expected 2 or 3"),
    (read_corpus_tsv, "d1\ttext\nd2\t \n", 2, "text", "empty text"),
    (read_corpus_tsv, "d1\ttext\nd2\ta\tb\tc\n", 2, None, "got 4"),
]


@pytest.mark.parametrize(
    ("reader", "content", "line", "field", "problem"),
    MALFORMED,
    ids=[f"{case[0].__name__}-{case[4]}" for case in MALFORMED],
)
def test_readers_name_file_line_and_field_of_malformed_input(
    tmp_path: Path,
    reader: Callable[[Path], Any],
    content: str,
    line: int,
    field: str | None,
    problem: str,
) -> None:
    path = _write(tmp_path, "bad.txt", content)
    with pytest.raises(DataFormatError, match=problem) as info:
        reader(path)
    assert info.value.path == str(path) and info.value.line == line and info.value.field == field
    assert f"{path}:{line}" in str(info.value)


def test_duplicate_document_with_same_text_is_accepted(tmp_path: Path) -> None:
    path = _write(tmp_path, "c.tsv", "d1\tsame\nd1\tsame\n")
    assert read_corpus_tsv(path) == {"d1": Document("d1", "same")}


def test_tsv_writers_refuse_line_breaks(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="line break"):
        write_corpus_tsv({"d1": Document("d1", "two\nlines")}, tmp_path / "c.tsv")


def test_csv_quoted_fields_are_read_and_written(tmp_path: Path) -> None:
    # As Python's csv module writes TSV (novel-eval's corpus.tsv): quoted, inner quotes doubled.
    path = _write(
        tmp_path,
        "c.tsv",
        'd1\t"a\ttable ""cell"" row"\nd2\tHe said "hi" twice\nd3\t"unbalanced quote at start\n',
    )
    corpus = read_corpus_tsv(path)
    assert corpus["d1"].text == 'a\ttable "cell" row'
    assert corpus["d2"].text == 'He said "hi" twice'
    assert corpus["d3"].text == '"unbalanced quote at start'  # not valid CSV: kept as is
    assert read_corpus_tsv(write_corpus_tsv(corpus, tmp_path / "back.tsv")) == corpus
    queries = {"q": Query("q", "a\tb"), "r": Query("r", '"quoted" start')}
    assert read_queries_tsv(write_queries_tsv(queries, tmp_path / "q.tsv")) == queries


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no such file"):
        read_trec_run(tmp_path / "absent.trec")
