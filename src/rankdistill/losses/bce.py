"""Pointwise binary cross-entropy on the student's logit."""

from __future__ import annotations

from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rankdistill.losses.base import RankingLoss, masked_mean, zero_padding

Normalize = Literal["none", "max", "query-minmax", "sigmoid"]


class BCELoss(RankingLoss):
    """``mean over real documents of BCE(sigmoid(s), y)`` with targets y in [0, 1].

    Inputs: ``scores`` [B, N] student logits, ``labels`` [B, N], ``mask`` [B, N]. How
    labels become targets in [0, 1] (``normalize``):

    - ``"none"``: labels are already probabilities in [0, 1] (anything else raises);
    - ``"max"``: grades divided by ``max_label`` (TREC-style 0-3: ``max_label=3``), clipped;
    - ``"query-minmax"`` (default): per query ``(y - min) / (max - min)``, so the best
      document is 1 and the worst 0; a query whose documents all share one label gets
      that label clipped to [0, 1] (all-missing queries stay 0);
    - ``"sigmoid"``: ``sigmoid(y / temperature)``, for teacher logits.
    """

    pointwise = True

    def __init__(
        self,
        model: nn.Module | None = None,
        normalize: Normalize = "query-minmax",
        max_label: float = 3.0,
        temperature: float = 1.0,
    ) -> None:
        super().__init__(model)
        if normalize not in ("none", "max", "query-minmax", "sigmoid"):
            raise ValueError(
                f"BCE normalize must be none|max|query-minmax|sigmoid, got {normalize!r}"
            )
        self.normalize = normalize
        self.max_label = float(max_label)
        self.temperature = float(temperature)

    def targets(self, labels: Tensor, mask: Tensor) -> Tensor:
        if self.normalize == "none":
            real = labels[mask]
            if bool(((real < 0) | (real > 1)).any()):
                raise ValueError(
                    "BCE with normalize='none' needs labels in [0, 1]; "
                    "use normalize='query-minmax', 'max' or 'sigmoid'"
                )
            return labels
        if self.normalize == "max":
            return (labels / self.max_label).clamp(0.0, 1.0)
        if self.normalize == "sigmoid":
            return torch.sigmoid(labels / self.temperature)
        lowest = labels.masked_fill(~mask, float("inf")).min(dim=1, keepdim=True).values
        highest = labels.masked_fill(~mask, float("-inf")).max(dim=1, keepdim=True).values
        spread = highest - lowest
        scaled = (labels - lowest) / spread.clamp_min(torch.finfo(labels.dtype).tiny)
        return torch.where(spread > 0, scaled, labels.clamp(0.0, 1.0))

    def compute(self, scores: Tensor, labels: Tensor, mask: Tensor) -> Tensor:
        scores, labels = zero_padding(scores, labels, mask)
        targets = self.targets(labels, mask).masked_fill(~mask, 0.0)
        per_doc = F.binary_cross_entropy_with_logits(scores, targets, reduction="none")
        return masked_mean(per_doc, mask)

    def get_config_dict(self) -> dict[str, Any]:
        return {
            "normalize": self.normalize,
            "max_label": self.max_label,
            "temperature": self.temperature,
        }
