"""CLI: ``rankdistill train`` — distil teacher labels into a student re-ranker.

Multi-process training runs the same command under a launcher, one process per device
(gloo on CPU, NCCL on GPUs)::

    torchrun --nproc_per_node 2 "$(which rankdistill)" train --labels ... --out ...
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from rankdistill.cli.choices import LOSSES, STUDENTS, choice_command
from rankdistill.cli.options import (
    DataFormatOption,
    DeviceOption,
    MaxStepsOption,
    config_option,
    data_files_option,
    load_data_option,
    out_option,
    set_option,
)

if TYPE_CHECKING:
    from rankdistill.training.config import StudentTrainConfig

LABELS_HELP = "Teacher labels (JSONL of LabelRecord)."
DATA_HELP = "Training data: rank_llm JSON file(s) (repeatable) or a BEIR folder."
STUDENT_HELP = "Student kind (default: from the config)."
LOSS_HELP = "Ranking loss (default: from the config)."
DEV_DATA_HELP = "Dev data for checkpoint selection (rank_llm JSON, repeatable)."
DEV_QRELS_HELP = "Dev qrels (TREC or JSON); enables dev evaluation."
METRICS_HELP = "Space-separated dev metrics (default: the config's eval_metric)."
INDEX_HELP = "Which entry of training.students to train."


def student_config(
    config: str | None,
    index: int,
    student: str | None,
    loss: str | None,
    max_steps: int | None,
    overrides: list[str],
) -> StudentTrainConfig:
    """``training.students[index]`` of a run config (or the defaults) with the flags applied."""
    from rankdistill.config import load_section

    flags = {"student": student, "loss": loss, "max_steps": max_steps}
    return load_section(config, f"training.students.{index}", overrides, flags)


def train(
    labels: Annotated[Path, typer.Option("--labels", metavar="PATH", help=LABELS_HELP)],
    out: Annotated[Path, out_option("Output folder (checkpoints, model, history).")],
    data: Annotated[list[Path], data_files_option(DATA_HELP)] = [],  # noqa: B006 (typer)
    student: Annotated[str | None, typer.Option(metavar="NAME", help=STUDENT_HELP)] = None,
    loss: Annotated[str | None, typer.Option(metavar="NAME", help=LOSS_HELP)] = None,
    data_format: DataFormatOption = "rankllm",
    dev_data: Annotated[list[Path], typer.Option(metavar="PATH", help=DEV_DATA_HELP)] = [],  # noqa: B006
    dev_qrels: Annotated[Path | None, typer.Option(metavar="PATH", help=DEV_QRELS_HELP)] = None,
    dev_k: Annotated[int, typer.Option(metavar="K", help="Rerank the top-k dev candidates.")] = 100,
    metrics: Annotated[str, typer.Option(metavar="'METRIC ...'", help=METRICS_HELP)] = "",
    max_steps: MaxStepsOption = None,
    config: Annotated[str | None, config_option("training.students")] = None,
    index: Annotated[int, typer.Option(metavar="N", help=INDEX_HELP)] = 0,
    overrides: Annotated[list[str], set_option("group_size=8")] = [],  # noqa: B006
    device: DeviceOption = "auto",
    resume: Annotated[
        bool, typer.Option(help="Continue from the last checkpoint in --out.")
    ] = True,
) -> None:
    """Train a student on teacher labels (HF Trainer; resumable; works under torchrun)."""
    from rankdistill.labeling.store import read_labels
    from rankdistill.pipeline import dev_evaluator
    from rankdistill.training.trainer import is_main_process, train_student

    cfg = student_config(config, index, student, loss, max_steps, overrides)
    records = read_labels(labels)
    train_data = load_data_option(data_format, data, None, split="train")
    evaluate = None
    if dev_data or dev_qrels is not None:
        dev = load_data_option(data_format, dev_data, dev_qrels, split="dev")
        names = metrics.split()
        if cfg.eval_metric not in names:
            names.append(cfg.eval_metric)  # checkpoints are chosen by it
        if dev.qrels is None:
            raise typer.BadParameter("dev evaluation needs qrels (--dev-qrels)")
        evaluate = dev_evaluator(dev, names, dev_k)
    result = train_student(
        cfg, records, train_data, out, dev_evaluate=evaluate, resume=resume, device=device
    )
    if is_main_process():
        summary = {"model_dir": str(result.model_dir), "metrics": result.metrics}
        typer.echo(json.dumps(summary, indent=2))


def register(app: typer.Typer) -> None:
    """Add this module's commands to the main app."""
    app.command("train", cls=choice_command({"student": STUDENTS, "loss": LOSSES}))(train)
