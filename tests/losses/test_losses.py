"""Every ranking loss: hand-computed values, padding invariance, gradients (gradcheck)."""

from __future__ import annotations

import math

import pytest
import torch
from pydantic import ValidationError

from rankdistill.losses import LOSSES, build_loss
from rankdistill.losses.lambdaloss import LambdaLoss
from rankdistill.training.config import StudentTrainConfig

# One query, three documents: the tiny case every hand computation below uses.
S = torch.tensor([[2.0, 1.0, 0.0]], dtype=torch.float64)
T = torch.tensor([[1.0, 0.0, 3.0]], dtype=torch.float64)
M = torch.ones(1, 3, dtype=torch.bool)


def softplus(x: float) -> float:
    return math.log1p(math.exp(x))


def value(name: str, **hp: float | str) -> float:
    return float(build_loss(name, **hp).compute(S, T, M))


def test_registry_covers_every_configurable_loss() -> None:
    # The config accepts exactly the registered names (no second list to keep in step).
    for name in LOSSES:
        assert StudentTrainConfig(loss=name).loss == name
    with pytest.raises(ValidationError, match="unknown loss 'nope'"):
        StudentTrainConfig(loss="nope")
    with pytest.raises(ValueError, match="unknown loss"):
        build_loss("nope")
    with pytest.raises(ValueError, match="bad hyperparameters"):
        build_loss("ranknet", margin=2.0)
    assert build_loss("hybrid", alpha=0.25).get_config_dict() == {"alpha": 0.25}


def test_point_mse_by_hand() -> None:
    # ((2-1)^2 + (1-0)^2 + (0-3)^2) / 3
    assert value("point-mse") == pytest.approx((1 + 1 + 9) / 3)


def test_margin_mse_by_hand() -> None:
    # pairs: (0,1): (2-1)-(1-0)=0; (0,2): (2-0)-(1-3)=4; (1,2): (1-0)-(0-3)=4
    assert value("margin-mse") == pytest.approx((0 + 16 + 16) / 3)


def test_hybrid_by_hand() -> None:
    # point 11/3 + alpha 0.5 * margin 32/3
    assert value("hybrid", alpha=0.5) == pytest.approx(11 / 3 + 0.5 * 32 / 3)
    assert value("hybrid") == pytest.approx(11 / 3 + 32 / 3)  # alpha defaults to 1


def test_ranknet_by_hand() -> None:
    # pairs with t_i > t_j: (0,1) s diff 1; (2,0) s diff -2; (2,1) s diff -1
    expected = (softplus(-1) + softplus(2) + softplus(1)) / 3
    assert value("ranknet") == pytest.approx(expected)
    expected_sigma2 = (softplus(-2) + softplus(4) + softplus(2)) / 3
    assert value("ranknet", sigma=2.0) == pytest.approx(expected_sigma2)


def test_hinge_by_hand() -> None:
    # max(0, 1 - 1) + max(0, 1 + 2) + max(0, 1 + 1) over 3 pairs
    assert value("hinge") == pytest.approx((0 + 3 + 2) / 3)
    # margin 0.5: 0 + 2.5 + 1.5
    assert value("hinge", margin=0.5) == pytest.approx((0 + 2.5 + 1.5) / 3)


def test_listnet_by_hand() -> None:
    z_t = math.exp(1) + math.exp(0) + math.exp(3)
    p_t = [math.exp(1) / z_t, 1 / z_t, math.exp(3) / z_t]
    log_z_s = math.log(math.exp(2) + math.exp(1) + 1)
    log_p_s = [2 - log_z_s, 1 - log_z_s, 0 - log_z_s]
    expected = -sum(p * lp for p, lp in zip(p_t, log_p_s, strict=True))
    assert value("listnet") == pytest.approx(expected)
    # temperature 2 divides the labels: softmax([0.5, 0, 1.5])
    z2 = math.exp(0.5) + 1 + math.exp(1.5)
    p2 = [math.exp(0.5) / z2, 1 / z2, math.exp(1.5) / z2]
    expected2 = -sum(p * lp for p, lp in zip(p2, log_p_s, strict=True))
    assert value("listnet", temperature=2.0) == pytest.approx(expected2)


def test_lambdaloss_by_hand() -> None:
    # Ranks from scores [2,1,0]: doc0 1st, doc1 2nd, doc2 3rd; D(r) = 1/log2(1+r).
    d1, d2, d3 = 1.0, 1 / math.log2(3), 1 / math.log2(4)
    g = [2**1 - 1, 2**0 - 1, 2**3 - 1]  # exp2 gains [1, 0, 7]
    idcg = 7 * d1 + 1 * d2 + 0 * d3
    expected = (
        abs(g[0] - g[1]) * abs(d1 - d2) / idcg * softplus(-1)  # pair (0,1)
        + abs(g[2] - g[0]) * abs(d3 - d1) / idcg * softplus(2)  # pair (2,0)
        + abs(g[2] - g[1]) * abs(d3 - d2) / idcg * softplus(1)  # pair (2,1)
    )
    assert value("lambdaloss") == pytest.approx(expected)
    # linear gains: [1, 0, 3], IDCG = 3 + 1 * D(2)
    idcg_lin = 3 * d1 + 1 * d2
    expected_lin = (
        1 * abs(d1 - d2) * softplus(-1)
        + 2 * abs(d3 - d1) * softplus(2)
        + 3 * abs(d3 - d2) * softplus(1)
    ) / idcg_lin
    assert value("lambdaloss", gain="linear") == pytest.approx(expected_lin)


