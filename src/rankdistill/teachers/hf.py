"""Hugging Face plumbing shared by CPT and SFT: LoRA wrapping and Trainer arguments."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from torch import nn

from rankdistill.teachers.config import CptConfig, LoraConfig, SftConfig, TeacherConfig
from rankdistill.training.arguments import TrainerSettings, training_arguments
from rankdistill.utils import resolve_device

log = logging.getLogger(__name__)

# ZeRO stage 2 with every size left to the HF integration ("auto"): a sensible default
# for one node; users with other needs pass their own accelerate / DeepSpeed config.
DEEPSPEED_ZERO2: dict[str, Any] = {
    "zero_optimization": {"stage": 2, "overlap_comm": True, "contiguous_gradients": True},
    "bf16": {"enabled": "auto"},
    "fp16": {"enabled": "auto"},
    "train_micro_batch_size_per_gpu": "auto",
    "gradient_accumulation_steps": "auto",
    "gradient_clipping": "auto",
}


def apply_lora(model: nn.Module, lora: LoraConfig, task_type: str) -> nn.Module:
    """Wrap ``model`` with LoRA adapters (peft) when ``lora.enabled``, else return it as is."""
    if not lora.enabled:
        return model
    from peft import LoraConfig as PeftLoraConfig
    from peft import get_peft_model

    peft_config = PeftLoraConfig(
        r=lora.r,
        lora_alpha=lora.alpha,
        lora_dropout=lora.dropout,
        target_modules=lora.target_modules,
        task_type=task_type,
    )
    return get_peft_model(model, peft_config)


def distributed_arguments(cfg: TeacherConfig, device: str) -> dict[str, Any]:
    """TrainingArguments entries for ``cfg.distributed`` (plain training on CPU).

    DDP needs no argument: launching with ``accelerate launch`` / ``torchrun`` is enough.
    """
    if cfg.distributed in ("none", "ddp"):
        return {}
    if not device.startswith("cuda"):
        log.warning("distributed=%s needs GPUs; training plainly on %s", cfg.distributed, device)
        return {}
    if cfg.distributed == "deepspeed":
        import importlib.util

        if importlib.util.find_spec("deepspeed") is None:
            raise RuntimeError("teacher.distributed=deepspeed needs `pip install deepspeed`")
        return {"deepspeed": DEEPSPEED_ZERO2}
    return {"fsdp": True, "fsdp_config": {"auto_wrap_policy": "TRANSFORMER_BASED_WRAP"}}


# Fields of a teacher stage's config (CptConfig, SftConfig) that are TrainerSettings'.
STAGE_FIELDS = ("batch_size", "learning_rate", "epochs", "max_steps", "grad_accum")


def teacher_training_arguments(
    cfg: TeacherConfig, stage: CptConfig | SftConfig, out_dir: Path, device: str
) -> Any:
    """``TrainingArguments`` for one teacher stage (``stage``: ``cfg.cpt`` or ``cfg.sft``):
    the students' builder, every step logged, no checkpoints (the stage saves its own
    result), ``cfg.distributed`` on top."""
    device = resolve_device(device)
    settings = TrainerSettings(
        output_dir=out_dir / "trainer",
        warmup_ratio=getattr(stage, "warmup_ratio", 0.0),  # CPT has none
        seed=cfg.seed,
        precision=cfg.precision,
        extra=distributed_arguments(cfg, device),
        **{name: getattr(stage, name) for name in STAGE_FIELDS},
    )
    return training_arguments(settings, device)


def loss_history(trainer: Any) -> list[float]:
    """The training losses the Trainer logged, in step order."""
    return [float(e["loss"]) for e in trainer.state.log_history if "loss" in e]


def with_relative_base(base: str | None, directory: Path) -> dict[str, str]:
    """``base_model_relative``: a local base model's path from the teacher's folder.

    A LoRA teacher needs its base to load. When the base is the CPT model of the same
    run, a run folder that is moved or copied elsewhere still finds it this way; the
    absolute ``base_model`` stays for a teacher moved on its own.
    """
    if not base or not Path(base).exists():
        return {}  # an alias or a hub id: nothing on disk to point at
    return {"base_model_relative": os.path.relpath(Path(base).resolve(), directory.resolve())}


def base_model_path(info: dict[str, Any], directory: Path) -> str:
    """The saved base model: beside the teacher if it is there, else where it was saved."""
    relative = info.get("base_model_relative")
    if relative and (directory / relative).exists():
        return str((directory / relative).resolve())
    return info["base_model"]
