"""DisRanker's hybrid distillation loss: point-MSE + alpha * margin-MSE (SPEC 4.1)."""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from rankdistill.losses.base import RankingLoss
from rankdistill.losses.margin_mse import MarginMSELoss
from rankdistill.losses.point_mse import PointMSELoss


class HybridLoss(RankingLoss):
    """``L = L_point + alpha * L_margin`` on teacher scores.

    Inputs: ``scores`` [B, N] student scores, ``labels`` [B, N] teacher scores, ``mask``
    [B, N]. The point term matches absolute scores, the margin term their same-query
    differences. ``alpha`` defaults to 1.0 (reconstructed: the paper does not publish it).
    """

    def __init__(self, model: nn.Module | None = None, alpha: float = 1.0) -> None:
        super().__init__(model)
        self.alpha = float(alpha)
        self.point = PointMSELoss()
        self.margin = MarginMSELoss()

    def compute(self, scores: Tensor, labels: Tensor, mask: Tensor) -> Tensor:
        point = self.point.compute(scores, labels, mask)
        margin = self.margin.compute(scores, labels, mask)
        return point + self.alpha * margin

    def get_config_dict(self) -> dict[str, Any]:
        return {"alpha": self.alpha}

    @property
    def citation(self) -> str:
        return "Ye et al. 2024 (DisRanker), arXiv:2411.04539"