def test_lambdaloss_negative_labels_need_a_shift() -> None:
    negative = T - 5.0
    with pytest.raises(ValueError, match="non-negative"):
        LambdaLoss().compute(S, negative, M)
    # A per-query shift to min 0 turns [-4,-5,-2] into [1,0,3]: the hand case above.
    shifted = LambdaLoss(label_shift="min").compute(S, negative, M)
    assert float(shifted) == pytest.approx(value("lambdaloss"))


def test_bce_by_hand() -> None:
    def bce(s: float, y: float) -> float:
        p = 1 / (1 + math.exp(-s))
        return -(y * math.log(p) + (1 - y) * math.log(1 - p))

    # query-minmax: [1,0,3] -> [1/3, 0, 1]
    expected = (bce(2, 1 / 3) + bce(1, 0) + bce(0, 1)) / 3
    assert value("bce") == pytest.approx(expected)
    # max: grades / 3 -> [1/3, 0, 1] as well; sigmoid: sigmoid(t)
    assert value("bce", normalize="max", max_label=3.0) == pytest.approx(expected)
    sig = [1 / (1 + math.exp(-t)) for t in (1.0, 0.0, 3.0)]
    expected_sig = (bce(2, sig[0]) + bce(1, sig[1]) + bce(0, sig[2])) / 3
    assert value("bce", normalize="sigmoid") == pytest.approx(expected_sig)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        value("bce", normalize="none")


def test_bce_constant_query_keeps_its_label() -> None:
    loss = build_loss("bce")
    zeros = torch.zeros(1, 3, dtype=torch.float64)
    # every doc missing (grade 0): target 0 for all, BCE(s, 0) = softplus(s)
    expected = (softplus(2) + softplus(1) + softplus(0)) / 3
    assert float(loss.compute(S, zeros, M)) == pytest.approx(expected)


# --------------------------------------------------------------------------- padding
def padded_batch(garbage: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Two queries (3 and 2 real docs) padded to 5 with ``garbage`` in the padding."""
    scores = torch.tensor(
        [[2.0, 1.0, 0.0, garbage, garbage], [0.5, -1.0, garbage, garbage, garbage]],
        dtype=torch.float64,
    )
    labels = torch.tensor(
        [[1.0, 0.0, 3.0, garbage, garbage], [2.0, 0.0, garbage, garbage, garbage]],
        dtype=torch.float64,
    )
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 0, 0, 0]], dtype=torch.bool)
    return scores, labels, mask


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_padding_changes_nothing(name: str) -> None:
    loss = build_loss(name)
    reference_scores, labels0, mask = padded_batch(0.0)
    # Reference: the same two queries padded only to the longest real list (3).
    ref_s = reference_scores[:, :3].clone().requires_grad_(True)
    reference = loss.compute(ref_s, labels0[:, :3], mask[:, :3])
    reference.backward()
    for garbage in (0.0, 1e6, -1e6, float("inf"), float("nan")):
        scores, labels, mask = padded_batch(garbage)
        scores.requires_grad_(True)
        value = loss.compute(scores, labels, mask)
        assert torch.isfinite(value)
        assert float(value.detach()) == pytest.approx(
            float(reference.detach()), rel=1e-12, abs=1e-12
        )
        value.backward()
        assert scores.grad is not None
        assert torch.all(scores.grad[~mask] == 0), f"{name}: padding got a gradient"
        assert torch.allclose(scores.grad[:, :3][mask[:, :3]], ref_s.grad[mask[:, :3]])


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_empty_query_contributes_nothing(name: str) -> None:
    loss = build_loss(name)
    scores, labels, mask = padded_batch(0.0)
    alone = loss.compute(scores[:1], labels[:1], mask[:1])
    # Add a query whose documents are all padding.
    mask3 = torch.cat([mask[:1], torch.zeros(1, 5, dtype=torch.bool)])
    with_empty = loss.compute(
        torch.cat([scores[:1], scores[1:]]), torch.cat([labels[:1], labels[1:]]), mask3
    )
    assert float(with_empty) == pytest.approx(float(alone))


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_gradcheck_float64(name: str) -> None:
    loss = build_loss(name)
    generator = torch.Generator().manual_seed(0)
    scores = torch.randn(2, 5, dtype=torch.float64, generator=generator, requires_grad=True)
    labels = torch.tensor(
        [[3.0, 0.0, 1.0, 2.0, 0.0], [1.0, 0.0, 2.0, 0.0, 0.0]], dtype=torch.float64
    )
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]], dtype=torch.bool)
    assert torch.autograd.gradcheck(lambda s: loss.compute(s, labels, mask), (scores,))


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_perfect_student_of_its_teacher_has_lower_loss(name: str) -> None:
    """Sanity across losses: scores equal to the labels beat reversed scores."""
    loss = build_loss(name)
    labels = torch.tensor([[3.0, 2.0, 1.0, 0.0]], dtype=torch.float64)
    mask = torch.ones(1, 4, dtype=torch.bool)
    assert float(loss.compute(labels, labels, mask)) < float(
        loss.compute(labels.flip(1), labels, mask)
    )
