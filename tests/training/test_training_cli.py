"""``rankdistill train``: the command end to end on small files (labels, rank_llm JSON, qrels)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from rankdistill.cli.main import app
from rankdistill.cli.train import student_config
from rankdistill.utils import write_jsonl
from tests.ddp_worker import TOPICS, make_tiny_bert, toy_data


def write_rankllm(path: Path) -> Path:
    """The toy topics as rank_llm "retrieve results": every passage for every query."""
    entries = []
    for qid, (query, _) in TOPICS.items():
        hits = [
            {"qid": qid, "docid": f"d{i}", "rank": i + 1, "score": float(-i), "content": text}
            for i, (_, text) in enumerate(TOPICS.values())
        ]
        entries.append({"query": query, "hits": hits})
    path.write_text(json.dumps(entries), encoding="utf-8")
    return path


def test_student_config_flags_and_overrides() -> None:
    cfg = student_config(None, 0, "rra-bert", "ranknet", 7, ["group_size=5", "tcl.lambda_tcl=2"])
    assert (cfg.student, cfg.loss, cfg.max_steps, cfg.group_size) == ("rra-bert", "ranknet", 7, 5)
    assert cfg.tcl.lambda_tcl == 2.0


def test_train_command_end_to_end(tmp_path: Path) -> None:
    backbone = make_tiny_bert(tmp_path / "tiny-bert")
    labels, _ = toy_data()
    labels_path = write_jsonl(tmp_path / "labels.jsonl", [r.to_dict() for r in labels])
    data = write_rankllm(tmp_path / "train.json")
    qrels = tmp_path / "qrels.txt"
    qrels.write_text("".join(f"{q} 0 d{i} 2\n" for i, q in enumerate(TOPICS)), encoding="utf-8")
    out = tmp_path / "run"
    args = [
        "train", "--labels", str(labels_path), "--data", str(data), "--out", str(out),
        "--dev-data", str(data), "--dev-qrels", str(qrels), "--metrics", "nDCG@10 RR@10",
        "--student", "rra-bert", "--loss", "listnet", "--max-steps", "2", "--device", "cpu",
        "--set", f"backbone={backbone}", "--set", "max_length=32", "--set", "eval_steps=1",
        "--set", "group_size=3", "--set", "loss_options.temperature=0.5",
    ]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    # The summary is the last thing printed, after the Trainer's log lines.
    summary = json.loads(result.stdout[result.stdout.rindex('{\n  "model_dir"') :])
    assert summary["model_dir"] == str(out / "model")
    assert set(summary["metrics"]) == {"nDCG@10", "RR@10"}
    assert 0.0 <= summary["metrics"]["nDCG@10"] <= 1.0
    meta = json.loads((out / "model" / "rankdistill.json").read_text())
    assert meta["kind"] == "cross-encoder" and meta["trained_as"] == "rra-bert"
    card = (out / "model" / "README.md").read_text()
    assert "listnet" in card and "temperature" in card and "lambda_tcl" in card


def test_bad_override_is_a_usage_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["train", "--labels", "x.jsonl", "--out", str(tmp_path), "--set", "loss=nope"]
    )
    assert result.exit_code == 2
    assert "loss" in result.output
