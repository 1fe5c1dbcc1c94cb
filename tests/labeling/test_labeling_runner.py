"""Label store, statistics, the runner (resume, cache, shards), and the `label` command.

LLM calls go to the real local OpenAI-protocol test server over HTTP; the resume test
kills a real `rankdistill label` process mid-run.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rankdistill.data.errors import DataFormatError
from rankdistill.data.records import Document, LabelRecord, Query, RankingData
from rankdistill.labeling.config import BackendConfig, LabelingConfig, PrerankConfig
from rankdistill.labeling.runner import run_labeling
from rankdistill.labeling.stats import format_statistics, kendall_tau, label_statistics
from rankdistill.labeling.store import LabelStore, read_labels
from tests.openai_server import OpenAITestServer, RecordedRequest

pytest_plugins = ["tests.openai_server"]
REPO = Path(__file__).resolve().parents[2]

TOPICS = [
    "solar panel",
    "banana bread",
    "football score",
    "river delta",
    "jazz piano",
    "tax refund",
    "wisdom tooth",
    "hall fame",
]
FILLER = ["weather report", "stock market", "garden tools", "train timetable"]


def synthetic_rankllm(path: Path, n_queries: int = 8) -> Path:
    """A small rank_llm JSON file: each query has 3 on-topic and 4 off-topic passages."""
    entries = []
    for q, topic in enumerate(TOPICS[:n_queries]):
        hits = []
        texts = [f"all about {topic} basics", f"{topic} tips for beginners", f"history of {topic}"]
        texts += [f"notes on {f} number {q}" for f in FILLER]
        for rank, text in enumerate(texts, start=1):
            hits.append(
                {
                    "qid": f"q{q}",
                    "docid": f"q{q}d{rank}",
                    "rank": rank,
                    "score": float(20 - rank),
                    "content": text,
                }
            )
        entries.append({"query": f"{topic} guide", "hits": hits})
    path.write_text(json.dumps(entries), encoding="utf-8")
    return path


def _data(tmp_path: Path, n: int = 8) -> RankingData:
    from rankdistill.data.rankllm import read_rankllm

    return read_rankllm(synthetic_rankllm(tmp_path / "cands.json", n))


def _cfg(server: OpenAITestServer, **changes: object) -> LabelingConfig:
    cfg = LabelingConfig(
        backend=BackendConfig(kind="openai", model="test-model", base_url=server.base_url),
        prerank=PrerankConfig(scorer="first-stage", candidates=7, top_k=3, bottom_k=2),
    )
    return cfg.model_copy(update=changes)


def _record(qid: str, **fields: object) -> LabelRecord:
    base = {
        "qid": qid,
        "query": f"query {qid}",
        "docids": ["a"],
        "method": "rradistill",
        "teacher": "t",
    }
    return LabelRecord.from_dict(base | fields)


# --------------------------------------------------------------------------- store
def test_store_appends_resumes_and_repairs_a_cut_line(tmp_path: Path) -> None:
    path = tmp_path / "labels.jsonl"
    store = LabelStore(path)
    store.append(_record("q1", grades={"a": 1.0}))
    store.append(_record("q2"))
    assert store.done_qids() == {"q1", "q2"}
    with pytest.raises(ValueError, match="already labelled"):
        store.append(_record("q1"))
    # A kill in the middle of a write leaves half a line without its newline.
    with path.open("a", encoding="utf-8") as fh:
        fh.write('{"qid": "q3", "query": "cut sho')
    assert [r.qid for r in read_labels(path)] == ["q1", "q2"]  # tolerated when reading
    reopened = LabelStore(path)
    assert reopened.repaired and reopened.done_qids() == {"q1", "q2"}
    reopened.append(_record("q3"))
    assert [r.qid for r in read_labels(path)] == ["q1", "q2", "q3"]
    assert read_labels(path)[0].grades == {"a": 1.0}


def test_read_labels_errors_name_line_and_field(tmp_path: Path) -> None:
    good = json.dumps(_record("q1").to_dict())
    cases = {
        "bad json": (f"{good}\n{{oops\n{good}\n", r"bad\.jsonl:2: invalid JSON"),
        "type": (
            good + "\n" + good.replace('"docids": ["a"]', '"docids": "a"') + "\n",
            r":2: field 'docids': expected list",
        ),
        "grade": (
            good.replace('"grades": {}', '"grades": {"a": "high"}') + "\n",
            r":1: field 'grades'",
        ),
        "missing": (json.dumps({"qid": "q"}) + "\n", r":1: field 'query': required"),
        "unknown": (good.replace('"qid"', '"qid2": 1, "qid"') + "\n", r":1: field 'qid2'"),
        "duplicate": (f"{good}\n{good}\n", r":2: field 'qid': .*already labelled on line 1"),
    }
    for name, (text, pattern) in cases.items():
        path = tmp_path / "bad.jsonl"
        path.write_text(text, encoding="utf-8")
        with pytest.raises(DataFormatError, match=pattern):
            read_labels(path)
        assert name


def test_parquet_copy(tmp_path: Path) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    store = LabelStore(tmp_path / "labels.jsonl")
    store.append(_record("q1", grades={"a": 2.0}, missing=["b"]))
    table = pq.read_table(store.to_parquet(tmp_path / "labels.parquet")).to_pylist()
    assert table[0]["qid"] == "q1" and json.loads(table[0]["grades"]) == {"a": 2.0}


# --------------------------------------------------------------------------- statistics
def test_statistics_on_a_constructed_case() -> None:
    r1 = _record(
        "q1",
        docids=["a", "b", "c", "d"],
        missing=["c", "d"],
        grades={"b": 2.0, "a": 1.0, "c": 0.0, "d": 0.0},
        extra={"listed": ["b", "a"], "prerank_scores": {"a": 4.0, "b": 3.0, "c": 2.0, "d": 1.0}},
        llm_calls=1,
        prompt_tokens=100,
        completion_tokens=10,
        parse_problems={"truncated": 1},
    )
    r2 = _record(
        "q2",
        docids=["e", "f"],
        missing=["e", "f"],
        grades={"e": 0.0, "f": 0.0},
        extra={"listed": [], "prerank_scores": {"e": 2.0, "f": 1.0}},
        llm_calls=1,
        prompt_tokens=80,
        completion_tokens=2,
        parse_problems={"explicit_none": 1},
    )
    stats = label_statistics([r1, r2])
    assert stats["queries"] == 2
    assert stats["llm_calls"] == {"total": 2, "per_query": 1.0}
    assert stats["prompt_tokens"]["per_query"] == 90.0
    assert stats["completion_tokens"]["per_query"] == 6.0
    assert stats["missing"]["rate"] == pytest.approx(4 / 6)
    assert stats["missing"]["queries_all_missing"] == 1
    assert stats["list_length"]["mean"] == 1.0
    assert (stats["list_length"]["min"], stats["list_length"]["max"]) == (0, 2)
    assert stats["parse_problems"] == {"explicit_none": 1, "truncated": 1}
    assert stats["queries_with_parse_problems"] == 2
    assert stats["grades"] == {"0": 4, "1": 1, "2": 1}
    # By hand, q1: 4 concordant, 1 discordant pair (a,b), one tie in grades (c,d):
    # tau-b = (4 - 1) / sqrt((6 - 1) * 6). q2's grades are constant: undefined, skipped.
    assert stats["agreement_with_prerank"]["kendall_tau_mean"] == pytest.approx(3 / math.sqrt(30))
    assert stats["agreement_with_prerank"]["queries"] == 1
    # An external pre-ranker run replaces the scores the records carry.
    reversed_run = {"q1": {"a": 1.0, "b": 2.0, "c": 3.0, "d": 4.0}}
    flipped = label_statistics([r1, r2], prerank_run=reversed_run)["agreement_with_prerank"]
    assert flipped["kendall_tau_mean"] == pytest.approx(-3 / math.sqrt(30))
    with_qrels = label_statistics([r1], qrels={"q1": {"a": 1, "b": 2, "c": 0}})
    assert with_qrels["agreement_with_qrels"]["kendall_tau_mean"] == pytest.approx(1.0)
    text = format_statistics(stats)
    assert "missing rate            0.667" in text and "truncated: 1" in text
    assert kendall_tau({"a": 1.0}, {"a": 2.0}) is None


# --------------------------------------------------------------------------- runner
def test_run_labeling_resumes_and_caches(tmp_path: Path, openai_server: OpenAITestServer) -> None:
    data = _data(tmp_path, 4)
    out = tmp_path / "out"
    result = run_labeling(data, _cfg(openai_server), out, progress=False)
    records = read_labels(result.labels_path)
    assert [r.qid for r in records] == ["q0", "q1", "q2", "q3"]
    assert len(openai_server.chat_requests()) == 4
    for record in records:
        # The oracle lists the 3 on-topic passages (the top-3 by first stage) only.
        assert sorted(record.extra["listed"]) == sorted(record.extra["top_docids"])
        assert len(record.docids) == 5 and len(record.missing) == 2
    assert json.loads(result.stats_path.read_text())["queries"] == 4
    assert result.stats["missing"]["rate"] == pytest.approx(2 / 5)
    assert (out / "llm_cache.sqlite").is_file()

    again = run_labeling(data, _cfg(openai_server), out, progress=False)
    assert len(openai_server.chat_requests()) == 4  # everything was already labelled
    assert again.stats == result.stats

    # Losing the labels file costs no LLM call: every answer comes from the cache.
    result.labels_path.unlink()
    rebuilt = run_labeling(data, _cfg(openai_server), out, progress=False)
    assert len(openai_server.chat_requests()) == 4
    assert [r.to_dict() for r in read_labels(rebuilt.labels_path)] == [r.to_dict() for r in records]


def test_sharded_run_merges_deterministically(
    tmp_path: Path, openai_server: OpenAITestServer
) -> None:
    data = _data(tmp_path, 5)
    result = run_labeling(data, _cfg(openai_server, num_shards=2), tmp_path / "out", progress=False)
    records = read_labels(result.labels_path)
    assert [r.qid for r in records] == ["q0", "q1", "q2", "q3", "q4"]  # data order
    assert len(openai_server.chat_requests()) == 5
    assert not list((tmp_path / "out" / "shards").glob("*.jsonl"))
    single = run_labeling(data, _cfg(openai_server), tmp_path / "single", progress=False)
    assert [r.grades for r in records] == [r.grades for r in read_labels(single.labels_path)]


def test_leftover_shards_are_merged_on_resume(
    tmp_path: Path, openai_server: OpenAITestServer
) -> None:
    data = _data(tmp_path, 3)
    out = tmp_path / "out"
    shard = LabelStore(out / "shards" / "labels.shard-001.jsonl")
    shard.append(_record("q1", query="kept from the shard"))
    result = run_labeling(data, _cfg(openai_server), out, progress=False)
    records = read_labels(result.labels_path)
    assert sorted(r.qid for r in records) == ["q0", "q1", "q2"]
    assert next(r for r in records if r.qid == "q1").query == "kept from the shard"
    assert len(openai_server.chat_requests()) == 2


def test_backend_instance_with_shards_is_refused(tmp_path: Path) -> None:
    from tests.labeling.test_labeling_methods import OracleRanker

    with pytest.raises(ValueError, match="do not pass a backend"):
        run_labeling(
            _data(tmp_path, 1),
            LabelingConfig(num_shards=2),
            tmp_path / "o",
            backend=OracleRanker({}),
        )


def test_killed_label_command_resumes_without_repeating_calls(
    tmp_path: Path, openai_server: OpenAITestServer
) -> None:
    cands = synthetic_rankllm(tmp_path / "cands.json", 8)
    out = tmp_path / "out"
    openai_server.delay_s = 0.4  # slow enough to kill the run part-way
    args = [
        "label",
        "--method",
        "rradistill",
        "--data",
        str(cands),
        "--out",
        str(out),
        "--backend",
        "openai",
        "--model",
        "test-model",
        "--no-progress",
        "--set",
        f"backend.base_url={openai_server.base_url}",
        "--set",
        "prerank.scorer=first-stage",
        "--set",
        "prerank.top_k=3",
        "--set",
        "prerank.bottom_k=2",
    ]
    code = "import sys; from rankdistill.cli.main import app; sys.argv[0] = 'rankdistill'; app()"
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    proc = subprocess.Popen(
        [sys.executable, "-c", code, *args],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    labels = out / "labels.jsonl"
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:
            if labels.is_file() and labels.read_text(encoding="utf-8").count("\n") >= 3:
                break
            if proc.poll() is not None:
                pytest.fail(f"label command ended early: {proc.stderr.read().decode()[-2000:]}")
            time.sleep(0.05)
        else:
            pytest.fail("no labels written within 120 s")
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finished = [r.qid for r in read_labels(labels)]
    assert 3 <= len(finished) < 8
    with labels.open("a", encoding="utf-8") as fh:  # and a write cut short by the kill
        fh.write('{"qid": "q7", "query": "football')
    # A request the kill cut off mid-body reaches the server without a JSON body, possibly
    # after this line: only whole requests count.
    requests_before = len(_whole_requests(openai_server))

    openai_server.delay_s = 0.0
    result = CliRunner().invoke(_app(), args)
    assert result.exit_code == 0, result.output
    records = read_labels(labels)
    assert sorted(r.qid for r in records) == [f"q{i}" for i in range(8)]  # none lost, none twice
    queries = {r.qid: r.query for r in records}
    texts = [r.body["messages"][-1]["content"] for r in _whole_requests(openai_server)]
    for qid in finished:  # no finished query was asked again
        assert sum(f"Search query: {queries[qid]}\n" in t for t in texts) == 1
    # Unfinished queries: one call each, plus at most the call in flight at the kill.
    new_requests = len(_whole_requests(openai_server)) - requests_before
    assert 8 - len(finished) - 1 <= new_requests <= 8 - len(finished)
    assert "LLM calls / query       1.00" in result.output


def _whole_requests(server: OpenAITestServer) -> list[RecordedRequest]:
    return [r for r in server.chat_requests() if r.body is not None]


def _app():
    from rankdistill.cli.main import app

    return app


def test_label_command_with_a_ranker_teacher(tmp_path: Path) -> None:
    cands = synthetic_rankllm(tmp_path / "cands.json", 3)
    qrels = tmp_path / "qrels.json"
    qrels.write_text(json.dumps({"q0": {"q0d1": "3", "q0d5": "0"}}), encoding="utf-8")
    result = CliRunner().invoke(
        _app(),
        [
            "label",
            "--method",
            "ranker",
            "--data",
            str(cands),
            "--out",
            str(tmp_path / "o"),
            "--qrels",
            str(qrels),
            "--limit",
            "2",
            "--no-progress",
            "--set",
            "ranker_models=[bm25]",
        ],
    )
    assert result.exit_code == 0, result.output
    records = read_labels(tmp_path / "o" / "labels.jsonl")
    assert [r.qid for r in records] == ["q0", "q1"]
    assert records[0].teacher == "bm25" and len(records[0].scores) == 7
    best = max(records[0].scores, key=records[0].scores.get)
    assert best in {"q0d1", "q0d2", "q0d3"}  # an on-topic passage
    stats = json.loads((tmp_path / "o" / "label_stats.json").read_text())
    assert stats["agreement_with_qrels"]["kendall_tau_mean"] == pytest.approx(1.0)
    assert "Kendall tau vs qrels" in result.output


def test_label_command_rejects_bad_options(tmp_path: Path) -> None:
    cands = synthetic_rankllm(tmp_path / "cands.json", 1)
    runner = CliRunner()
    bad_method = runner.invoke(
        _app(), ["label", "--data", str(cands), "--out", "o", "--method", "listwise"]
    )
    assert bad_method.exit_code == 2
    assert "unknown labelling method 'listwise'" in bad_method.output
    bad_set = runner.invoke(
        _app(), ["label", "--data", str(cands), "--out", "o", "--set", "prerank.top_kk=3"]
    )
    assert bad_set.exit_code != 0 and "top_kk" in bad_set.output
    assert "--method" in runner.invoke(_app(), ["label", "--help"]).output


def test_queries_without_candidates_are_skipped(tmp_path: Path) -> None:
    from rankdistill.retrieval.bm25 import BM25Scorer

    corpus = {"d1": Document("d1", "red apple pie"), "d2": Document("d2", "blue sky")}
    data = RankingData(
        {"q1": Query("q1", "apple pie"), "q2": Query("q2", "no candidates here")},
        corpus,
        {"q1": {"d1": 1.0, "d2": 2.0}},
    )
    result = run_labeling(
        data,
        LabelingConfig(method="ranker"),
        tmp_path,
        ranker_scorers={"bm25": BM25Scorer()},
        progress=False,
    )
    [record] = read_labels(result.labels_path)
    assert record.qid == "q1" and record.scores["d1"] > record.scores["d2"]
    assert result.stats["llm_calls"]["total"] == 0
