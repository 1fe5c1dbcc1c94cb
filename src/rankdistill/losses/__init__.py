"""Ranking losses (one module each) and the registry that names them.

:data:`LOSSES` names them (``training.students[i].loss``, ``--loss``); a new loss is one
module plus one :func:`register_loss` call. Every loss follows
:mod:`rankdistill.losses.base`: ``compute(scores[B,N], labels[B,N], mask[B,N])`` on
padded query groups, ``get_config_dict()`` for model cards.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from rankdistill.losses.base import LOSSES, RankingLoss, loss_options, register_loss
from rankdistill.losses.bce import BCELoss
from rankdistill.losses.hinge import HingeLoss
from rankdistill.losses.hybrid import HybridLoss
from rankdistill.losses.lambdaloss import LambdaLoss
from rankdistill.losses.listnet import ListNetLoss
from rankdistill.losses.margin_mse import MarginMSELoss
from rankdistill.losses.point_mse import PointMSELoss
from rankdistill.losses.ranknet import RankNetLoss

for _name, _cls in (
    ("hybrid", HybridLoss),
    ("point-mse", PointMSELoss),
    ("margin-mse", MarginMSELoss),
    ("ranknet", RankNetLoss),
    ("listnet", ListNetLoss),
    ("lambdaloss", LambdaLoss),
    ("bce", BCELoss),
    ("hinge", HingeLoss),
):
    register_loss(_name, _cls)


def build_loss(name: str, model: nn.Module | None = None, **hyperparameters: Any) -> RankingLoss:
    """The loss registered as ``name``, built for ``model`` with ``hyperparameters``.

    Unknown names and hyperparameters the loss does not take raise ``ValueError``.
    """
    cls = LOSSES.require(name)
    try:
        return cls(model, **hyperparameters)
    except TypeError as exc:
        raise ValueError(
            f"loss {name!r}: bad hyperparameters {sorted(hyperparameters)}: {exc}"
        ) from exc


__all__ = [
    "LOSSES",
    "BCELoss",
    "HingeLoss",
    "HybridLoss",
    "LambdaLoss",
    "ListNetLoss",
    "MarginMSELoss",
    "PointMSELoss",
    "RankNetLoss",
    "RankingLoss",
    "build_loss",
    "loss_options",
    "register_loss",
]
