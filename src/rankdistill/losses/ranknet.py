"""RankNet (Burges et al. 2005): logistic loss on same-query pairs with different labels."""

from __future__ import annotations

from typing import Any

import torch.nn.functional as F
from torch import Tensor, nn

from rankdistill.losses.base import RankingLoss, masked_mean, pair_mask, zero_padding
from rankdistill.losses.margin_mse import pairwise_differences


class RankNetLoss(RankingLoss):
    """``mean over pairs with label_i > label_j of log(1 + exp(-sigma * (s_i - s_j)))``.

    Inputs: ``scores`` [B, N] student scores, ``labels`` [B, N] grades or teacher scores
    (only their order within a query matters), ``mask`` [B, N]. Natural logarithm.
    """

    def __init__(self, model: nn.Module | None = None, sigma: float = 1.0) -> None:
        super().__init__(model)
        self.sigma = float(sigma)

    def compute(self, scores: Tensor, labels: Tensor, mask: Tensor) -> Tensor:
        scores, labels = zero_padding(scores, labels, mask)
        pair_loss = F.softplus(-self.sigma * pairwise_differences(scores))
        return masked_mean(pair_loss, pair_mask(labels, mask, strict=True))

    def get_config_dict(self) -> dict[str, Any]:
        return {"sigma": self.sigma}

    @property
    def citation(self) -> str:
        return "Burges et al. 2005, Learning to Rank using Gradient Descent"
