"""LambdaRank-weighted pairwise loss (Burges 2010; the "LambdaRank" member of the
LambdaLoss framework of Wang et al. 2018).

Each pair (i, j) with label_i > label_j costs RankNet's ``log(1 + exp(-sigma (s_i - s_j)))``
weighted by ``|ΔNDCG_ij|``: how much NDCG would change if i and j swapped places in the
ranking the current scores produce. Pairs whose swap matters for NDCG (near the top,
large gain difference) dominate. (We implement the LambdaRank weighting, not
NDCG-Loss2++.)
"""

from __future__ import annotations

from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rankdistill.losses.base import RankingLoss, pair_mask, zero_padding
from rankdistill.losses.margin_mse import pairwise_differences

Gain = Literal["exp2", "linear"]
LabelShift = Literal["none", "min"]


def positions_by_score(scores: Tensor, mask: Tensor) -> Tensor:
    """1-based rank of every document under the current scores (padding ranked last)."""
    ranked = scores.detach().masked_fill(~mask, float("-inf"))
    order = torch.argsort(ranked, dim=1, descending=True, stable=True)
    return torch.argsort(order, dim=1).to(scores.dtype) + 1.0


def discount(positions: Tensor) -> Tensor:
    """NDCG's position discount ``1 / log2(1 + rank)``."""
    return 1.0 / torch.log2(1.0 + positions)


def ideal_dcg(gains: Tensor) -> Tensor:
    """[B] DCG of the gains sorted best first (padding has gain 0)."""
    best_first = torch.sort(gains, dim=1, descending=True).values
    ranks = torch.arange(1, gains.shape[1] + 1, dtype=gains.dtype, device=gains.device)
    return (best_first * discount(ranks)).sum(dim=1)


class LambdaLoss(RankingLoss):
    """``mean over queries of sum over pairs (label_i > label_j) of
    |ΔNDCG_ij| * log(1 + exp(-sigma (s_i - s_j)))``.

    Inputs: ``scores`` [B, N] student scores, ``labels`` [B, N] **non-negative** grades
    (NDCG gains: ``2^label - 1`` with ``gain="exp2"``, ``label`` with ``"linear"``),
    ``mask`` [B, N]. For real-valued teacher scores, which may be negative, use
    ``label_shift="min"``: each query's labels are shifted so its lowest is 0.
    ``|ΔNDCG_ij| = |G_i - G_j| * |D(r_i) - D(r_j)| / IDCG`` with ``D(r) = 1/log2(1 + r)``
    and ranks r from the current (detached) scores; the weight carries no gradient.
    Queries without any pair are skipped.
    """

    def __init__(
        self,
        model: nn.Module | None = None,
        sigma: float = 1.0,
        gain: Gain = "exp2",
        label_shift: LabelShift = "none",
    ) -> None:
        super().__init__(model)
        if gain not in ("exp2", "linear"):
            raise ValueError(f"LambdaLoss gain must be 'exp2' or 'linear', got {gain!r}")
        if label_shift not in ("none", "min"):
            raise ValueError(f"LambdaLoss label_shift must be 'none' or 'min', got {label_shift!r}")
        self.sigma = float(sigma)
        self.gain = gain
        self.label_shift = label_shift

    def gains(self, labels: Tensor, mask: Tensor) -> Tensor:
        if self.label_shift == "min":
            lowest = labels.masked_fill(~mask, float("inf")).min(dim=1, keepdim=True).values
            labels = labels - lowest.masked_fill(~mask.any(dim=1, keepdim=True), 0.0)
        labels = labels.masked_fill(~mask, 0.0)
        if bool((labels < 0).any()):
            raise ValueError(
                "LambdaLoss needs non-negative graded labels (NDCG gains); train on grades "
                "(targets: grades) or build the loss with label_shift='min'"
            )
        gains = torch.exp2(labels) - 1.0 if self.gain == "exp2" else labels
        return gains.masked_fill(~mask, 0.0)

    def compute(self, scores: Tensor, labels: Tensor, mask: Tensor) -> Tensor:
        scores, labels = zero_padding(scores, labels, mask)
        gains = self.gains(labels, mask)
        disc = discount(positions_by_score(scores, mask))
        idcg = ideal_dcg(gains).clamp_min(torch.finfo(gains.dtype).tiny)
        weight = (pairwise_differences(gains).abs() * pairwise_differences(disc).abs()) / idcg.view(
            -1, 1, 1
        )
        pairs = pair_mask(labels, mask, strict=True)
        pair_loss = F.softplus(-self.sigma * pairwise_differences(scores)) * weight
        per_query = torch.where(pairs, pair_loss, torch.zeros_like(pair_loss)).sum(dim=(1, 2))
        has_pairs = pairs.any(dim=(1, 2)).to(per_query.dtype)
        return (per_query * has_pairs).sum() / has_pairs.sum().clamp_min(1.0)

    def get_config_dict(self) -> dict[str, Any]:
        return {"sigma": self.sigma, "gain": self.gain, "label_shift": self.label_shift}

    @property
    def citation(self) -> str:
        return "Burges 2010 (LambdaRank); Wang et al. 2018, The LambdaLoss Framework"
