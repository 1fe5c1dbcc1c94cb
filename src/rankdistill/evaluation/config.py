"""Settings of evaluation (SPEC section 5)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class EvaluationConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    metrics: list[str] = Field(
        default_factory=lambda: ["nDCG@10", "nDCG@5", "RR(rel=2)@10", "AP(rel=2)", "R@100", "PNR"]
    )
    pnr_ties: Literal["half", "ignore", "discordant"] = Field(
        "half", description="PNR score ties: half to each side, ignored, or discordant."
    )
    missing_queries: Literal["ignore", "zero"] = Field(
        "ignore",
        description="Judged queries absent from a run: ignore (trec_eval) or zero (trec_eval -c).",
    )
    significance: Literal["ttest", "wilcoxon", "permutation"] = "ttest"
    teacher_on_dev: bool = Field(
        True,
        description=(
            "Label the dev queries with the teacher too, so the report compares students "
            "with their teacher (costs one more labelling pass over the dev queries)."
        ),
    )
    length_buckets: list[int] = Field(default_factory=lambda: [3, 5, 8])
