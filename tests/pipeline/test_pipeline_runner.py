"""The pipeline runner on the built-in collection, up to labelling (fast: BM25 teacher)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from rankdistill.cli.main import app
from rankdistill.config import load_config
from rankdistill.data.records import LabelRecord
from rankdistill.data.trec import read_trec_run
from rankdistill.evaluation.teacher import teacher_run
from rankdistill.labeling.grading import grades_by_rank, grades_from_labels, pseudo_grades
from rankdistill.labeling.store import read_labels
from rankdistill.pipeline import run_pipeline
from tests.fixtures.pipeline import fast_demo

FAST = fast_demo()


def _markers(run_dir: Path) -> dict[str, float]:
    return {p.parent.name: p.stat().st_mtime_ns for p in run_dir.glob("*/_done.json")}


def test_until_label_writes_each_stage_and_a_rerun_skips_them(tmp_path: Path) -> None:
    cfg = load_config("demo", [*FAST, f"output_dir={tmp_path / 'run'}"])
    p = run_pipeline(cfg, until="label")
    stages = {"load", "select", "generate", "retrieve", "prerank", "label"}
    assert set(_markers(p.run_dir)) == stages
    resolved = yaml.safe_load((p.run_dir / "config.resolved.yaml").read_text())
    assert resolved["labeling"]["ranker_models"] == ["bm25"]
    assert resolved["labeling"]["prerank"]["top_k"] == 8  # defaults are spelled out

    retrieved = read_trec_run(p.run_dir / "retrieve" / "train.trec")
    assert len(retrieved) == 6 and all(len(docs) == 15 for docs in retrieved.values())
    labels = read_labels(p.run_dir / "label" / "train" / "labels.jsonl")
    assert sorted(r.qid for r in labels) == sorted(retrieved)
    # A BM25 ranker teacher over first-stage BM25 candidates scores them in BM25's order.
    for rec in labels:
        top10 = [d for d, _ in sorted(retrieved[rec.qid].items(), key=lambda x: -x[1])[:10]]
        assert [d for d, _ in sorted(rec.scores.items(), key=lambda x: -x[1])] == top10
    assert (p.run_dir / "label" / "dev" / "labels.jsonl").is_file()  # teacher on dev

    before = _markers(p.run_dir)
    again = run_pipeline(cfg, until="label")
    assert _markers(again.run_dir) == before  # nothing re-run
    forced = run_pipeline(cfg, until="label", force=("retrieve",))
    after = _markers(forced.run_dir)
    assert after["retrieve"] != before["retrieve"] and after["load"] == before["load"]


def test_a_config_change_re_runs_that_stage_and_what_reads_it(tmp_path: Path) -> None:
    cfg = load_config("demo", [*FAST, f"output_dir={tmp_path / 'run'}"])
    p = run_pipeline(cfg, until="label")
    before = _markers(p.run_dir)
    first_labels = (p.run_dir / "label" / "train" / "labels.jsonl").read_text()
    # Fewer pre-ranked candidates: prerank and label are out of date, retrieve is not.
    changed = load_config(
        "demo", [*FAST, "labeling.prerank.candidates=6", f"output_dir={tmp_path / 'run'}"]
    )
    assert changed.labeling.prerank.candidates == 6
    q = run_pipeline(changed, until="label")
    after = _markers(q.run_dir)
    assert {s for s in after if after[s] != before[s]} == {"prerank", "label"}
    assert p.fingerprint("retrieve") == q.fingerprint("retrieve")
    assert p.fingerprint("label") != q.fingerprint("label")
    # The old outputs are kept aside, and the new labels come from the new candidates.
    previous = q.run_dir / "previous" / "label" / "train" / "labels.jsonl"
    assert previous.read_text() == first_labels
    for rec in read_labels(q.run_dir / "label" / "train" / "labels.jsonl"):
        assert len(rec.scores) <= 6
    assert json.loads((q.run_dir / "label" / "_done.json").read_text())["config_fingerprint"] == (
        q.fingerprint("label")
    )
    # The device and seed are not part of any stage's config: nothing re-runs.
    moved = load_config(
        "demo",
        [*FAST, "labeling.prerank.candidates=6", "seed=99", f"output_dir={tmp_path / 'run'}"],
    )
    assert _markers(run_pipeline(moved, until="label").run_dir) == after


def test_run_command_rejects_unknown_stage_and_bad_override(tmp_path: Path) -> None:
    runner = CliRunner()
    bad_stage = runner.invoke(app, ["run", "demo", "--until", "deploy", "-o", str(tmp_path)])
    assert bad_stage.exit_code != 0 and "unknown stage" in bad_stage.output
    bad_key = runner.invoke(app, ["run", "demo", "--set", "labeling.nope=1", "-o", str(tmp_path)])
    assert bad_key.exit_code == 2 and "labeling.nope" in bad_key.output


def test_given_candidates_are_required_without_bm25(tmp_path: Path) -> None:
    cfg = load_config("demo", [*FAST, "retrieval.method=given", f"output_dir={tmp_path}"])
    with pytest.raises(ValueError, match=r"no candidates; set retrieval\.method=bm25"):
        run_pipeline(cfg, until="retrieve")


def _record(qid: str, grades: dict[str, float] | None = None, scores=None) -> LabelRecord:
    return LabelRecord(
        qid,
        "q",
        list((grades or scores or {}).keys()),
        "m",
        "t",
        grades=grades or {},
        scores=scores or {},
    )


def test_teacher_run_puts_listed_first_unshown_next_and_rejected_last() -> None:
    prerank = {"q": {"a": 5.0, "b": 4.0, "c": 3.0, "d": 2.0, "e": 1.0}}
    # The teacher saw a, b, e: listed e (grade 2) above b (grade 1), left a out (grade 0).
    run = teacher_run([_record("q", grades={"e": 2.0, "b": 1.0, "a": 0.0})], prerank)
    order = [d for d, _ in sorted(run["q"].items(), key=lambda x: -x[1])]
    assert order == ["e", "b", "c", "d", "a"]
    scored = teacher_run([_record("q", scores={"d": 0.9, "c": 0.1})], prerank)
    assert [d for d, _ in sorted(scored["q"].items(), key=lambda x: -x[1])] == [
        "d",
        "c",
        "a",
        "b",
        "e",
    ]


def test_pseudo_grades_round_grades_and_cut_scores_by_rank() -> None:
    assert pseudo_grades(_record("q", grades={"a": 2.6, "b": 0.0})) == {"a": 3, "b": 0}
    scores = {f"d{i}": float(10 - i) for i in range(10)}
    grades = pseudo_grades(_record("q", scores=scores))
    assert [grades[f"d{i}"] for i in range(10)] == [3, 2, 2, 1, 1, 1, 0, 0, 0, 0]
    # absolute cuts, as the LLM-teacher benchmark uses: ranks 0-1 -> 3, 2-4 -> 2, 5-9 -> 1
    ranked = [f"d{i}" for i in range(12)]
    assert list(grades_by_rank(ranked, (2, 5, 10)).values()) == [3, 3, 2, 2, 2, 1, 1, 1, 1, 1, 0, 0]


def test_click_grades_from_z_scores_are_0_to_3_by_rank_not_rounded() -> None:
    # A ranker teacher's per-query z-scores: rounding them would give -2..2.
    z = {f"d{i}": 1.8 - 0.4 * i for i in range(10)}
    graded = _record("g", grades={"a": 2.6, "b": 0.2})
    qrels = grades_from_labels([_record("z", scores=z), graded])
    assert [qrels["z"][f"d{i}"] for i in range(10)] == [3, 2, 2, 1, 1, 1, 0, 0, 0, 0]
    assert qrels["g"] == {"a": 3, "b": 0}


def test_report_is_written_after_evaluate(tmp_path: Path) -> None:
    """Evaluate without students: first stage, pre-ranker and teacher rows, report files."""
    cfg = load_config("demo", [*FAST, "training.students=[]", f"output_dir={tmp_path / 'r'}"])
    p = run_pipeline(cfg, until="evaluate")
    saved = json.loads((p.run_dir / "evaluate" / "eval.json").read_text())
    assert set(saved["runs"]) == {"first-stage", "pre-ranker", "teacher"}
    report = (p.run_dir / "report.md").read_text()
    assert "| first-stage |" in report and "Teacher: bm25 as a ranker teacher" in report
    assert (p.run_dir / "report.html").read_text().count("data:image/png;base64,") >= 1


def _students(second_steps: int) -> str:
    tiny = "loss: hybrid, group_size: 4, batch_size: 2, max_length: 48, eval_steps: 100"
    return (
        f"training.students=[{{student: cross-encoder, {tiny}, max_steps: 2}}, "
        f"{{student: cross-encoder, {tiny}, max_steps: {second_steps}}}]"
    )


def test_editing_one_student_retrains_only_that_student(tmp_path: Path) -> None:
    out = f"output_dir={tmp_path / 'run'}"
    p = run_pipeline(load_config("demo", [*FAST, _students(2), out]), until="train")
    weights = {
        name: (p.run_dir / "train" / name / "model" / "model.safetensors").read_bytes()
        for name in ("0-cross-encoder", "1-cross-encoder")
    }

    q = run_pipeline(load_config("demo", [*FAST, _students(3), out]), until="train")
    summary = q.summary("train")["students"]
    assert summary["0-cross-encoder"].get("reused") is True
    assert "reused" not in summary["1-cross-encoder"]
    kept = q.run_dir / "train" / "0-cross-encoder" / "model" / "model.safetensors"
    assert kept.read_bytes() == weights["0-cross-encoder"]
    assert summary["0-cross-encoder"]["model_dir"] == str(kept.parent)
    history = json.loads((q.run_dir / "train" / "1-cross-encoder" / "history.json").read_text())
    assert max(e["step"] for e in history) == 3  # the edited student trained anew, 3 steps
    # New labels (here: forced) retrain every student, whatever their configs.
    same = load_config("demo", [*FAST, _students(3), out])
    r = run_pipeline(same, until="train", force=("label",))
    assert not any(s.get("reused") for s in r.summary("train")["students"].values())
    # So do labels re-made by an earlier invocation that stopped before training.
    run_pipeline(same, until="label", force=("label",))
    edited = run_pipeline(load_config("demo", [*FAST, _students(4), out]), until="train")
    assert not any(s.get("reused") for s in edited.summary("train")["students"].values())
