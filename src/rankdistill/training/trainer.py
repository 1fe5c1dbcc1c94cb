"""Distillation training of a student on teacher labels, built on the Hugging Face Trainer.

- The Trainer sees one ``nn.Module``, :class:`StudentWithLoss`, whose ``forward`` returns
  ``student.training_loss(...)``: under DDP (``torchrun``, ``accelerate launch``) the loss
  goes through the DDP wrapper's forward, so gradients are all-reduced.
- Dev evaluation is injected: ``dev_evaluate(scorer) -> {metric: value}`` runs every
  ``eval_steps`` (on rank 0; the result is broadcast) and the best checkpoint by
  ``cfg.eval_metric`` (higher is better) is kept and restored at the end.
- Checkpoints (``OUT/checkpoints/checkpoint-N``) are safetensors (tied weights once) plus the
  Trainer's optimizer, scheduler, RNG and state; ``resume=True`` continues from the last.
- The result: ``OUT/model`` (``student.save_for_inference``), ``OUT/train_config.yaml``,
  ``OUT/history.json`` (every logged loss and dev metric), and the training wall time
  summed over every resumed attempt (each checkpoint records the total so far in
  ``elapsed.json``; work after the last checkpoint of a killed attempt is redone, not counted).
- The DisRanker SFT teacher trains on the same stack: :func:`make_trainer` with its
  :class:`StudentWithLoss`, query groups and collator.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import yaml
from torch import Tensor, nn

from rankdistill.data.records import LabelRecord, RankingData
from rankdistill.losses import build_loss
from rankdistill.losses.base import RankingLoss
from rankdistill.scoring import Scorer
from rankdistill.students.base import STUDENTS, StudentModel
from rankdistill.training.arguments import (
    TrainerSettings,
    is_main_process,  # noqa: F401  (re-exported: the CLI imports it from here)
    training_arguments,
)
from rankdistill.training.checkpoints import (
    load_state_dict,
    save_state_dict,
    saved_checkpoint_folder,
)
from rankdistill.training.config import StudentTrainConfig
from rankdistill.training.data import (
    QueryGroup,
    QueryGroupCollator,
    QueryGroupDataset,
    build_query_groups,
)
from rankdistill.training.length_buckets import bucketed_training_loss
from rankdistill.training.length_schedule import length_schedule_callback
from rankdistill.training.weight_average import (
    AVERAGE_FILE,
    WeightAverage,
    weight_average_callback,
)
from rankdistill.utils import atomic_write_json, atomic_write_text, resolve_device, set_seed

logger = logging.getLogger(__name__)

DevEvaluate = Callable[[Scorer], dict[str, float]]
WEIGHTS_FILE = "model.safetensors"  # the name the HF Trainer loads checkpoints from
ELAPSED_FILE = "elapsed.json"  # a checkpoint's training seconds, every attempt until it
# Config fields that are hyperparameters of a given loss (the rest go in loss_options).
LOSS_FIELDS: dict[str, tuple[str, ...]] = {"hybrid": ("alpha",), "hinge": ("margin",)}


@dataclass
class TrainResult:
    """Where the inference model is, its dev metrics, and the training log."""

    model_dir: Path
    metrics: dict[str, float]
    history: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0  # training wall time, summed over resumed attempts


class TrainingClock:
    """Training seconds since the first attempt: ``offset`` (what the checkpoint resumed
    from had recorded) plus the time of this attempt."""

    def __init__(self, checkpoint: str | None) -> None:
        self.offset = checkpoint_seconds(checkpoint) if checkpoint else 0.0
        self.start = time.perf_counter()

    def seconds(self) -> float:
        return round(self.offset + time.perf_counter() - self.start, 2)


def checkpoint_seconds(checkpoint: str | Path) -> float:
    """The training seconds a checkpoint recorded (0 for one written without a clock)."""
    path = Path(checkpoint) / ELAPSED_FILE
    return float(json.loads(path.read_text(encoding="utf-8"))["seconds"]) if path.is_file() else 0.0


def loss_hyperparameters(cfg: StudentTrainConfig) -> dict[str, Any]:
    """The keyword arguments of ``build_loss`` for this config."""
    fields = {name: getattr(cfg, name) for name in LOSS_FIELDS.get(cfg.loss, ())}
    return {**fields, **cfg.loss_options}


def build_student(cfg: StudentTrainConfig) -> StudentModel:
    """``STUDENTS[cfg.student].from_config(cfg)``, with every student module registered."""
    import rankdistill.students  # noqa: F401  (registers all students)

    if cfg.student not in STUDENTS:
        raise ValueError(f"unknown student {cfg.student!r}; registered: {sorted(STUDENTS)}")
    cls = STUDENTS[cfg.student]
    from_config = getattr(cls, "from_config", None)
    if from_config is None:
        raise TypeError(f"student class {cls.__name__} has no from_config(cfg) constructor")
    return from_config(cfg)


def _own_training_loss(student: StudentModel, *args: Any) -> tuple[Tensor, dict[str, float]]:
    return student.training_loss(*args)


class StudentWithLoss(nn.Module):
    """What the Trainer trains: ``forward`` returns the student's training loss."""

    def __init__(
        self, student: StudentModel, loss: RankingLoss, length_buckets: bool = True
    ) -> None:
        super().__init__()
        self.student = student
        # Kept outside the module tree: losses have no weights to save.
        self.__dict__["rank_loss"] = loss
        # Same loss, less padding computed (rankdistill.training.length_buckets).
        self.length_buckets = length_buckets
        self.last_parts: dict[str, float] = {}

    def forward(self, features: dict[str, Tensor], labels: Tensor, mask: Tensor) -> Tensor:
        train_loss = bucketed_training_loss if self.length_buckets else _own_training_loss
        loss, parts = train_loss(self.student, features, labels, mask, self.rank_loss.compute)
        self.last_parts = parts
        return loss


