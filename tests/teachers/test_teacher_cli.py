"""`rankdistill teacher cpt|sft|score` end to end on a tiny rank_llm file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rankdistill.cli.main import app
from rankdistill.labeling.store import read_labels
from tests._decoder_cache import local_smollm_dir

HITS = {
    "q1": ("what do cats eat", ["Cats eat meat and fish.", "Stocks rose today.", "Cat food."]),
    "q2": ("eiffel tower height", ["The tower is 330 m tall.", "Bananas are yellow.", "Paris."]),
}


def _write_data(folder: Path) -> tuple[Path, Path]:
    entries, qrels = [], {}
    for qid, (query, texts) in HITS.items():
        hits = [
            {"qid": qid, "docid": f"{qid}-{i}", "rank": i + 1, "score": 10.0 - i, "content": t}
            for i, t in enumerate(texts)
        ]
        entries.append({"query": query, "hits": hits})
        qrels[qid] = {f"{qid}-0": "2", f"{qid}-1": "0", f"{qid}-2": "1"}
    data, qrels_path = folder / "train.json", folder / "qrels.json"
    data.write_text(json.dumps(entries))
    qrels_path.write_text(json.dumps(qrels))
    return data, qrels_path


def _invoke(*args: str) -> str:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, (result.output, result.exception)
    return result.output


def test_help_lists_the_commands() -> None:
    out = _invoke("teacher", "--help")
    assert "cpt" in out and "sft" in out and "score" in out


def test_bad_shard_is_rejected(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["teacher", "score", "--teacher", str(tmp_path), "--out", "x.jsonl", "--shard", "3/2"]
    )
    assert result.exit_code != 0
    assert "shard" in result.output.lower()


@pytest.mark.slow
def test_cpt_sft_score_shards_merge(tmp_path: Path) -> None:
    data, qrels = _write_data(tmp_path)
    model = local_smollm_dir()
    common = ["--set", f"model={model}", "--set", "lora.r=4", "--device", "cpu"]
    _invoke(
        "teacher",
        "cpt",
        "--data",
        str(data),
        "--qrels",
        str(qrels),
        "--sessions",
        "20",
        "--out",
        str(tmp_path / "cpt"),
        "--max-steps",
        "1",
        "--set",
        "cpt.max_length=48",
        "--set",
        "cpt.batch_size=2",
        *common,
    )
    assert json.loads((tmp_path / "cpt" / "cpt.json").read_text())["steps"] == 1
    _invoke(
        "teacher",
        "sft",
        "--data",
        str(data),
        "--qrels",
        str(qrels),
        "--cpt",
        str(tmp_path / "cpt"),
        "--out",
        str(tmp_path / "sft"),
        "--max-steps",
        "1",
        "--set",
        "sft.max_length=48",
        "--set",
        "sft.group_size=3",
        *common,
    )
    info = json.loads((tmp_path / "sft" / "teacher.json").read_text())
    assert info["cpt"] == str(tmp_path / "cpt") and info["steps"] == 1
    out = tmp_path / "scores.jsonl"
    for shard in ("0/2", "1/2"):
        _invoke(
            "teacher",
            "score",
            "--teacher",
            str(tmp_path / "sft"),
            "--data",
            str(data),
            "--out",
            str(out),
            "--shard",
            shard,
            "--device",
            "cpu",
            "--batch-size",
            "2",
        )
    _invoke("teacher", "score", "--out", str(out), "--merge", "2")
    records = read_labels(out)
    assert sorted(r.qid for r in records) == ["q1", "q2"]
    assert all(len(r.scores) == 3 and r.method == "llm-teacher" for r in records)
