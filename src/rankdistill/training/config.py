"""Settings of student distillation training (SPEC section 4)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

LossName = Literal[
    "hybrid", "point-mse", "margin-mse", "ranknet", "listnet", "lambdaloss", "bce", "hinge"
]


class TcLConfig(BaseModel):
    """RRA-BERT Term Control Layer (training only; reconstructed)."""

    model_config = ConfigDict(extra="forbid")

    lambda_tcl: float = Field(0.5, description="Weight of the rank loss on the TCL score.")
    mu_consistency: float = Field(0.1, description="Weight of (s_cls - s_tcl)^2.")
    match_rule: Literal["exact", "stem"] = "exact"
    ignore_stopwords: bool = Field(
        True, description="Token Selection skips English stopwords (reconstructed)."
    )
    detach_tcl_target: bool = Field(
        True,
        description="Consistency term moves s_cls toward a fixed s_tcl, not both (reconstructed).",
    )


class RraGptConfig(BaseModel):
    """RRA-GPT decoder student."""

    model_config = ConfigDict(extra="forbid")

    backbone: str = "smollm2-135m"
    head: Literal["linear", "mlp"] = "linear"
    beta_cls: float = 0.5
    gamma_gen: float = 0.2
    max_rationale_tokens: int = 48


class StudentTrainConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    student: Literal["cross-encoder", "rra-bert", "rra-gpt"] = "cross-encoder"
    backbone: str = "minilm-l6"
    loss: LossName = "hybrid"
    alpha: float = Field(1.0, description="Hybrid loss: weight of margin-MSE (reconstructed).")
    margin: float = 1.0
    loss_options: dict[str, float | str] = Field(
        default_factory=dict,
        description=(
            "Other hyperparameters of the loss, e.g. {temperature: 2} for listnet, "
            "{label_shift: min} for lambdaloss, {normalize: sigmoid} for bce."
        ),
    )
    targets: Literal["scores", "grades"] = "scores"
    max_length: int = 256
    group_size: int = Field(16, description="Documents per query in a training group.")
    batch_size: int = Field(2, description="Query groups per step.")
    grad_accum: int = 1
    epochs: float = 1.0
    max_steps: int = -1
    learning_rate: float = 3e-5
    warmup_ratio: float = 0.1
    weight_decay: float = 0.01
    precision: Literal["auto", "fp32", "bf16", "fp16"] = "auto"
    eval_steps: int = 50
    eval_metric: str = "nDCG@10"
    save_total_limit: int = 2
    report_to: list[str] = Field(default_factory=list)
    seed: int = 13
    lr_scheduler: str = Field(
        "linear", description="HF scheduler name: linear, cosine, constant, constant_with_warmup..."
    )
    logging_steps: int = Field(10, description="Log the training loss every N steps.")
    max_grad_norm: float = 1.0
    sampling: Literal["top-and-random", "first"] = Field(
        "top-and-random",
        description=(
            "How to cut a query with more than group_size documents: keep the best quarter by "
            "target plus a seeded random sample of the rest (reconstructed), or the first ones."
        ),
    )
    groups_per_query: int = Field(
        1,
        ge=0,
        description=(
            "Groups cut from each query per epoch, each with the query's best documents and "
            "a different slice of the rest; 0: as many as it takes to show every labelled "
            "document once per epoch."
        ),
    )
    tcl: TcLConfig = Field(default_factory=TcLConfig)
    rra_gpt: RraGptConfig = Field(default_factory=RraGptConfig)


class TrainingConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    students: list[StudentTrainConfig] = Field(
        default_factory=lambda: [StudentTrainConfig()],
        description="Each entry trains one student from the same labels.",
    )