# StudentTrainConfig fields that TrainerSettings takes under the same name.
SETTINGS_FIELDS = (
    "batch_size",
    "learning_rate",
    "epochs",
    "max_steps",
    "grad_accum",
    "warmup_ratio",
    "weight_decay",
    "lr_scheduler",
    "max_grad_norm",
    "logging_steps",
    "save_total_limit",
    "seed",
    "precision",
)


def trainer_settings(cfg: StudentTrainConfig, out_dir: Path, progress: bool) -> TrainerSettings:
    """A student's optimisation: checkpoints at every dev evaluation, so the best one can
    be restored."""
    return TrainerSettings(
        output_dir=out_dir / "checkpoints",
        save_steps=cfg.eval_steps,
        report_to=tuple(cfg.report_to),
        data_seed=cfg.seed,
        progress=progress,
        **{name: getattr(cfg, name) for name in SETTINGS_FIELDS},
    )


def make_trainer(
    model: StudentWithLoss,
    args: Any,
    groups: Sequence[QueryGroup],
    collator: QueryGroupCollator | None = None,
) -> Any:
    """The :func:`_trainer_class` Trainer of ``model`` on the query ``groups``."""
    return _trainer_class()(
        model=model,
        args=args,
        train_dataset=QueryGroupDataset(groups),
        data_collator=collator or QueryGroupCollator(model.student),
    )


def _trainer_class() -> type:
    """The Trainer subclass, defined on first use so importing this module stays light."""
    from transformers import Trainer

    class DistillationTrainer(Trainer):
        """Trainer whose loss is ``student.training_loss``; logs the loss parts too."""

        loss_is_scaled_for_ga = False  # a per-batch mean: the Trainer divides by grad_accum

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._parts_sum: dict[str, float] = defaultdict(float)
            self._parts_count = 0

        def compute_loss(
            self,
            model: nn.Module,
            inputs: dict[str, Any],
            return_outputs: bool = False,
            num_items_in_batch: Any = None,
        ) -> Any:
            loss = model(**inputs)
            for name, value in self.accelerator.unwrap_model(model).last_parts.items():
                self._parts_sum[name] += value
            self._parts_count += 1
            return (loss, {"loss": loss}) if return_outputs else loss

        def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
            if "loss" in logs and self._parts_count:
                for name, total in self._parts_sum.items():
                    logs[f"loss_{name}"] = total / self._parts_count
                self._parts_sum.clear()
                self._parts_count = 0
            super().log(logs, start_time)

        def _save(self, output_dir: str | None = None, state_dict: dict | None = None) -> None:
            # safetensors with tied weights once; no pickled training arguments.
            if not self.args.should_save:
                return
            output_dir = output_dir or self.args.output_dir
            model = self.accelerator.unwrap_model(self.model)
            save_state_dict(state_dict or model.state_dict(), Path(output_dir) / WEIGHTS_FILE)

        def _load_from_checkpoint(self, resume_from_checkpoint: str, model: Any = None) -> None:
            # Our own loader: it knows the tied-weight aliases _save recorded, and checks
            # that the checkpoint covers every weight (the Trainer's only warns).
            target = model if model is not None else self.model
            load_state_dict(target, Path(resume_from_checkpoint) / WEIGHTS_FILE)

    return DistillationTrainer


