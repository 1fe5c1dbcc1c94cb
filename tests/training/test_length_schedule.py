"""The short-first sequence-length schedule: pure step arithmetic, config checks, and
the widths a real Trainer run collates, fresh and resumed."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import torch
from pydantic import ValidationError

from rankdistill.data.records import Document, RankingData
from rankdistill.students import CrossEncoderStudent
from rankdistill.training.config import ShortFirst, StudentTrainConfig
from rankdistill.training.length_schedule import length_at, short_phase_steps
from rankdistill.training.trainer import train_student
from tests.ddp_worker import make_tiny_bert
from tests.training.test_training_trainer import LABELS, QUERIES

LONG, SHORT, STEPS = 40, 8, 10
# The trainer tests' toy labels over longer passages: every pair is well over SHORT
# tokens, so a short batch is exactly SHORT wide.
LONG_TEXTS = [
    "solar panels on the roof of a house make electricity from sunlight all day long",
    "an apple pie recipe with cinnamon, butter, brown sugar and a crumbly golden crust",
    "wind turbines on the hills generate renewable power for the towns in the valley",
    "the history of the roman empire from the founding of the city to its final fall",
    "photovoltaic cells in a solar module convert light into a direct electric current",
    "how to bake a sourdough bread at home with a starter, flour, water and some salt",
]
CORPUS = {f"d{i}": Document(f"d{i}", t) for i, t in enumerate(LONG_TEXTS)}


def test_the_short_phase_is_the_configured_share_of_the_steps() -> None:
    schedule = ShortFirst(max_length=128, fraction=0.9)
    assert short_phase_steps(schedule, 2033) == 1829
    assert [length_at(s, 2033, schedule, 256) for s in (0, 1828, 1829, 2033)] == [
        128, 128, 256, 256,
    ]  # fmt: skip


def test_a_short_phase_must_be_shorter_than_the_student_length() -> None:
    with pytest.raises(ValidationError, match=r"short_first.max_length \(256\) must be below"):
        StudentTrainConfig(max_length=256, short_first={"max_length": 256})
    with pytest.raises(ValidationError, match="fraction"):
        StudentTrainConfig(max_length=256, short_first={"fraction": 1.0})


def test_a_config_without_a_schedule_dumps_as_before() -> None:
    # The train stage's fingerprint is the dump: configs written before the field existed
    # must keep theirs.
    assert "short_first" not in StudentTrainConfig().model_dump()
    dumped = StudentTrainConfig(short_first={}).model_dump()["short_first"]
    assert dumped == {"max_length": 128, "fraction": 0.9}


class WidthRecordingStudent(CrossEncoderStudent):
    """A cross-encoder that remembers how wide each training batch was collated."""

    widths: list[int]

    def encode_pairs(
        self, queries: Sequence[str], documents: Sequence[str], **extra: Any
    ) -> dict[str, torch.Tensor]:
        features = super().encode_pairs(queries, documents, **extra)
        if self.training:  # the collator; dev scoring runs in eval mode
            self.widths.append(int(features["input_ids"].shape[1]))
        return features


@pytest.fixture(scope="module")
def tiny_backbone(tmp_path_factory: pytest.TempPathFactory) -> str:
    return make_tiny_bert(tmp_path_factory.mktemp("tiny-bert"))


def train(backbone: str, out: Path) -> tuple[WidthRecordingStudent, Any]:
    torch.manual_seed(0)
    student = WidthRecordingStudent(backbone, max_length=LONG)
    student.widths = []
    cfg = StudentTrainConfig(
        max_length=LONG, short_first={"max_length": SHORT, "fraction": 0.5}, learning_rate=1e-3,
        group_size=4, batch_size=1, max_steps=STEPS, eval_steps=4, logging_steps=1,
        save_total_limit=3, length_buckets=False,
    )  # fmt: skip
    toy = RankingData(QUERIES, CORPUS)
    result = train_student(cfg, LABELS, toy, out, student=student, device="cpu", progress=False)
    return student, result


def test_training_collates_short_batches_first_and_saves_the_long_length(
    tiny_backbone: str, tmp_path: Path
) -> None:
    student, result = train(tiny_backbone, tmp_path)
    widths = student.widths
    assert len(widths) == STEPS
    boundary = STEPS // 2
    # The loader collates one batch ahead, so the switch may land a step late.
    assert widths[:boundary] == [SHORT] * boundary
    assert all(w > SHORT for w in widths[boundary + 1 :]), widths
    assert student.max_length == LONG
    reloaded = CrossEncoderStudent.load(result.model_dir)
    assert reloaded.max_length == LONG

    # Resumed from the step-4 checkpoint (still in the short phase), the remaining steps
    # are collated at the widths of the uninterrupted run.
    shutil.rmtree(tmp_path / "checkpoints" / "checkpoint-8")
    shutil.rmtree(tmp_path / "checkpoints" / f"checkpoint-{STEPS}")
    shutil.rmtree(result.model_dir)
    resumed, _ = train(tiny_backbone, tmp_path)
    assert resumed.widths == widths[4:]
