"""Inference-only PyTorch scoring modules, one per student kind, through a registry.

Each module maps padded token tensors to one relevance score per pair (shape [batch]);
the torch backend runs it and the ONNX exporter traces it, so both serve the same graph.
Inputs are right-padded (``attention_mask`` is 1 on real tokens, then 0).

- ``cross-encoder`` (also RRA-BERT, whose export is a plain cross-encoder with the Term
  Control Layer stripped): ``AutoModelForSequenceClassification`` with one label, the
  logit of the ``[CLS]`` head.
- ``rra-gpt``: the RRA-GPT student's own forward: decoder hidden state at the last real
  token through its ranking layer (SPEC 4.3; no text generation).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

from torch import Tensor, nn

from rankdistill.data.errors import DataFormatError


class CrossEncoderScorer(nn.Module):
    """A sequence-classification model reduced to its single logit per pair."""

    def __init__(self, model: nn.Module, input_names: list[str]) -> None:
        super().__init__()
        self.model = model
        self.input_names = input_names

    def forward(self, *inputs: Tensor) -> Tensor:
        features = dict(zip(self.input_names, inputs, strict=True))
        return self.model(**features).logits[:, 0]


class RRAGPTScorer(nn.Module):
    """The RRA-GPT student's inference path: decoder, last real token, ranking layer.

    Wraps :class:`rankdistill.students.rra_gpt.RraGptStudent` itself, so the served and
    exported score is the student's own ``forward`` (right padding; positions from the mask).
    """

    input_names: ClassVar[list[str]] = ["input_ids", "attention_mask"]

    def __init__(self, student: nn.Module) -> None:
        super().__init__()
        self.student = student

    def forward(self, input_ids: Tensor, attention_mask: Tensor) -> Tensor:
        return self.student({"input_ids": input_ids, "attention_mask": attention_mask})


def load_cross_encoder(
    model_dir: str, manifest: dict[str, Any], tokenizer: Any
) -> CrossEncoderScorer:
    from transformers import AutoModelForSequenceClassification

    # Eager attention: traces to plain ONNX ops and matches the exported graph exactly.
    model = AutoModelForSequenceClassification.from_pretrained(
        model_dir, attn_implementation="eager"
    )
    if model.config.num_labels != 1:
        raise DataFormatError(
            Path(model_dir) / "config.json",
            f"a cross-encoder needs num_labels=1, got {model.config.num_labels}",
            field="num_labels",
        )
    names = [
        n
        for n in ("input_ids", "attention_mask", "token_type_ids")
        if n in tokenizer.model_input_names
    ]
    return CrossEncoderScorer(model, names).eval()


def load_rra_gpt(model_dir: str, manifest: dict[str, Any], tokenizer: Any) -> RRAGPTScorer:
    """``RraGptStudent.save_for_inference`` layout: ``decoder/`` (causal LM + tokenizer),
    ``ranking_head.safetensors`` and ``rankdistill.json``."""
    from rankdistill.students.rra_gpt import RraGptStudent

    student = RraGptStudent.load(model_dir)
    set_attention = getattr(student.lm, "set_attn_implementation", None)
    if callable(set_attention):
        # Eager attention traces to plain ONNX ops (as for the cross-encoder).
        set_attention("eager")
    return RRAGPTScorer(student).eval()


ScorerLoader = Callable[[str, dict[str, Any], Any], nn.Module]

# kind (rankdistill.json) -> loader of its inference scoring module.
SCORING_MODULES: dict[str, ScorerLoader] = {
    "cross-encoder": load_cross_encoder,
    # RRA-BERT is saved for inference as a plain cross-encoder (TCL stripped); a
    # manifest that still says rra-bert is served the same way.
    "rra-bert": load_cross_encoder,
    "rra-gpt": load_rra_gpt,
}


def require_known_kind(model_dir: str | Path, manifest: dict[str, Any]) -> str:
    """The manifest's kind, or a :class:`DataFormatError` naming the field."""
    kind = manifest["kind"]
    if kind not in SCORING_MODULES:
        raise DataFormatError(
            Path(model_dir) / "rankdistill.json",
            f"unknown kind {kind!r} (known: {', '.join(SCORING_MODULES)})",
            field="kind",
        )
    return kind


def load_scoring_module(model_dir: str, manifest: dict[str, Any], tokenizer: Any) -> nn.Module:
    kind = require_known_kind(model_dir, manifest)
    return SCORING_MODULES[kind](model_dir, manifest, tokenizer)
