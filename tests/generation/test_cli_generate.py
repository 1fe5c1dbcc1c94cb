"""``rankdistill generate``: flags, config, errors, and a killed LLM run resumed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from rankdistill.cli.generate import generation_config, parse_corpus_spec
from rankdistill.generation.config import GenerationConfig
from rankdistill.generation.run import read_generated_queries
from tests.generation.query_server import PASSAGES, QueryServer, expected_query

pytest_plugins = ["tests.generation.query_server"]

REPO = Path(__file__).resolve().parents[2]


def _app() -> typer.Typer:
    from rankdistill.cli.main import app

    return app


def test_crop_through_the_command(corpus_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = CliRunner().invoke(
        _app(),
        [
            *("generate", f"jsonl:{corpus_file}", "--method", "crop", "--per-passage", "2"),
            *("--style", "keyword", "--out", str(out), "--no-progress"),
        ],
    )
    assert result.exit_code == 0, result.output
    queries = read_generated_queries(out / "queries.jsonl")
    assert queries and all(q.method == "crop" for q in queries)
    assert {q.source_docid for q in queries} <= set(PASSAGES)
    summary = json.loads((out / "generation_summary.json").read_text())
    assert summary["style"] == "keyword" and summary["passages"] == len(PASSAGES)
    assert f"kept: {len(queries)}" in result.output
    assert "round_trip: kept" in result.output
    # keyword crops are 2-4 words.
    assert all(2 <= len(q.text.split()) <= 4 for q in queries)


def test_flags_default_to_the_config_and_override_it(tmp_path: Path) -> None:
    assert generation_config(None, {"style": None, "seed": None}, []) == GenerationConfig()
    config = tmp_path / "run.yaml"
    config.write_text("generation:\n  style: tail\n  per_passage: 3\n  seed: 5\n")
    cfg = generation_config(config, {"style": None, "seed": 9, "kind": "openai"}, [])
    assert (cfg.style, cfg.per_passage, cfg.seed, cfg.backend.kind) == ("tail", 3, 9, "openai")
    cfg = generation_config(config, {}, ["generation.filters.round_trip.k=3", "shots=1"])
    assert (cfg.filters.round_trip.k, cfg.shots, cfg.style) == (3, 1, "tail")


def test_bad_input_is_one_line_exit_2(corpus_file: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(_app(), ["generate", "nosuch:x", "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert "FORMAT:PATH" in result.output and "rankllm, beir, jsonl, tsv, squad" in result.output
    result = runner.invoke(
        _app(), ["generate", f"jsonl:{corpus_file}", "--method", "nope", "--out", str(tmp_path)]
    )
    assert result.exit_code == 2
    assert "unknown generation method 'nope'; choose one of llm, crop" in result.output
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"docid": "a", "text": "fine"}\n{"docid": "b"}\n')
    result = runner.invoke(_app(), ["generate", f"jsonl:{bad}", "--out", str(tmp_path / "o")])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and f"{bad}:2: field 'text'" in lines[0]
    assert "Traceback" not in result.output


def test_corpus_spec_parsing() -> None:
    spec = parse_corpus_spec("rankllm:a.json,b.json")
    assert (spec.format, spec.paths) == ("rankllm", ["a.json", "b.json"])
    with pytest.raises(typer.BadParameter):
        parse_corpus_spec("beir:")


def test_registered_in_the_main_command() -> None:
    assert "generate" in {c.name for c in _app().registered_commands}


def _start(corpus_file: Path, out: Path, server: QueryServer) -> subprocess.Popen[bytes]:
    args = ["generate", f"jsonl:{corpus_file}", "--out", str(out), "--no-progress"]
    args += ["--method", "llm", "--backend", "openai", "--model", "test-model"]
    args += ["--per-passage", "2", "--set", f"backend.base_url={server.base_url}"]
    args += ["--set", "backend.api_key_env=RANKDISTILL_TEST_NO_KEY"]
    args += ["--set", "backend.max_retries=0"]
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    return subprocess.Popen(
        [sys.executable, "-m", "rankdistill", *args],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def _wait_for(condition: object, timeout: float, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if process.poll() is not None:
            raise AssertionError(f"generation ended early:\n{process.stdout.read().decode()}")  # type: ignore[union-attr]
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the server")
        time.sleep(0.05)


def test_killed_generation_resumes_without_repeating_a_call(
    query_server: QueryServer, corpus_file: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    prompts_per_passage = 2
    answered_before_kill = 2 * prompts_per_passage  # two whole passages
    query_server.answer_limit = answered_before_kill
    first = _start(corpus_file, out, query_server)
    try:
        # The third passage's requests arrive only after the second passage's record is
        # written; the server holds them unanswered, and the process is killed meanwhile.
        _wait_for(lambda: query_server.received() > answered_before_kill, 120, first)
        first.send_signal(signal.SIGKILL)
        first.wait(30)
    finally:
        if first.poll() is None:
            first.kill()
    killed_run = [json.dumps(b["messages"]) for b in query_server.answered]
    assert len(killed_run) == answered_before_kill
    assert len((out / "passages.jsonl").read_text().splitlines()) == 2

    query_server.answer_limit = None
    query_server.release.set()
    second = _start(corpus_file, out, query_server)
    output, _ = second.communicate(timeout=300)
    assert second.returncode == 0, output.decode()
    answered = [json.dumps(b["messages"]) for b in query_server.answered]
    resumed_run = answered[len(killed_run) :]
    # Every prompt was answered exactly once over both runs: nothing was asked again.
    assert len(answered) == len(set(answered)) == prompts_per_passage * len(PASSAGES)
    assert not set(resumed_run) & set(killed_run)
    queries = read_generated_queries(out / "queries.jsonl")
    assert {q.source_docid: q.text for q in queries} == {
        d: expected_query(t) for d, t in PASSAGES.items()
    }
    summary = json.loads((out / "generation_summary.json").read_text())
    assert summary["tokens"]["llm_calls"] == prompts_per_passage * len(PASSAGES)


def test_rerun_refilters_but_refuses_other_writer_settings(
    corpus_file: Path, tmp_path: Path
) -> None:
    runner, out = CliRunner(), tmp_path / "out"
    base = ["generate", f"jsonl:{corpus_file}", "--method", "crop", "--out", str(out)]
    assert runner.invoke(_app(), [*base, "--per-passage", "2"]).exit_code == 0
    records = (out / "passages.jsonl").read_text()
    # Filters and budget may change: the stored queries are filtered again.
    result = runner.invoke(_app(), [*base, "--per-passage", "2", "--max-queries", "3"])
    assert result.exit_code == 0, result.output
    assert len(read_generated_queries(out / "queries.jsonl")) == 3
    assert (out / "passages.jsonl").read_text() == records
    # Another writer setting would mix two kinds of queries in one folder.
    result = runner.invoke(_app(), [*base, "--per-passage", "3"])
    assert result.exit_code == 2
    assert "other settings (per_passage)" in result.output
    assert (out / "passages.jsonl").read_text() == records
