"""Small student directories built on the fly, for tests, benchmarks and demos.

The cross-encoder is all-MiniLM-L6-v2 with a one-logit head, saved as
``CrossEncoderStudent.save_for_inference`` does (HF model + tokenizer + rankdistill.json).
No trained cross-encoder exists offline, and a freshly initialised head scores along a
direction where documents barely differ (score spread ~0.01), so any numeric noise
reorders them. The head here is instead set to the first principal direction of the
pooled pair representations (scaled to unit score spread): an arbitrary but
well-conditioned ranking function whose scores spread like a trained model's, which is
what int8-vs-fp32 ranking comparisons need.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

QUERIES = [
    "what is the boiling point of water at high altitude",
    "how do vaccines train the immune system",
    "causes of the french revolution",
    "best way to store fresh basil",
    "who wrote the theory of general relativity",
    "symptoms of vitamin d deficiency",
]
DOCUMENTS = [
    "Water boils at lower temperatures at high altitude because the air pressure is lower.",
    "Vaccines expose the immune system to a harmless piece of a pathogen so it learns.",
    "The French Revolution was caused by debt, inequality and enlightenment ideas.",
    "Store basil like cut flowers: stems in a glass of water at room temperature.",
    "Albert Einstein published the general theory of relativity in 1915.",
    "Fatigue, bone pain and muscle weakness can signal a lack of vitamin D.",
    "Paris is the capital of France.",
    "A short one.",
    "",
    "The stock market closed higher on Tuesday after a volatile session in which "
    "technology shares rebounded and energy companies fell on lower oil prices. " * 12,
]


def _pairs() -> list[tuple[str, str]]:
    return [(q, d) for q in QUERIES for d in DOCUMENTS]


def build_cross_encoder_dir(path: Path, head: str = "principal") -> Path:
    """A MiniLM cross-encoder student directory.

    ``head="principal"``: the head described in the module docstring; ``"random"``: the
    freshly initialised head (seed 0), i.e. an untrained cross-encoder.
    """
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from rankdistill.resources import resolve_model

    if head not in {"principal", "random"}:
        raise ValueError(f"head must be 'principal' or 'random', got {head!r}")
    backbone = resolve_model("minilm-l6").path
    torch.manual_seed(0)
    model = AutoModelForSequenceClassification.from_pretrained(backbone, num_labels=1).eval()
    tokenizer = AutoTokenizer.from_pretrained(backbone)
    if head == "principal":
        pairs = _pairs()
        enc = tokenizer(
            [q for q, _ in pairs],
            [d for _, d in pairs],
            padding=True,
            truncation=True,
            max_length=64,
            return_tensors="pt",
        )
        with torch.no_grad():
            pooled = model.bert(**enc).pooler_output
            centred = pooled - pooled.mean(0)
            direction = torch.linalg.svd(centred, full_matrices=False).Vh[0]
            spread = (centred @ direction).std()
            model.classifier.weight.copy_((direction / spread).unsqueeze(0))
            model.classifier.bias.fill_(float(-(pooled.mean(0) @ direction) / spread))
    path.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    manifest = {"kind": "cross-encoder", "max_length": 256, "backbone": backbone}
    (path / "rankdistill.json").write_text(json.dumps(manifest), encoding="utf-8")
    (path / "README.md").write_text("# test student\n", encoding="utf-8")
    return path


def build_tiny_rra_gpt_dir(path: Path, head: str = "mlp") -> Path:
    """A tiny random 2-layer Llama RRA-GPT student (MiniLM tokenizer), saved by the student.

    Written by ``RraGptStudent.save_for_inference``, so it is exactly the layout serving
    meets in practice; the small random decoder keeps export tests fast.
    """
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from rankdistill.resources import resolve_model
    from rankdistill.students.rra_gpt import RraGptStudent

    tokenizer = AutoTokenizer.from_pretrained(resolve_model("minilm-l6").path)
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        pad_token_id=tokenizer.pad_token_id,
    )
    student = RraGptStudent(
        backbone="tiny-random-llama",
        head=head,
        max_length=96,
        model=LlamaForCausalLM(config),
        tokenizer=tokenizer,
    )
    student.eval().save_for_inference(path)
    return path


def build_once(path: Path, builder: Callable[..., Path], **kwargs: Any) -> Path:
    """``builder(path)`` unless ``path`` already holds a model (a cache across test modules)."""
    if not (path / "rankdistill.json").is_file():
        builder(path, **kwargs)
    return path


def export_once(student: Path, path: Path, backend: str) -> Path:
    """:func:`export_onnx` of ``student`` to ``path`` unless already there."""
    from rankdistill.serving.export import export_onnx

    if not (path / "rankdistill.json").is_file():
        export_onnx(student, path, quantize_int8=backend == "onnx-int8")
    return path


def reference_scores(
    model_dir: Path, pairs: list[tuple[str, str]], max_length: int = 256
) -> list[float]:
    """Independent reference: the HF model on each pair alone (no padding, no batching)."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    model = AutoModelForSequenceClassification.from_pretrained(model_dir).eval()
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    out = []
    with torch.no_grad():
        for q, d in pairs:
            # A one-pair batch: a lone call drops an empty text_pair ("" is falsy).
            enc = tokenizer(
                [q], [d], truncation="only_second", max_length=max_length, return_tensors="pt"
            )
            out.append(float(model(**enc).logits[0, 0]))
    return out
