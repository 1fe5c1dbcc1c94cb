"""The DisRanker teacher is a stage of its own, downstream of ``label``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rankdistill.config import load_config
from rankdistill.labeling.store import read_labels
from rankdistill.pipeline import LABEL, TEACHER, run_pipeline
from tests.fixtures.pipeline import fast_demo

FAST = fast_demo(train=3, dev=2, k=8, candidates=6)
TEACHER_ON = [
    "teacher.enabled=true",
    "teacher.cpt.enabled=false",
    "teacher.sft.max_steps=1",
    "teacher.sft.max_length=48",
    "teacher.sft.group_size=3",
    "teacher.sft.batch_size=1",
    "teacher.score_k=3",
    "evaluation.teacher_on_dev=false",
]


def test_a_disabled_teacher_is_a_skipped_stage_that_hands_on_the_labels(tmp_path: Path) -> None:
    cfg = load_config("demo", [*FAST, f"output_dir={tmp_path / 'run'}"])
    ctx = run_pipeline(cfg, until="teacher")
    marker = json.loads((ctx.run_dir / "teacher" / "_done.json").read_text())
    assert marker["skipped"] == "teacher.enabled is false"
    out = ctx.output(TEACHER)
    assert out.labels == {s: v.labels for s, v in ctx.output(LABEL).splits().items()}
    assert Path(out.labels["train"]) == ctx.run_dir / "label" / "train" / "labels.jsonl"
    assert not list((ctx.run_dir / "teacher").glob("*.jsonl"))


def _scores(path: Path) -> dict[str, dict[str, float]]:
    return {r.qid: r.scores for r in read_labels(path)}


def test_relabelling_re_makes_the_teacher_stage(tmp_path: Path) -> None:
    """A changed labelling section, or labels re-made by an earlier ``--until label``
    invocation, set the teacher's outputs aside and run it again (here disabled: cheap)."""
    out = f"output_dir={tmp_path / 'run'}"
    first = run_pipeline(load_config("demo", [*FAST, out]), until="teacher")
    first_run = first.run_id(TEACHER)
    changed = load_config("demo", [*FAST, "labeling.max_doc_words=40", out])
    second = run_pipeline(changed, until="teacher")
    assert second.rerun_reasons == {
        "label": "config changed",
        "teacher": "its input (label) was just re-made",
    }
    second_run = second.run_id(TEACHER)  # read from the marker on disk, so keep it
    assert second_run != first_run
    aside = json.loads((second.run_dir / "previous" / "teacher" / "_done.json").read_text())
    assert aside["run_id"] == first_run
    # Labels re-made by an invocation that stopped before the teacher are noticed later.
    run_pipeline(changed, until="label", force=("label",))
    third = run_pipeline(changed, until="teacher")
    assert third.rerun_reasons == {"teacher": "its input (label) was re-made since it ran"}
    assert third.run_id(TEACHER) != second_run
    # Nothing changed: nothing runs.
    assert run_pipeline(changed, until="teacher").rerun_reasons == {}


@pytest.mark.slow
def test_forcing_label_sets_the_disranker_teacher_aside_and_rescores(tmp_path: Path) -> None:
    """Before the teacher was a stage, `--force label` (or a changed labelling section)
    left RUN_DIR/teacher/ in place: SFT was skipped (its marker existed) and scoring kept
    every query already scored, so the students trained on the old teacher's scores."""
    out = f"output_dir={tmp_path / 'run'}"
    cfg = load_config("demo", [*FAST, *TEACHER_ON, out])
    ctx = run_pipeline(cfg, until="teacher")
    scores = ctx.run_dir / "teacher" / "train-scores.jsonl"
    sft = ctx.run_dir / "teacher" / "sft" / "teacher.json"
    first, first_sft = scores.read_text(), sft.stat().st_mtime_ns
    assert ctx.output(TEACHER).labels["train"] == str(scores)
    assert len(_scores(scores)) == 3 and all(len(s) == 3 for s in _scores(scores).values())

    again = run_pipeline(cfg, until="teacher", force=("label",))
    assert again.rerun_reasons["teacher"] == "its input (label) was just re-made"
    aside = again.run_dir / "previous" / "teacher"
    assert (aside / "train-scores.jsonl").read_text() == first
    assert (aside / "sft" / "teacher.json").stat().st_mtime_ns == first_sft
    assert sft.is_file() and sft.stat().st_mtime_ns != first_sft  # SFT ran again
    assert set(_scores(scores)) == set(_scores(aside / "train-scores.jsonl"))
