"""Settings of the DisRanker fine-tuned LLM teacher (SPEC section 3)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from rankdistill.training.config import LossName

# Names SftConfig.loss accepted before it took the loss registry's names.
LEGACY_SFT_LOSSES: dict[str, str] = {"pointwise-mse": "point-mse", "pointwise-bce": "bce"}


class LoraConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    r: int = 16
    alpha: int = 32
    dropout: float = 0.05
    target_modules: list[str] | Literal["all-linear"] = "all-linear"


class CptConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    epochs: float = 1.0
    learning_rate: float = 1e-4
    batch_size: int = 8
    max_length: int = 256
    template: str = "query: {query}\n"
    # Added by the teacher stage (additive):
    max_steps: int = Field(-1, description="Stop after this many optimiser steps (-1: epochs).")
    grad_accum: int = 1
    min_clicks: int = Field(
        1, description="Keep (query, document) pairs with at least this many clicks."
    )
    merge_adapter: bool = Field(
        True, description="Also save the LoRA-merged model, so SFT can start from it directly."
    )


class SftConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    template: str = "query: {query} document: {document}"
    end_token: bool = Field(True, description="Append the EOS token (`</s>`) and pool there.")
    pooling: Literal["end-token", "last", "mean"] = "end-token"
    loss: LossName = Field("hinge", description="A loss of rankdistill.losses.LOSSES.")
    margin: float = 1.0
    epochs: float = 1.0
    learning_rate: float = 1e-4
    group_size: int = 8
    batch_size: int = 2
    max_length: int = 256
    # Added by the teacher stage (additive):
    end_token_text: str | None = Field(
        None, description="End token appended after the document; None: the tokenizer's EOS."
    )
    padding_side: Literal["left", "right"] = "right"
    max_steps: int = Field(-1, description="Stop after this many optimiser steps (-1: epochs).")
    grad_accum: int = 1
    targets: Literal["scores", "grades"] = Field(
        "grades", description="Which LabelRecord field SFT trains on (qrels are grades)."
    )
    warmup_ratio: float = 0.0

    @field_validator("loss", mode="before")
    @classmethod
    def _legacy_loss_name(cls, value: Any) -> Any:
        return LEGACY_SFT_LOSSES.get(value, value) if isinstance(value, str) else value


class TeacherConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = False
    model: str = "smollm2-135m"
    gguf_file: str | None = None
    lora: LoraConfig = Field(default_factory=LoraConfig)
    cpt: CptConfig = Field(default_factory=CptConfig)
    sft: SftConfig = Field(default_factory=SftConfig)
    score_batch_size: int = 16
    precision: Literal["auto", "fp32", "bf16", "fp16"] = Field(
        "auto", description="As the students': auto is bf16 where supported, fp32 on CPU."
    )
    distributed: Literal["none", "ddp", "deepspeed", "fsdp"] = "none"
    seed: int = 13
    # Added by the teacher stage (additive):
    score_k: int | None = Field(None, description="Score only the top-k candidates (None: all).")

    @model_validator(mode="before")
    @classmethod
    def _legacy_bf16(cls, data: Any) -> Any:
        """The former ``bf16: true|false`` key, read as ``precision: auto|fp32``."""
        if isinstance(data, dict) and "bf16" in data and "precision" not in data:
            data = dict(data)
            data["precision"] = "auto" if data.pop("bf16") else "fp32"
        return data
