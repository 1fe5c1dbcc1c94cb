"""One TrainingArguments builder for students and the teacher: each gets the arguments its
own config asks for (values read back from the built ``TrainingArguments``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from rankdistill.teachers.config import TeacherConfig
from rankdistill.teachers.hf import teacher_training_arguments
from rankdistill.training.arguments import TrainerSettings, training_arguments
from rankdistill.training.config import StudentTrainConfig
from rankdistill.training.trainer import trainer_settings


def test_student_arguments_follow_the_student_config(tmp_path: Path) -> None:
    cfg = StudentTrainConfig(
        batch_size=3,
        grad_accum=2,
        epochs=1.5,
        max_steps=40,
        learning_rate=2e-5,
        warmup_ratio=0.2,
        weight_decay=0.05,
        lr_scheduler="cosine",
        max_grad_norm=0.5,
        logging_steps=4,
        eval_steps=20,
        save_total_limit=3,
        seed=7,
        precision="bf16",
    )
    args = training_arguments(trainer_settings(cfg, tmp_path, progress=False), "cpu")
    assert args.output_dir == str(tmp_path / "checkpoints")
    assert (args.per_device_train_batch_size, args.gradient_accumulation_steps) == (3, 2)
    assert (args.num_train_epochs, args.max_steps, args.learning_rate) == (1.5, 40, 2e-5)
    assert (args.warmup_steps, args.weight_decay, args.max_grad_norm) == (0.2, 0.05, 0.5)
    assert args.lr_scheduler_type == "cosine" and args.logging_steps == 4
    assert (args.save_strategy, args.save_steps, args.save_total_limit) == ("steps", 20, 3)
    assert (args.seed, args.data_seed) == (7, 7)
    assert (args.bf16, args.fp16, args.use_cpu, args.disable_tqdm) == (True, False, True, True)
    assert args.report_to == [] and args.label_names == ["labels"]
    assert args.remove_unused_columns is False and args.dataloader_num_workers == 0


def test_teacher_arguments_log_every_step_and_save_no_checkpoints(tmp_path: Path) -> None:
    cfg = TeacherConfig(seed=5, precision="fp32")
    cfg.sft.warmup_ratio = 0.1
    args = teacher_training_arguments(cfg, cfg.sft, tmp_path, "cpu")
    assert args.output_dir == str(tmp_path / "trainer")
    assert (args.learning_rate, args.per_device_train_batch_size) == (1e-4, 2)
    assert (args.logging_steps, args.save_strategy, args.lr_scheduler_type) == (1, "no", "linear")
    assert (args.seed, args.data_seed, args.weight_decay, args.warmup_steps) == (5, None, 0.0, 0.1)
    assert (args.bf16, args.fp16, args.disable_tqdm) == (False, False, False)
    cpt = teacher_training_arguments(cfg, cfg.cpt, tmp_path, "cpu")
    assert (cpt.per_device_train_batch_size, cpt.warmup_steps) == (cfg.cpt.batch_size, 0.0)


def test_warmup_ratio_outside_zero_to_one_is_refused(tmp_path: Path) -> None:
    settings = TrainerSettings(tmp_path, batch_size=1, learning_rate=1e-4, epochs=1, warmup_ratio=1)
    with pytest.raises(ValueError, match="warmup_ratio"):
        training_arguments(settings, "cpu")
