"""`rankdistill data ...` commands, run through typer's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rankdistill.cli.main import app
from rankdistill.data.builtin import builtin_dataset
from rankdistill.data.clicks import read_click_log
from rankdistill.data.jsonl import read_queries_jsonl
from rankdistill.data.loading import read_corpus, read_queries
from rankdistill.data.qrels import read_qrels
from rankdistill.data.rankllm import read_rankllm
from rankdistill.data.trec import read_trec_run, write_trec_run

runner = CliRunner()


def _invoke(*args: str):
    return runner.invoke(app, ["data", *args], catch_exceptions=False)


@pytest.mark.parametrize("command", ["convert", "stats", "select", "simulate-clicks"])
def test_help(command: str) -> None:
    result = _invoke(command, "--help")
    assert result.exit_code == 0 and "--format" in result.output


def test_stats_json_on_builtin_matches_the_data() -> None:
    result = _invoke("stats", "--split", "dev", "--json")
    assert result.exit_code == 0, result.output
    stats = json.loads(result.output)
    dev = builtin_dataset("dev")
    assert dev.qrels is not None
    assert stats["queries"] == 40 and stats["documents"] == len(dev.corpus)
    assert stats["qrels"]["grade_histogram"] == {"0": 280, "1": 320, "2": 40, "3": 40}
    assert sum(stats["segments"].values()) == 40 and stats["segmented_by"] == "frequency"
    assert sum(stats["length_buckets"].values()) == 40
    by_length = json.loads(_invoke("stats", "--split", "dev", "--json", "--by", "length").output)
    assert by_length["segmented_by"] == "length"
    expected_head = sum(len(q.text.split()) <= 3 for q in dev.queries.values())
    assert by_length["segments"]["head"] == expected_head


def test_stats_table_renders() -> None:
    result = _invoke("stats", "--split", "train", "--max-queries", "10")
    assert result.exit_code == 0 and "queries" in result.output and "10" in result.output


def test_convert_builtin_to_jsonl_and_trec(tmp_path: Path) -> None:
    dev = builtin_dataset("dev")
    assert _invoke("convert", "--to", "jsonl", "--out", str(tmp_path / "j")).exit_code == 0
    assert read_queries(tmp_path / "j" / "queries.jsonl") == dev.queries
    assert read_corpus(tmp_path / "j" / "corpus.jsonl") == dev.corpus
    assert read_qrels(tmp_path / "j" / "qrels.txt") == dev.qrels
    assert _invoke("convert", "--to", "trec", "--out", str(tmp_path / "t")).exit_code == 0
    assert read_corpus(tmp_path / "t" / "corpus.tsv") == dev.corpus


def test_convert_trec_with_run_to_rankllm(tmp_path: Path) -> None:
    dev = builtin_dataset("dev")
    _invoke("convert", "--to", "trec", "--out", str(tmp_path / "t"))
    run = {
        qid: {d: float(g) for d, g in judged.items()} for qid, judged in (dev.qrels or {}).items()
    }
    write_trec_run(run, tmp_path / "t" / "run.trec")
    result = _invoke(
        "convert",
        "--to",
        "rankllm",
        "--out",
        str(tmp_path / "r"),
        "--k",
        "5",
        "-f",
        "trec",
        "--queries",
        str(tmp_path / "t" / "queries.tsv"),
        "--corpus",
        str(tmp_path / "t" / "corpus.tsv"),
        "-c",
        str(tmp_path / "t" / "run.trec"),
        "--qrels",
        str(tmp_path / "t" / "qrels.txt"),
    )
    assert result.exit_code == 0, result.output
    back = read_rankllm(tmp_path / "r" / "candidates.json")
    assert back.queries.keys() == dev.queries.keys()
    assert all(len(c) == 5 for c in back.candidates.values())
    assert read_qrels(tmp_path / "r" / "qrels.json") == dev.qrels


def test_convert_to_rankllm_without_candidates_fails_cleanly(tmp_path: Path) -> None:
    result = runner.invoke(app, ["data", "convert", "--to", "rankllm", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "has none" in result.output


def test_bad_input_exits_with_the_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "q.tsv"
    bad.write_text("1\tfine\n2\t\n", encoding="utf-8")
    (tmp_path / "c.tsv").write_text("d\ttext\n", encoding="utf-8")
    result = runner.invoke(
        app,
        ["data", "stats", "-f", "trec", "--queries", str(bad), "--corpus", str(tmp_path / "c.tsv")],
    )
    assert result.exit_code == 2
    assert f"{bad}:2" in result.output and "empty text" in result.output


def test_select_keeps_tail_queries(tmp_path: Path) -> None:
    out = tmp_path / "tail.jsonl"
    result = _invoke("select", "--keep", "tail", "--by", "length", "--out", str(out))
    assert result.exit_code == 0, result.output
    kept = read_queries_jsonl(out)
    dev = builtin_dataset("dev")
    expected = {q for q, v in dev.queries.items() if len(v.text.split()) >= 6}
    assert set(kept) == expected and {q.segment for q in kept.values()} == {"tail"}
    assert f"kept {len(expected)} of 40" in result.output
    assert (
        runner.invoke(app, ["data", "select", "--keep", "middle", "--out", str(out)]).exit_code == 2
    )


def test_simulate_clicks_from_a_run(tmp_path: Path) -> None:
    dev = builtin_dataset("dev")
    assert dev.qrels is not None
    run = {qid: {d: float(i) for i, d in enumerate(judged)} for qid, judged in dev.qrels.items()}
    write_trec_run(run, tmp_path / "run.trec")
    out = tmp_path / "clicks.tsv"
    result = _invoke(
        "simulate-clicks",
        "--run",
        str(tmp_path / "run.trec"),
        "--out",
        str(out),
        "--sessions",
        "20",
        "--depth",
        "5",
        "--seed",
        "3",
    )
    assert result.exit_code == 0, result.output
    records = read_click_log(out)
    assert len(records) == 40 * 5 and all(r.impressions == 20 for r in records)
    assert read_trec_run(tmp_path / "run.trec") == run
    no_run = runner.invoke(app, ["data", "simulate-clicks", "--out", str(out)])
    assert no_run.exit_code == 2 and "needs a ranking" in no_run.output
