"""The contract every ranking loss follows (after sentence-transformers' losses).

A loss is an ``nn.Module`` built from the model it trains and its hyperparameters. Data
comes in *query groups*: a batch of B queries, each with up to N documents, padded to N.

- ``forward(features, labels, mask)``: runs ``self.model(features)`` to get scores of
  shape [B, N], then :meth:`compute`.
- ``compute(scores, labels, mask)``: the loss itself, on tensors of shape [B, N];
  ``mask`` is ``True`` for real documents and ``False`` for padding. Padding never
  contributes to the loss or its gradient. Testable without a model.
- ``get_config_dict()``: the hyperparameters, for model cards.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from rankdistill.registry import Registry


class RankingLoss(nn.Module):
    """Base class: subclasses implement :meth:`compute` and list their hyperparameters.

    ``pointwise``: the loss reads each label on its own scale (regression or
    classification of labels in [0, 1]) rather than comparing documents of one query, so
    its trainer scales the labels and keeps groups whose labels are all equal.
    """

    pointwise: ClassVar[bool] = False

    def __init__(self, model: nn.Module | None = None) -> None:
        super().__init__()
        # Stored outside the module tree so the loss never owns (or saves) the model.
        self.__dict__["model"] = model

    def forward(self, features: dict[str, Tensor], labels: Tensor, mask: Tensor) -> Tensor:
        if self.model is None:
            raise RuntimeError(f"{type(self).__name__} was built without a model; use compute()")
        scores = self.model(features)
        return self.compute(scores.view_as(labels), labels, mask)

    def compute(self, scores: Tensor, labels: Tensor, mask: Tensor) -> Tensor:
        raise NotImplementedError

    def get_config_dict(self) -> dict[str, Any]:
        return {}

    @property
    def citation(self) -> str | None:
        return None


def pair_mask(labels: Tensor, mask: Tensor, strict: bool = True) -> Tensor:
    """[B, N, N] mask of same-query pairs (i, j) of real documents.

    With ``strict``, only pairs where document i is labelled strictly above j.
    """
    valid = mask.unsqueeze(2) & mask.unsqueeze(1)
    if strict:
        valid = valid & (labels.unsqueeze(2) > labels.unsqueeze(1))
    else:
        eye = torch.eye(labels.shape[1], dtype=torch.bool, device=labels.device)
        valid = valid & ~eye
    return valid


def masked_mean(values: Tensor, mask: Tensor) -> Tensor:
    """Mean over the ``True`` entries; 0 (with a gradient path) when there are none."""
    mask = mask.to(values.dtype)
    return (values * mask).sum() / mask.sum().clamp_min(1.0)


def zero_padding(scores: Tensor, labels: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
    """Scores and labels with padded entries set to 0.

    Padding may hold anything (even ``inf`` or ``nan``); ``masked_fill`` cuts it out of the
    graph, so the arithmetic after this stays finite and padding gets exactly zero gradient.
    """
    return scores.masked_fill(~mask, 0.0), labels.masked_fill(~mask, 0.0)


LOSSES: Registry[type[RankingLoss]] = Registry("loss")


def loss_options(cls: type[RankingLoss]) -> dict[str, Any]:
    """The hyperparameters a loss takes (its ``__init__`` keywords after ``model``) and
    their defaults: the loss's options, checked when a config is loaded."""
    import inspect

    options = {}
    for name, param in inspect.signature(cls.__init__).parameters.items():
        if name in ("self", "model") or param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        options[name] = None if param.default is param.empty else param.default
    return options


def register_loss(name: str, cls: type[RankingLoss]) -> type[RankingLoss]:
    """Make ``cls`` the loss called ``name``; its ``__init__(model, **hyperparameters)``
    takes the student's ``loss_options`` (and ``alpha`` / ``margin`` where it declares them)."""
    LOSSES.register(name, cls)
    return cls
