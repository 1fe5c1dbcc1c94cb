"""The model card shows hyperparameters as configured and measured metrics rounded."""

from __future__ import annotations

import re
from types import SimpleNamespace

import yaml

from rankdistill.data.records import LabelRecord
from rankdistill.losses.hybrid import HybridLoss
from rankdistill.students.model_card import render_model_card
from rankdistill.training.config import StudentTrainConfig
from rankdistill.training.data import QueryGroup
from rankdistill.training.trainer import model_card

CONFIG_YAML = """
student: cross-encoder
loss: hybrid
learning_rate: 7.0e-5
warmup_ratio: 0.1
alpha: 0.25
"""


def _card_value(card: str, key: str) -> str:
    """The text after ``- **key**:`` on its line of the rendered card."""
    match = re.search(rf"^- \*\*{re.escape(key)}\*\*: (.+)$", card, flags=re.MULTILINE)
    assert match, f"{key!r} is not on the card:\n{card}"
    return match.group(1).strip()


def _group(qid: str, n_docs: int) -> QueryGroup:
    docids = [f"{qid}-d{i}" for i in range(n_docs)]
    return QueryGroup(qid, "q", docids, docids, [0.0] * n_docs, [None] * n_docs, [None] * n_docs)


def _rendered_card(
    metrics: dict[str, float], groups: list[QueryGroup] | None = None
) -> tuple[StudentTrainConfig, str]:
    cfg = StudentTrainConfig.model_validate(yaml.safe_load(CONFIG_YAML))
    labels = [LabelRecord(qid="q1", query="q", docids=["d1"], method="ranker", teacher="t")]
    state = SimpleNamespace(global_step=120, best_global_step=60)
    loss = HybridLoss(alpha=cfg.alpha)
    card = model_card(cfg, labels, groups or [], loss, object(), state, metrics)
    return cfg, render_model_card({"kind": "cross-encoder"}, card)


def test_learning_rate_is_printed_as_configured() -> None:
    cfg, card = _rendered_card({"nDCG@10": 0.5})
    shown = _card_value(card, "learning_rate")
    assert float(shown) == cfg.learning_rate == 7e-5
    assert shown != "0.0001"  # what four-decimal rounding printed


def test_loss_hyperparameters_are_printed_as_configured() -> None:
    _, card = _rendered_card({"nDCG@10": 0.5})
    assert _card_value(card, "hybrid") == '`{"alpha": 0.25}`'


def test_metrics_keep_four_decimals() -> None:
    _, card = _rendered_card({"nDCG@10": 0.123456789})
    assert _card_value(card, "nDCG@10") == "0.1235"


def test_training_data_counts_queries_and_groups_apart() -> None:
    # groups_per_query: 0 cuts several groups from one query.
    groups = [_group("q1", 8), _group("q1", 8), _group("q2", 5)]
    _, card = _rendered_card({"nDCG@10": 0.5}, groups)
    assert _card_value(card, "queries") == "2"
    assert _card_value(card, "groups") == "3"
    assert _card_value(card, "documents") == "21"
