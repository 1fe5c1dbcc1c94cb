"""Length-bucketed scoring of a training batch gives the single padded forward's scores,
loss and gradients, and plans the cheapest buckets."""

from __future__ import annotations

import itertools
import random

import pytest
import torch

from rankdistill.losses import build_loss
from rankdistill.training.length_buckets import (
    bucketed_scores,
    bucketed_training_loss,
    is_right_padded,
    plan_buckets,
)

QUERIES = ["what causes tides", "how do bees make honey"]
DOCUMENTS = [
    "The moon's gravity pulls on the oceans.",
    "Tides rise and fall twice a day because the moon and the sun pull on the water of the "
    "oceans, and the earth turns beneath the bulges this makes. " * 3,
    "Honey.",
    "Bees collect nectar, store it in wax cells and fan it with their wings until enough "
    "water evaporates that it keeps.",
]


def _brute_force_cost(lengths: list[int], overhead: int, max_buckets: int) -> float:
    """The cheapest cover by trying every set of cut points (independent of the DP)."""
    n, best = len(lengths), float("inf")
    for k in range(0, min(max_buckets, n)):
        for cuts in itertools.combinations(range(1, n), k):
            best = min(best, _plan_cost(lengths, [*cuts, n], overhead))
    return best


def _plan_cost(lengths: list[int], ends: list[int], overhead: int) -> float:
    starts = [0, *ends[:-1]]
    return sum((e - s) * lengths[e - 1] + overhead for s, e in zip(starts, ends, strict=True))


@pytest.mark.parametrize("seed", range(6))
def test_plan_buckets_is_the_cheapest_cover(seed: int) -> None:
    rng = random.Random(seed)
    lengths = sorted(rng.randint(8, 192) for _ in range(rng.randint(1, 11)))
    overhead = rng.choice([0, 16, 64, 400])
    ends = plan_buckets(lengths, overhead, max_buckets=4)
    assert ends[-1] == len(lengths) and ends == sorted(set(ends)) and len(ends) <= 4
    assert _plan_cost(lengths, ends, overhead) == _brute_force_cost(lengths, overhead, 4)


def test_plan_buckets_keeps_one_bucket_when_splitting_costs_more() -> None:
    assert plan_buckets([50, 51, 52, 53], overhead=64) == [4]
    # Free buckets: each distinct length gets its own (up to the cap).
    assert plan_buckets([10, 10, 90, 90], overhead=0) == [2, 4]


def test_is_right_padded() -> None:
    assert is_right_padded(torch.tensor([[1, 1, 0], [1, 1, 1]]))
    assert not is_right_padded(torch.tensor([[0, 1, 1], [1, 1, 1]]))


@pytest.fixture(scope="module")
def student():
    from rankdistill.students import CrossEncoderStudent

    torch.manual_seed(0)
    return CrossEncoderStudent("minilm-l6", max_length=64).eval()  # eval: no dropout


def _batch(student) -> tuple[dict[str, torch.Tensor], torch.Tensor, torch.Tensor]:
    queries = [q for q in QUERIES for _ in DOCUMENTS]
    documents = DOCUMENTS * len(QUERIES)
    features = student.encode_pairs(queries, documents)
    labels = torch.tensor([[0.5, 2.0, -1.0, 0.1], [-0.3, 0.2, 0.7, 1.9]])
    mask = torch.ones_like(labels, dtype=torch.bool)
    return features, labels, mask


def test_bucketed_scores_equal_the_padded_forward(student) -> None:
    features, _, _ = _batch(student)
    lengths = features["attention_mask"].sum(1).tolist()
    assert max(lengths) - min(lengths) > 20  # the batch has padding to save
    calls: list[int] = []

    def score(batch: dict[str, torch.Tensor]) -> torch.Tensor:
        calls.append(batch["input_ids"].shape[1])
        return student(batch)

    with torch.no_grad():
        reference = student(features)
        bucketed = bucketed_scores(score, features, overhead=0)
    assert len(calls) > 1 and max(calls) == features["input_ids"].shape[1]
    assert sum(calls) < len(calls) * features["input_ids"].shape[1]  # shorter buckets ran
    torch.testing.assert_close(bucketed, reference, rtol=1e-5, atol=1e-5)


def test_bucketed_loss_and_gradients_equal_the_padded_ones(student) -> None:
    features, labels, mask = _batch(student)
    loss_fn = build_loss("hybrid", student, alpha=1.0).compute

    def loss_and_grads(bucketed: bool) -> tuple[float, list[torch.Tensor]]:
        student.zero_grad()
        if bucketed:
            loss, parts = bucketed_training_loss(student, features, labels, mask, loss_fn)
        else:
            loss, parts = student.training_loss(features, labels, mask, loss_fn)
        loss.backward()
        assert parts == {"rank": pytest.approx(float(loss.detach()))}
        grads = [p.grad.clone() for p in student.parameters() if p.grad is not None]
        return float(loss), grads

    padded_loss, padded_grads = loss_and_grads(False)
    bucketed_loss, bucketed_grads = loss_and_grads(True)
    assert bucketed_loss == pytest.approx(padded_loss, rel=1e-5)
    assert len(bucketed_grads) == len(padded_grads) > 0
    for got, want in zip(bucketed_grads, padded_grads, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-3, atol=1e-5)
    student.zero_grad()


def test_left_padding_is_scored_in_one_forward() -> None:
    features = {
        "input_ids": torch.tensor([[0, 5, 6], [7, 8, 9]]),
        "attention_mask": torch.tensor([[0, 1, 1], [1, 1, 1]]),
    }
    seen: list[tuple[int, ...]] = []

    def score(batch: dict[str, torch.Tensor]) -> torch.Tensor:
        seen.append(tuple(batch["input_ids"].shape))
        return batch["input_ids"].sum(1).float()

    assert bucketed_scores(score, features, overhead=0).tolist() == [11.0, 24.0]
    assert seen == [(2, 3)]
