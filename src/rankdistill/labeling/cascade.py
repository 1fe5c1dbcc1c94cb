"""The cascade teacher's settings and its combiner (RRADistill's teacher, SPEC section 2).

A pre-ranker (a bi-encoder) orders the K candidates; an LLM re-orders only its top-k,
with the one-call listwise method or pointwise yes/no. :func:`cascade_order` combines
the two: the LLM decides the order of the top-k, the pre-ranker the rest. The method
itself is :class:`~rankdistill.labeling.methods.cascade.CascadeLabeler`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

CascadeLLMMethod = Literal["rradistill", "pointwise"]


class CascadeOptions(BaseModel):
    """Settings of ``labeling.method: cascade``."""

    model_config = ConfigDict(extra="forbid")

    llm_method: CascadeLLMMethod = Field(
        "rradistill",
        description="How the LLM re-orders the top-k: one listwise call (rradistill) or "
        "pointwise yes/no log-probabilities.",
    )
    top_k: int = Field(10, ge=1, description="How many of the pre-ranker's best the LLM sees.")


def cascade_order(
    prerank_order: Sequence[str], llm_scores: Mapping[str, float], top_k: int
) -> list[str]:
    """The pre-ranker's order with its first ``top_k`` documents re-ordered by the LLM.

    ``llm_scores`` are the LLM's grades or scores of the top documents (higher is
    better). Ties keep the pre-ranker's order, and a top document without a value (an
    answer cut off before it) comes after those with one: documents the LLM did not
    place stay in the top-k, below the ones it did, in the pre-ranker's order
    (RankGPT's rule for unlisted passages).
    """
    if top_k < 1:
        raise ValueError(f"top_k must be >= 1, got {top_k}")
    top = list(prerank_order[:top_k])
    position = {d: i for i, d in enumerate(top)}
    reordered = sorted(
        top, key=lambda d: (d not in llm_scores, -llm_scores.get(d, 0.0), position[d])
    )
    return reordered + list(prerank_order[top_k:])
