"""Pointwise MSE between student and teacher scores (DisRanker's point loss, SPEC 4.1)."""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from rankdistill.losses.base import RankingLoss, masked_mean, zero_padding


class PointMSELoss(RankingLoss):
    """``mean over real documents of (s_S(q,d) - s_T(q,d))^2``: match absolute scores.

    Inputs: ``scores`` [B, N] student scores, ``labels`` [B, N] teacher scores (any real
    scale; the student learns that scale), ``mask`` [B, N] ``True`` for real documents.
    """

    pointwise = True

    def __init__(self, model: nn.Module | None = None) -> None:
        super().__init__(model)

    def compute(self, scores: Tensor, labels: Tensor, mask: Tensor) -> Tensor:
        scores, labels = zero_padding(scores, labels, mask)
        return masked_mean((scores - labels) ** 2, mask)

    def get_config_dict(self) -> dict[str, Any]:
        return {}
