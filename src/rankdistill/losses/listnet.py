"""ListNet (Cao et al. 2007): cross-entropy between label and score softmax distributions."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from rankdistill.losses.base import RankingLoss, zero_padding


def masked_log_softmax(values: Tensor, mask: Tensor) -> Tensor:
    """Log-softmax over the real entries of each row; 0 at padding (and in empty rows)."""
    filled = values.masked_fill(~mask, float("-inf"))
    # A row without any real entry would be all -inf (softmax of nothing): neutralise it.
    filled = filled.masked_fill(~mask.any(dim=1, keepdim=True), 0.0)
    return torch.log_softmax(filled, dim=1).masked_fill(~mask, 0.0)


class ListNetLoss(RankingLoss):
    """``mean over queries of -sum_i softmax(t / T)_i * log softmax(s)_i`` (top-one ListNet).

    Inputs: ``scores`` [B, N] student scores, ``labels`` [B, N] teacher scores or grades,
    ``mask`` [B, N]. Both softmaxes run over the query's real documents only.
    ``temperature`` T sharpens (< 1) or flattens (> 1) the label distribution. Queries
    without real documents are skipped.
    """

    def __init__(self, model: nn.Module | None = None, temperature: float = 1.0) -> None:
        super().__init__(model)
        if temperature <= 0:
            raise ValueError(f"ListNet temperature must be > 0, got {temperature}")
        self.temperature = float(temperature)

    def compute(self, scores: Tensor, labels: Tensor, mask: Tensor) -> Tensor:
        scores, labels = zero_padding(scores, labels, mask)
        target = masked_log_softmax(labels / self.temperature, mask).exp() * mask
        per_query = -(target * masked_log_softmax(scores, mask)).sum(dim=1)
        has_docs = mask.any(dim=1).to(per_query.dtype)
        return (per_query * has_docs).sum() / has_docs.sum().clamp_min(1.0)

    def get_config_dict(self) -> dict[str, Any]:
        return {"temperature": self.temperature}

    @property
    def citation(self) -> str:
        return "Cao et al. 2007, Learning to Rank: From Pairwise Approach to Listwise Approach"
