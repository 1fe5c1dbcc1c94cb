"""``train``: every student of ``training.students`` on the teacher's labels.

When the stage re-runs because ``training`` changed (not after new labels, not when
forced), a student whose own settings are unchanged is moved back from
``previous/train/`` instead of being trained again.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import yaml
from rich.console import Console

from rankdistill.pipeline.context import DONE_MARKER, PREVIOUS, RunContext, dev_evaluator
from rankdistill.pipeline.stage import Stage
from rankdistill.pipeline.stages.generate import known_positives
from rankdistill.pipeline.stages.retrieve import RETRIEVE
from rankdistill.pipeline.stages.teacher import TEACHER

if TYPE_CHECKING:
    from rankdistill.training.config import StudentTrainConfig

console = Console(stderr=True)
CONFIG_CHANGED = "config changed"


@dataclass
class TrainedStudent:
    model_dir: str
    metrics: dict[str, Any]
    seconds: float | None = None
    reused: bool | None = None


@dataclass
class TrainOutput:
    students: dict[str, TrainedStudent]


def student_name(index: int, kind: str) -> str:
    return f"{index}-{kind}"


def train(ctx: RunContext) -> TrainOutput:
    from rankdistill.labeling.store import read_labels
    from rankdistill.training.data import attach_known_positives
    from rankdistill.training.trainer import train_student

    # Known positives of the generate stage's queries (training.students.*.known_positive).
    labels = attach_known_positives(
        read_labels(ctx.output(TEACHER).labels["train"]), known_positives(ctx)
    )
    first_stage = ctx.output(RETRIEVE).runs
    data = ctx.data("train", first_stage["train"])
    evaluate = None
    if ctx.raw("dev").qrels is not None:
        dev = ctx.data("dev", first_stage["dev"])
        evaluate = dev_evaluator(dev, ctx.config.evaluation.metrics, ctx.config.retrieval.k)
    trained = {}
    for i, student_cfg in enumerate(ctx.config.training.students):
        name = student_name(i, student_cfg.student)
        reused = reuse_previous_student(ctx, name, student_cfg)
        if reused is not None:
            console.print(f"[dim]keep[/] {name}: its config is unchanged, trained before")
            trained[name] = reused
            continue
        console.print(f"[bold]train[/] {name}: loss={student_cfg.loss}")
        result = train_student(
            student_cfg,
            labels,
            data,
            ctx.stage_dir(TRAIN) / name,
            dev_evaluate=evaluate,
            device=ctx.device,
        )
        trained[name] = TrainedStudent(str(result.model_dir), result.metrics, result.seconds)
    return TrainOutput(trained)


def reuse_previous_student(
    ctx: RunContext, name: str, cfg: StudentTrainConfig
) -> TrainedStudent | None:
    """Move back a student that finished under this very config before the train stage
    was set aside, so that editing one student of a list retrains that one only.

    Only when the stage re-runs for a config change and its inputs (the labels) are those
    the old students learnt from: after new labels, or when forced, every student trains
    again.
    """
    if ctx.rerun_reasons.get(TRAIN.name) != CONFIG_CHANGED:
        return None
    old_stage = ctx.run_dir / PREVIOUS / TRAIN.name
    old_marker = old_stage / DONE_MARKER
    if not old_marker.is_file():
        return None
    old_summary = json.loads(old_marker.read_text(encoding="utf-8"))
    if old_summary.get("upstream_runs") != ctx.upstream_runs(TRAIN):
        return None  # relabelled since (by an earlier `--until label`, say)
    entry = old_summary.get("students", {}).get(name)
    old_dir = old_stage / name
    saved_config = old_dir / "train_config.yaml"
    if entry is None or not (old_dir / "model").is_dir() or not saved_config.is_file():
        return None
    if yaml.safe_load(saved_config.read_text(encoding="utf-8")) != cfg.model_dump(mode="json"):
        return None
    target = ctx.stage_dir(TRAIN) / name
    shutil.move(str(old_dir), str(target))
    return TrainedStudent(
        str(target / "model"), entry.get("metrics", {}), entry.get("seconds"), reused=True
    )


TRAIN = Stage(
    "train", ("training",), (TEACHER,), TrainOutput, train, help="distil into the students"
)
