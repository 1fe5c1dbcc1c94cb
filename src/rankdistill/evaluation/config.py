"""Settings of evaluation (SPEC section 5)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class EvaluationConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    metrics: list[str] = Field(
        default_factory=lambda: ["nDCG@10", "nDCG@5", "RR(rel=2)@10", "AP(rel=2)", "R@100", "PNR"]
    )
    pnr_ties: Literal["half", "ignore", "discordant"] = "half"
    significance: Literal["ttest", "wilcoxon", "permutation"] = "ttest"
    length_buckets: list[int] = Field(default_factory=lambda: [3, 5, 8])
