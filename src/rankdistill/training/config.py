"""Settings of student distillation training (SPEC section 4)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    model_serializer,
    model_validator,
)

from rankdistill.registry import registered_name

# A name registered in rankdistill.losses.LOSSES / rankdistill.students.STUDENTS.
LossName = registered_name("rankdistill.losses:LOSSES")
# Importing rankdistill.students registers every built-in student.
StudentKind = registered_name("rankdistill.students:STUDENTS")


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


class ShortFirst(BaseModel):
    """Most optimiser steps at a short length, the last ones at the student's own.

    BERT was pre-trained this way (90% of its steps at 128 tokens, the rest at 512): a pair
    costs about twice as much to train at 256 tokens as at 128, and the long phase teaches
    the student the long passages it will read at inference.
    """

    model_config = ConfigDict(extra="forbid")

    max_length: int = Field(128, ge=8, description="Tokens per pair in the short phase.")
    fraction: float = Field(
        0.9, gt=0.0, lt=1.0, description="Share of the optimiser steps in the short phase."
    )


OMITTED_AT_DEFAULT: dict[str, Any] = {
    "known_positive": "none",
    "length_buckets": True,
    "short_first": None,
    "ema_decay": None,
}


class StudentTrainConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    student: StudentKind = Field("cross-encoder", description="A kind of rankdistill.students.")
    backbone: str = "minilm-l6"
    loss: LossName = Field("hybrid", description="A loss of rankdistill.losses.LOSSES.")
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
    keep_best: bool = Field(
        True,
        description=(
            "Save the checkpoint with the best dev eval_metric instead of the last one. "
            "Turn it off when the dev split is also the set the student is reported on "
            "(the learning curve does), so no choice is made on it."
        ),
    )
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
            "Groups cut from each query, each with the query's best documents and a "
            "different slice of the rest; cut once, so every epoch shows the same groups "
            "(with 1, documents left out of that group are never seen); 0: as many as it takes to "
            "show every labelled document once per epoch."
        ),
    )
    known_positive: Literal["none", "floor"] = Field(
        "none",
        description=(
            "A query's known positive (a generated query's source passage, a SQuAD "
            "question's paragraph): none ignores it; floor raises its target to at least "
            "the query's best teacher target."
        ),
    )
    length_buckets: bool = Field(
        True,
        description=(
            "Run each batch as up to 4 forward passes over pairs of similar length, each "
            "padded to its own longest (rankdistill.training.length_buckets): the same loss "
            "with less padding computed; dropout draws other masks than one padded pass."
        ),
    )
    short_first: ShortFirst | None = Field(
        None,
        description=(
            "Train the first share of the steps at a shorter max_length, the rest (and the "
            "saved student) at max_length; none: every step at max_length."
        ),
    )
    ema_decay: float | None = Field(
        None,
        gt=0.0,
        lt=1.0,
        description=(
            "Keep an exponential moving average of the weights with this decay per step "
            "(0.995: about the last 200 steps); the dev evaluation and the saved student "
            "use the average (rankdistill.training.weight_average). none: the last weights."
        ),
    )
    tcl: TcLConfig = Field(default_factory=TcLConfig)
    rra_gpt: RraGptConfig = Field(default_factory=RraGptConfig)

    @model_serializer(mode="wrap")
    def _omit_fields_at_their_defaults(self, handler: SerializerFunctionWrapHandler) -> Any:
        # Fields added after configs were in use are left out at their defaults, so the
        # dump (the train stage's fingerprint and each student's saved config) of a config
        # that does not set them is what it was before.
        data = handler(self)
        if isinstance(data, dict):
            for name, default in OMITTED_AT_DEFAULT.items():
                if data.get(name) == default:
                    data.pop(name, None)
        return data

    @model_validator(mode="after")
    def _known_loss_options(self) -> StudentTrainConfig:
        """``loss_options`` may hold only hyperparameters the chosen loss takes."""
        from rankdistill.losses import LOSSES, loss_options

        takes = loss_options(LOSSES[self.loss])
        unknown = sorted(set(self.loss_options) - set(takes))
        if unknown:
            raise ValueError(
                f"loss_options: loss {self.loss!r} takes no {', '.join(unknown)} "
                f"(it takes: {', '.join(takes) or 'nothing'})"
            )
        return self

    @model_validator(mode="after")
    def _short_phase_is_shorter(self) -> StudentTrainConfig:
        if self.short_first is not None and self.short_first.max_length >= self.max_length:
            raise ValueError(
                f"short_first.max_length ({self.short_first.max_length}) must be below "
                f"max_length ({self.max_length})"
            )
        return self


class TrainingConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    students: list[StudentTrainConfig] = Field(
        default_factory=lambda: [StudentTrainConfig()],
        description="Each entry trains one student from the same labels.",
    )
