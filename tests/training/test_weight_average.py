"""The exponential moving average of the student's weights (``ema_decay``).

The reference for a training run is the recurrence itself, recomputed here from the raw
weights every checkpoint holds (one checkpoint a step), not read from the code under test.
"""

from __future__ import annotations

import copy
import shutil
from pathlib import Path

import pytest
import torch
from pydantic import ValidationError
from safetensors.torch import load_file
from torch import nn

from rankdistill.scoring import Scorer
from rankdistill.students import CrossEncoderStudent
from rankdistill.training.config import StudentTrainConfig
from rankdistill.training.trainer import train_student
from rankdistill.training.weight_average import AVERAGE_FILE, WeightAverage
from tests.training.test_training_trainer import (  # noqa: F401  (fixtures)
    LABELS,
    TOY,
    pristine,
    student_weights,
    tiny_backbone,
    toy_config,
)

DECAY = 0.5


def expected_average(start: dict[str, torch.Tensor], steps: list[dict[str, torch.Tensor]]):
    """The average after each step, from the weights before step 1 and after each step."""
    average = {k: v.clone() for k, v in start.items()}
    out = []
    for step, weights in enumerate(steps, start=1):
        d = min(DECAY, (1 + step) / (10 + step))
        average = {k: d * average[k] + (1 - d) * weights[k] for k in average}
        out.append(average)
    return out


def test_the_average_follows_its_recurrence_and_is_applied_only_inside_the_block() -> None:
    layer = nn.Linear(2, 1, bias=False)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([[0.0, 10.0]]))
    average = WeightAverage(layer, DECAY)
    path = [torch.tensor([[4.0, 2.0]]), torch.tensor([[8.0, -6.0]])]
    for step, weight in enumerate(path, start=1):
        with torch.no_grad():
            layer.weight.copy_(weight)
        average.update(step)
    # step 1: d = 2/11; step 2: d = 3/12 (both below 0.5).
    first = [2 / 11 * 0.0 + 9 / 11 * 4.0, 2 / 11 * 10.0 + 9 / 11 * 2.0]
    second = [0.25 * first[0] + 0.75 * 8.0, 0.25 * first[1] + 0.75 * -6.0]
    with average.applied():
        assert layer.weight.tolist()[0] == pytest.approx(second)
    assert layer.weight.tolist() == [[8.0, -6.0]]


def test_a_saved_average_must_fit_the_module(tmp_path: Path) -> None:
    average = WeightAverage(nn.Linear(2, 1), DECAY)
    average.save(tmp_path / AVERAGE_FILE)
    with pytest.raises(RuntimeError, match="average does not fit"):
        WeightAverage(nn.Linear(2, 1, bias=False), DECAY).load(tmp_path / AVERAGE_FILE)


@pytest.mark.parametrize("decay", [0.0, 1.0, -0.5])
def test_a_decay_outside_zero_one_is_refused(decay: float) -> None:
    with pytest.raises(ValidationError, match="ema_decay"):
        StudentTrainConfig(ema_decay=decay)


def test_the_default_config_dump_does_not_name_it() -> None:
    assert "ema_decay" not in StudentTrainConfig().model_dump()
    assert StudentTrainConfig(ema_decay=0.99).model_dump()["ema_decay"] == 0.99


def weights_of(scorer: Scorer) -> dict[str, torch.Tensor]:
    return {n: p.detach().clone() for n, p in scorer.named_parameters()}  # type: ignore[attr-defined]


def largest_gap(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    return max(float((a[k] - b[k]).abs().max()) for k in a)


def test_training_evaluates_exports_and_resumes_the_average(
    pristine: CrossEncoderStudent,  # noqa: F811
    tmp_path: Path,
) -> None:
    cfg = toy_config(ema_decay=DECAY, keep_best=False, eval_steps=1, save_total_limit=10)
    seen: list[dict[str, torch.Tensor]] = []

    def dev(scorer: Scorer) -> dict[str, float]:
        seen.append(weights_of(scorer))
        return {"nDCG@10": 0.5}

    start = {f"model.{k}": v.detach().clone() for k, v in pristine.model.state_dict().items()}
    result = train_student(
        cfg, LABELS, TOY, tmp_path, dev_evaluate=dev, student=copy.deepcopy(pristine),
        device="cpu", progress=False,
    )  # fmt: skip
    folders = [tmp_path / "checkpoints" / f"checkpoint-{n}" for n in range(1, 5)]
    raw = [{f"model.{k}": v for k, v in student_weights(f / "model.safetensors").items()}
           for f in folders]  # fmt: skip
    names = list(load_file(folders[0] / AVERAGE_FILE))
    steps = [{k: r[k] for k in names} for r in raw]
    averages = expected_average({k: start[k] for k in names}, steps)

    # Each dev evaluation scored that step's average, not the raw weights (which step 1,
    # at warmup's learning rate 0, leaves where they started).
    for at_step, average in zip(seen, averages, strict=True):
        assert largest_gap(at_step, average) < 1e-6
    for at_step, weights in zip(seen[1:], raw[1:], strict=True):
        assert largest_gap(at_step, {k: weights[k] for k in at_step}) > 1e-4
    # The exported student is the last average, and every checkpoint kept its own.
    exported = load_file(result.model_dir / "model.safetensors")
    for name in names:
        assert torch.allclose(exported[name.removeprefix("model.")], averages[-1][name], atol=1e-6)
    for folder, average in zip(folders, averages, strict=True):
        stored = load_file(folder / AVERAGE_FILE)
        assert all(torch.allclose(stored[k], average[k], atol=1e-6) for k in names)

    # Killed after step 2: the resumed run continues the step-2 average, not a new one.
    for folder in folders[2:]:
        shutil.rmtree(folder)
    shutil.rmtree(result.model_dir)
    resumed = train_student(
        cfg, LABELS, TOY, tmp_path, dev_evaluate=dev, student=copy.deepcopy(pristine),
        device="cpu", progress=False,
    )  # fmt: skip
    again = load_file(resumed.model_dir / "model.safetensors")
    assert all(torch.allclose(again[k], exported[k], atol=1e-5) for k in exported)
