"""CLI: ``rankdistill train`` — distil teacher labels into a student re-ranker.

Multi-process training runs the same command under a launcher, one process per device
(gloo on CPU, NCCL on GPUs)::

    torchrun --nproc_per_node 2 "$(which rankdistill)" train --labels ... --out ...
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from rankdistill.cli.choices import LOSSES, STUDENTS, choice_command

if TYPE_CHECKING:
    from rankdistill.data.records import RankingData
    from rankdistill.training.config import StudentTrainConfig

DATA_FORMATS = ("rankllm", "builtin", "beir")


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


def load_split(fmt: str, paths: list[Path], qrels: Path | None, split: str) -> RankingData:
    from rankdistill.data.config import DatasetSpec
    from rankdistill.data.loading import load_dataset

    if fmt not in DATA_FORMATS:
        raise typer.BadParameter(f"--data-format must be one of {', '.join(DATA_FORMATS)}")
    if fmt == "rankllm":
        if not paths:
            raise typer.BadParameter(f"the {split} split needs rank_llm JSON files")
        spec = DatasetSpec(
            format="rankllm",
            candidates=[str(p) for p in paths],
            qrels=None if qrels is None else str(qrels),
            split=split,
        )
    elif fmt == "beir":
        if len(paths) != 1:
            raise typer.BadParameter(f"the {split} split needs one BEIR folder")
        spec = DatasetSpec(format="beir", path=str(paths[0]), split=split)
    else:
        spec = DatasetSpec(format="builtin", split=split)
    return load_dataset(spec)


def train(
    labels: Path = typer.Option(..., "--labels", help="Teacher labels (JSONL of LabelRecord)."),
    data: list[Path] = typer.Option(
        [], "--data", help="Training data: rank_llm JSON file(s) (repeatable) or a BEIR folder."
    ),
    out: Path = typer.Option(..., "--out", help="Output folder (checkpoints, model, history)."),
    student: str | None = typer.Option(
        None, "--student", help="Student kind (default: from the config)."
    ),
    loss: str | None = typer.Option(
        None,
        "--loss",
        help="Ranking loss (default: from the config).",
    ),
    data_format: str = typer.Option(
        "rankllm",
        "--data-format",
        help=f"Format of --data / --dev-data: {', '.join(DATA_FORMATS)}.",
    ),
    dev_data: list[Path] = typer.Option(
        [], "--dev-data", help="Dev data for checkpoint selection (rank_llm JSON, repeatable)."
    ),
    dev_qrels: Path | None = typer.Option(
        None, "--dev-qrels", help="Dev qrels (TREC or JSON); enables dev evaluation."
    ),
    dev_k: int = typer.Option(100, "--dev-k", help="Rerank the top-k dev candidates."),
    metrics: str = typer.Option(
        "", "--metrics", help="Space-separated dev metrics (default: the config's eval_metric)."
    ),
    max_steps: int | None = typer.Option(
        None, "--max-steps", help="Stop after this many optimizer steps (-1: use epochs)."
    ),
    config: str | None = typer.Option(
        None, "--config", help="Run config (YAML path or shipped name) for training settings."
    ),
    index: int = typer.Option(0, "--index", help="Which entry of training.students to train."),
    overrides: list[str] = typer.Option(
        [], "--set", help="Override a training setting: key=value (e.g. group_size=8)."
    ),
    device: str = typer.Option("auto", "--device", help="auto, cpu, cuda, cuda:1, ..."),
    resume: bool = typer.Option(
        True, "--resume/--no-resume", help="Continue from the last checkpoint in --out."
    ),
) -> None:
    """Train a student on teacher labels (HF Trainer; resumable; works under torchrun)."""
    from rankdistill.labeling.store import read_labels
    from rankdistill.pipeline import dev_evaluator
    from rankdistill.training.trainer import is_main_process, train_student

    cfg = student_config(config, index, student, loss, max_steps, overrides)
    records = read_labels(labels)
    train_data = load_split(data_format, data, None, "train")
    evaluate = None
    if dev_data or dev_qrels is not None:
        dev = load_split(data_format, dev_data, dev_qrels, "dev")
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
