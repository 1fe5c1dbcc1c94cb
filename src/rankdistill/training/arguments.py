"""``transformers.TrainingArguments`` for every model rankdistill trains.

Students and the DisRanker teacher (CPT and SFT) describe their optimisation in one
:class:`TrainerSettings`; :func:`training_arguments` turns it into the Trainer's arguments,
with one precision setting (:func:`precision_flags`) for all of them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

Precision = Literal["auto", "fp32", "bf16", "fp16"]


@dataclass(frozen=True)
class TrainerSettings:
    """The optimisation of one training run; ``save_steps=None`` writes no checkpoints.

    ``extra`` holds further ``TrainingArguments`` entries (the teacher's DeepSpeed / FSDP).
    """

    output_dir: Path
    batch_size: int
    learning_rate: float
    epochs: float
    max_steps: int = -1
    grad_accum: int = 1
    warmup_ratio: float = 0.0
    weight_decay: float = 0.0
    lr_scheduler: str = "linear"
    max_grad_norm: float = 1.0
    logging_steps: int = 1
    save_steps: int | None = None
    save_total_limit: int | None = None
    report_to: tuple[str, ...] = ()
    seed: int = 13
    data_seed: int | None = None
    precision: Precision = "auto"
    progress: bool = True
    extra: dict[str, Any] = field(default_factory=dict)


def precision_flags(precision: str, device: str) -> dict[str, bool]:
    """Trainer's ``bf16`` / ``fp16`` flags; ``auto``: bf16 where the device computes it
    natively (recent GPUs, CPUs with AVX512-BF16 or AMX), fp16 on other GPUs, else fp32."""
    from rankdistill.utils import supports_bf16

    if precision == "auto":
        if supports_bf16(device):
            precision = "bf16"
        elif device.startswith("cuda"):
            precision = "fp16"
        else:
            precision = "fp32"
    if precision == "fp16" and not device.startswith("cuda"):
        raise ValueError(f"precision fp16 needs a CUDA device, got {device!r}")
    return {"bf16": precision == "bf16", "fp16": precision == "fp16"}


def _save_arguments(settings: TrainerSettings) -> dict[str, Any]:
    if settings.save_steps is None:
        return {"save_strategy": "no"}
    return {
        "save_strategy": "steps",
        "save_steps": settings.save_steps,
        "save_total_limit": settings.save_total_limit,
    }


def training_arguments(settings: TrainerSettings, device: str) -> Any:
    """The ``TrainingArguments`` of ``settings`` on ``device`` (a resolved device name)."""
    from transformers import TrainingArguments

    if not 0.0 <= settings.warmup_ratio < 1.0:
        raise ValueError(f"warmup_ratio must be in [0, 1), got {settings.warmup_ratio}")
    on_cpu = device == "cpu"
    return TrainingArguments(
        output_dir=str(settings.output_dir),
        per_device_train_batch_size=settings.batch_size,
        gradient_accumulation_steps=settings.grad_accum,
        num_train_epochs=settings.epochs,
        max_steps=settings.max_steps,
        learning_rate=settings.learning_rate,
        # transformers 5 takes a float in [0, 1) here as a ratio of the total steps.
        warmup_steps=float(settings.warmup_ratio),
        weight_decay=settings.weight_decay,
        lr_scheduler_type=settings.lr_scheduler,
        max_grad_norm=settings.max_grad_norm,
        logging_strategy="steps",
        logging_steps=settings.logging_steps,
        **_save_arguments(settings),
        eval_strategy="no",  # dev evaluation, where there is one, is a callback of ours
        report_to=list(settings.report_to) or "none",
        seed=settings.seed,
        data_seed=settings.data_seed,
        use_cpu=on_cpu,
        ddp_backend="gloo" if on_cpu and is_distributed_launch() else None,
        remove_unused_columns=False,
        label_names=["labels"],
        dataloader_num_workers=0,
        disable_tqdm=not settings.progress,
        **precision_flags(settings.precision, device),
        **settings.extra,
    )


def is_distributed_launch() -> bool:
    """True inside ``torchrun`` / ``accelerate launch`` (one of several processes)."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def is_main_process() -> bool:
    """True on rank 0 of a launched job, and in any single-process run."""
    return int(os.environ.get("RANK", "0")) == 0