def _callback_class() -> type:
    from transformers import TrainerCallback

    class DevEvaluationCallback(TrainerCallback):
        """Every ``eval_steps`` and at the last step: dev metrics, best-step tracking.

        It sets ``state.best_metric`` / ``state.best_global_step``; the Trainer then records
        that checkpoint as ``best_model_checkpoint`` and never rotates it away, and both
        survive a resume in ``trainer_state.json``.
        """

        def __init__(
            self,
            trainer: Any,
            evaluate: DevEvaluate,
            metric: str,
            every: int,
            average: WeightAverage | None = None,
        ) -> None:
            self.trainer = trainer
            self.evaluate = evaluate
            self.metric = metric
            self.every = every
            self.average = average  # scored instead of the raw weights when there is one

        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> Any:
            step = state.global_step
            if step % self.every and step < state.max_steps:
                return control
            metrics = self._metrics()
            if self.metric not in metrics:
                raise KeyError(
                    f"dev evaluation returned {sorted(metrics)}, not eval_metric {self.metric!r}"
                )
            # Trainer.log clears should_log; keep the step's own loss log due.
            should_log = control.should_log
            self.trainer.log({f"eval_{k}": float(v) for k, v in metrics.items()})
            control.should_log = should_log
            value = float(metrics[self.metric])
            if state.best_metric is None or value > state.best_metric:
                state.best_metric = value
                state.best_global_step = step
            control.should_save = True
            return control

        def _metrics(self) -> dict[str, float]:
            student = self.trainer.accelerator.unwrap_model(self.trainer.model).student
            metrics = {}
            if self.trainer.is_world_process_zero():
                weights = self.average.applied() if self.average else contextlib.nullcontext()
                # Scored under training's own autocast (bf16 on CPU: about 1.4x faster);
                # the final evaluation of the kept checkpoint is separate and in fp32.
                with weights, torch.no_grad(), self.trainer.accelerator.autocast():
                    metrics = self.evaluate(student)
            if self.trainer.args.world_size > 1:
                box = [metrics]
                torch.distributed.broadcast_object_list(box, src=0)
                metrics = box[0]
            return metrics

    return DevEvaluationCallback


def _clock_callback_class() -> type:
    from transformers import TrainerCallback

    class ClockCallback(TrainerCallback):
        """Writes the clock's total into every checkpoint, so a resume keeps counting."""

        def __init__(self, clock: TrainingClock) -> None:
            self.clock = clock

        def on_save(self, args: Any, state: Any, control: Any, **kwargs: Any) -> Any:
            folder = saved_checkpoint_folder(args, state)
            if folder is not None:
                atomic_write_json(folder / ELAPSED_FILE, {"seconds": self.clock.seconds()})
            return control

    return ClockCallback


def last_checkpoint(out_dir: Path) -> str | None:
    from transformers.trainer_utils import get_last_checkpoint

    folder = out_dir / "checkpoints"
    return get_last_checkpoint(str(folder)) if folder.is_dir() else None


def best_metrics(history: Sequence[dict[str, Any]], step: int | None) -> dict[str, float]:
    """The dev metrics logged at ``step`` (without the ``eval_`` prefix)."""
    for entry in history:
        if entry.get("step") == step and any(k.startswith("eval_") for k in entry):
            return {k[5:]: float(v) for k, v in entry.items() if k.startswith("eval_")}
    return {}


