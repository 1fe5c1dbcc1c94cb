"""Pairwise max-margin (hinge) loss, also the DisRanker teacher's SFT loss (SPEC 3.2)."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from rankdistill.losses.base import RankingLoss, masked_mean, pair_mask, zero_padding
from rankdistill.losses.margin_mse import pairwise_differences


class HingeLoss(RankingLoss):
    """``mean over pairs with label_i > label_j of max(0, m - (s_i - s_j))``.

    Inputs: ``scores`` [B, N] scores, ``labels`` [B, N] grades (only their order within a
    query matters; equal grades form no pair), ``mask`` [B, N]. ``margin`` is m.
    """

    def __init__(self, model: nn.Module | None = None, margin: float = 1.0) -> None:
        super().__init__(model)
        self.margin = float(margin)

    def compute(self, scores: Tensor, labels: Tensor, mask: Tensor) -> Tensor:
        scores, labels = zero_padding(scores, labels, mask)
        pair_loss = torch.relu(self.margin - pairwise_differences(scores))
        return masked_mean(pair_loss, pair_mask(labels, mask, strict=True))

    def get_config_dict(self) -> dict[str, Any]:
        return {"margin": self.margin}
