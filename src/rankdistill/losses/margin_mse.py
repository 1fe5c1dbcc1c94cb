"""Margin-MSE (Hofstätter et al. 2020, "Improving Efficient Neural Ranking Models with
Cross-Architecture Knowledge Distillation"): match score *differences*, not scores."""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from rankdistill.losses.base import RankingLoss, masked_mean, pair_mask, zero_padding


def pairwise_differences(values: Tensor) -> Tensor:
    """[B, N] -> [B, N, N] with entry (i, j) = values_i - values_j."""
    return values.unsqueeze(2) - values.unsqueeze(1)


class MarginMSELoss(RankingLoss):
    """``mean over same-query pairs (i, j), i != j, of ((s_i - s_j) - (t_i - t_j))^2``.

    Inputs: ``scores`` [B, N] student scores, ``labels`` [B, N] teacher scores (or grades),
    ``mask`` [B, N]. Every ordered pair of distinct real documents counts (both (i, j) and
    (j, i), which have equal terms, so this is also the mean over unordered pairs). The
    original uses one (positive, negative) pair per query; all pairs of a query group is
    its natural list generalisation. Invariant to a per-query shift of either side.
    """

    def __init__(self, model: nn.Module | None = None) -> None:
        super().__init__(model)

    def compute(self, scores: Tensor, labels: Tensor, mask: Tensor) -> Tensor:
        scores, labels = zero_padding(scores, labels, mask)
        diff = pairwise_differences(scores) - pairwise_differences(labels)
        return masked_mean(diff**2, pair_mask(labels, mask, strict=False))

    def get_config_dict(self) -> dict[str, Any]:
        return {}

    @property
    def citation(self) -> str:
        return "Hofstätter et al. 2020, arXiv:2010.02666"