def model_card(
    cfg: StudentTrainConfig,
    labels: Sequence[LabelRecord],
    groups: Sequence[QueryGroup],
    loss: RankingLoss,
    student: StudentModel,
    state: Any,
    metrics: dict[str, float],
) -> dict[str, Any]:
    losses: dict[str, Any] = {cfg.loss: loss.get_config_dict()}
    if hasattr(student, "tcl_config"):
        losses["term_control_layer"] = student.tcl_config()
    return {
        "teacher": sorted({f"{r.method}:{r.teacher}" for r in labels}),
        "data": {
            "queries": len({g.qid for g in groups}),
            "groups": len(groups),
            "documents": sum(len(g) for g in groups),
            "group_size": cfg.group_size,
            "targets": cfg.targets,
        },
        "losses": losses,
        "training": {
            "steps": state.global_step,
            "best_step": state.best_global_step,
            "batch_size": cfg.batch_size,
            "grad_accum": cfg.grad_accum,
            "learning_rate": cfg.learning_rate,
            "precision": cfg.precision,
            "ema_decay": cfg.ema_decay,
            "seed": cfg.seed,
        },
        "metrics": metrics,
    }


def train_student(
    cfg: StudentTrainConfig,
    labels: Sequence[LabelRecord],
    data: RankingData,
    out_dir: Path,
    *,
    dev_evaluate: DevEvaluate | None = None,
    student: StudentModel | None = None,
    resume: bool = True,
    device: str = "auto",
    progress: bool = True,
) -> TrainResult:
    """Distil teacher ``labels`` on ``data`` (queries + corpus) into a student.

    ``student`` overrides building one from ``cfg``. Runs unchanged under ``torchrun``
    (one process per device, gloo on CPU); every rank returns the same result, rank 0
    writes the files.
    """
    out_dir = Path(out_dir)
    device = resolve_device(device)
    set_seed(cfg.seed)
    groups = build_query_groups(
        labels,
        data.corpus,
        data.queries,
        cfg.group_size,
        cfg.targets,
        cfg.seed,
        cfg.sampling,
        cfg.groups_per_query,
        known_positive=cfg.known_positive,
    )
    if student is None:
        student = build_student(cfg)
    loss = build_loss(cfg.loss, student, **loss_hyperparameters(cfg))
    args = training_arguments(trainer_settings(cfg, out_dir, progress), device)
    trainer = make_trainer(StudentWithLoss(student, loss, cfg.length_buckets), args, groups)
    checkpoint = last_checkpoint(out_dir) if resume else None
    average = WeightAverage(student, cfg.ema_decay) if cfg.ema_decay else None
    if average is not None:  # before the dev evaluation, which scores the step's average
        trainer.add_callback(weight_average_callback(average, checkpoint))
    if dev_evaluate is not None:
        callback = _callback_class()(
            trainer, dev_evaluate, cfg.eval_metric, cfg.eval_steps, average
        )
        trainer.add_callback(callback)
    if cfg.short_first is not None:
        trainer.add_callback(length_schedule_callback(student, cfg.short_first))
    if trainer.is_world_process_zero():
        out_dir.mkdir(parents=True, exist_ok=True)
        config_yaml = yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False)
        atomic_write_text(out_dir / "train_config.yaml", config_yaml)

    if checkpoint:
        logger.info("resuming from %s", checkpoint)
    clock = TrainingClock(checkpoint)
    trainer.add_callback(_clock_callback_class()(clock))
    trainer.train(resume_from_checkpoint=checkpoint)

    state = trainer.state
    if state.best_model_checkpoint and cfg.keep_best:
        # load_best_model_at_end, done here because evaluation is ours (see the callback).
        load_state_dict(trainer.model, Path(state.best_model_checkpoint) / WEIGHTS_FILE)
        if average is not None:
            average.load(Path(state.best_model_checkpoint) / AVERAGE_FILE)
    if average is not None:
        average.copy_to_module()
    metrics = best_metrics(
        state.log_history, state.best_global_step if cfg.keep_best else state.global_step
    )
    model_dir = out_dir / "model"
    if trainer.is_world_process_zero():
        card = model_card(cfg, labels, groups, loss, student, state, metrics)
        student.save_for_inference(model_dir, card)
        atomic_write_json(out_dir / "history.json", state.log_history)
    if args.world_size > 1:
        torch.distributed.barrier()
    return TrainResult(
        model_dir=model_dir,
        metrics=metrics,
        history=list(state.log_history),
        seconds=clock.seconds(),
    )
