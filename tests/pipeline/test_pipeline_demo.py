"""The demo pipeline end to end on a reduced config, killed mid-labelling and resumed.

Everything is real: the built-in collection, bm25s, SmolLM2-135M through llama.cpp as the
listwise teacher, a MiniLM cross-encoder student trained for a few steps, ONNX int8
export and the report. Metrics in the run's eval.json are checked against ir-measures
computed independently on the run files the pipeline wrote.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import ir_measures
import pytest

from rankdistill.data.builtin import builtin_dataset
from rankdistill.data.trec import read_trec_run
from rankdistill.pipeline import STAGE_NAMES as STAGES

REDUCED = [
    "data.train.max_queries=8",
    "data.dev.max_queries=5",
    "selection.enabled=false",
    "retrieval.k=20",
    "labeling.prerank.scorer=first-stage",
    "labeling.prerank.candidates=12",
    "labeling.prerank.top_k=4",
    "labeling.prerank.bottom_k=4",
    "labeling.backend.max_new_tokens=32",
    "labeling.backend.context_length=2048",
    "labeling.max_doc_words=40",
    "training.students=[{student: cross-encoder, loss: hybrid, max_steps: 3, group_size: 4, "
    "batch_size: 2, max_length: 64, eval_steps: 3}]",
    "export.formats=[onnx-int8]",
    "benchmark.queries=2",
    "benchmark.docs_per_query=10",
    "benchmark.backends=[torch, onnx-int8]",
    "evaluation.metrics=[nDCG@10, RR(rel=2)@10, PNR]",
]


def _command(run_dir: Path) -> list[str]:
    args = [sys.executable, "-m", "rankdistill", "run", "demo", "-o", str(run_dir)]
    for item in REDUCED:
        args += ["--set", item]
    return args


def _labelled_qids(path: Path) -> list[str]:
    if not path.is_file():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["qid"] for line in lines if line.endswith("}")]


@pytest.mark.slow
def test_demo_pipeline_kill_and_resume(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}
    labels = run_dir / "label" / "train" / "labels.jsonl"

    # 1. Start, and kill hard once a few training queries are labelled.
    proc = subprocess.Popen(
        _command(run_dir), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 600
    while len(_labelled_qids(labels)) < 2 and proc.poll() is None:
        assert time.monotonic() < deadline, "labelling never started"
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    before = _labelled_qids(labels)
    assert 2 <= len(before) < 8, "the kill should land mid-labelling"
    assert (run_dir / "retrieve" / "_done.json").is_file()
    assert not (run_dir / "label" / "_done.json").exists()

    # 2. Resume to the end.
    done = subprocess.run(_command(run_dir), env=env, capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "done retrieve (output present, skipped)" in done.stderr

    after = _labelled_qids(labels)
    assert after[: len(before)] == before, "finished labels were kept as they were"
    assert len(after) == len(set(after)) == 8, "no query labelled twice, none lost"

    # 3. Every stage finished; the report exists.
    for stage in STAGES:
        assert (run_dir / stage / "_done.json").is_file(), stage
    report = (run_dir / "report.md").read_text(encoding="utf-8")
    assert "first-stage" in report and "0-cross-encoder" in report
    assert (run_dir / "report.html").is_file()

    # 4. The run's metrics agree with ir-measures computed here on the same run files.
    qrels = builtin_dataset("dev").qrels
    saved = json.loads((run_dir / "evaluate" / "eval.json").read_text(encoding="utf-8"))
    for system in ("first-stage", "pre-ranker", "teacher", "0-cross-encoder"):
        run = read_trec_run(run_dir / "evaluate" / "runs" / f"{system}.trec")
        judged = {q: qrels[q] for q in run}
        expected = ir_measures.calc_aggregate([ir_measures.nDCG @ 10], judged, run)
        got = saved["runs"][system]["aggregate"]["nDCG@10"]
        assert got == pytest.approx(expected[ir_measures.nDCG @ 10], abs=1e-4), system

    # 5. Benchmarks measured both backends of the student.
    rows = json.loads((run_dir / "benchmark" / "latency.json").read_text(encoding="utf-8"))
    assert {r["backend"] for r in rows} == {"torch", "onnx-int8"}
    assert all(r["pairs"] == 20 for r in rows)


@pytest.mark.slow
def test_disranker_teacher_stage_feeds_the_student(tmp_path: Path) -> None:
    """teacher.enabled: ranker labels -> simulated clicks -> CPT -> SFT -> LLM scores -> student."""
    from rankdistill.config import load_config
    from rankdistill.labeling.store import read_labels
    from rankdistill.pipeline import EVALUATE, TEACHER, run_pipeline

    overrides = [o for o in REDUCED if not o.startswith(("export.", "benchmark."))] + [
        "labeling.method=ranker",
        "labeling.ranker_models=[bm25]",
        "data.train.max_queries=3",
        "teacher.enabled=true",
        "teacher.cpt.max_steps=2",
        "teacher.cpt.max_length=64",
        "teacher.sft.max_steps=2",
        "teacher.sft.max_length=64",
        "teacher.sft.group_size=4",
        "teacher.score_k=6",
        f"output_dir={tmp_path / 'run'}",
    ]
    pipeline = run_pipeline(load_config("demo", overrides), until="evaluate")
    teacher_dir = pipeline.run_dir / "teacher"
    assert (teacher_dir / "cpt" / "cpt.json").is_file()
    assert (teacher_dir / "sft" / "teacher.json").is_file()
    scored = read_labels(teacher_dir / "train-scores.jsonl")
    assert len(scored) == 3 and all(len(r.scores) == 6 for r in scored)
    assert all(r.method == "llm-teacher" for r in scored)
    assert pipeline.output(TEACHER).labels["train"] == str(teacher_dir / "train-scores.jsonl")
    assert {"teacher", "0-cross-encoder"} <= set(pipeline.output(EVALUATE).systems)
