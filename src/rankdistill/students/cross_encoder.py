"""Cross-encoder student: ``[CLS] q [SEP] d [SEP]`` through an encoder, linear head on [CLS].

The saved directory is an ordinary Hugging Face sequence-classification model with one
label, so ``sentence_transformers.CrossEncoder(path)`` loads it unchanged. Its config sets
sentence-transformers' activation to ``Identity``: ``CrossEncoder.predict`` returns the raw
logit, the same number :meth:`CrossEncoderStudent.score` returns.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from rankdistill.quiet import quiet_transformers
from rankdistill.resources import resolve_model
from rankdistill.students.base import StudentModel, register_student
from rankdistill.students.model_card import read_metadata, write_metadata, write_model_card

# Feature names the Hugging Face encoder takes; anything else in the features (such as
# RRA-BERT's term_mask) is for training-only heads.
ENCODER_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
IDENTITY_ACTIVATION = "torch.nn.modules.linear.Identity"

logger = logging.getLogger(__name__)


def load_encoder_classifier(path: str, *, new_head: bool = True) -> Any:
    """``AutoModelForSequenceClassification`` with one output, in fp32 (master weights).

    ``new_head``: ``path`` may be a plain encoder, whose one-logit head is created here on
    purpose. transformers' load report would list that head as MISSING, so it is silenced
    and the load checked here instead: a missing encoder weight (or, without ``new_head``,
    any missing weight) is still logged as a warning.
    """
    from transformers import AutoModelForSequenceClassification

    with quiet_transformers():
        model, info = AutoModelForSequenceClassification.from_pretrained(
            path, num_labels=1, dtype=torch.float32, output_loading_info=True
        )
    _warn_unexpected_load(path, model, info, new_head)
    return model


def _warn_unexpected_load(path: str, model: Any, info: dict[str, Any], new_head: bool) -> None:
    encoder = f"{model.base_model_prefix}."
    missing = sorted(
        k for k in info.get("missing_keys", ()) if not new_head or k.startswith(encoder)
    )
    if missing:
        logger.warning(
            "%s: weights missing from the checkpoint, newly initialised: %s",
            path,
            ", ".join(missing),
        )
    unexpected = sorted(info.get("unexpected_keys", ()))
    if unexpected and not new_head:
        logger.warning(
            "%s: checkpoint weights the model does not use: %s", path, ", ".join(unexpected)
        )


def load_tokenizer(path: str) -> Any:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(path)
    if not tokenizer.is_fast:
        raise ValueError(f"{path}: rankdistill students need a fast (Rust) tokenizer")
    return tokenizer


@register_student
class CrossEncoderStudent(StudentModel):
    """Any Hugging Face encoder with a one-logit head; the score is the logit.

    ``backbone`` is a packaged alias (default ``minilm-l6``), a local directory or a hub
    id. Pairs are truncated to ``max_length`` tokens, cutting the document and never the
    query (``only_second``); a query that alone leaves no room for the document falls back
    to ``longest_first`` for that pair.
    """

    kind = "cross-encoder"

    def __init__(
        self,
        backbone: str = "minilm-l6",
        max_length: int = 256,
        *,
        model: Any | None = None,
        tokenizer: Any | None = None,
    ) -> None:
        super().__init__()
        ref = resolve_model(backbone)
        self.backbone = ref.label
        self.max_length = int(max_length)
        self.model = model if model is not None else load_encoder_classifier(ref.path)
        self.tokenizer = tokenizer if tokenizer is not None else load_tokenizer(ref.path)

    @classmethod
    def from_config(cls, cfg: Any, **kwargs: Any) -> CrossEncoderStudent:
        """Build from a ``StudentTrainConfig`` (``backbone``, ``max_length``)."""
        return cls(backbone=cfg.backbone, max_length=cfg.max_length, **kwargs)

    # ----------------------------------------------------------------- tokenising
    def _truncation_per_pair(self, queries: Sequence[str]) -> list[str]:
        special = self.tokenizer.num_special_tokens_to_add(pair=True)
        ids = self.tokenizer(list(queries), add_special_tokens=False)["input_ids"]
        # Room for at least one document token, else only_second cannot truncate enough.
        return [
            "only_second" if len(q) + special < self.max_length else "longest_first" for q in ids
        ]

    def tokenize_pairs(
        self, queries: Sequence[str], documents: Sequence[str], with_offsets: bool = False
    ) -> tuple[list[dict[str, list[int]]], list[Any]]:
        """Unpadded token ids per pair, and the tokenizer's ``Encoding`` objects.

        The encodings carry word ids, sequence ids and (``with_offsets``) character offsets.
        """
        if len(queries) != len(documents):
            raise ValueError(f"{len(queries)} queries but {len(documents)} documents")
        strategies = self._truncation_per_pair(queries)
        rows: list[dict[str, list[int]]] = [{} for _ in queries]
        encodings: list[Any] = [None] * len(queries)
        for strategy in sorted(set(strategies)):
            index = [i for i, s in enumerate(strategies) if s == strategy]
            batch = self.tokenizer(
                [queries[i] for i in index],
                [documents[i] for i in index],
                truncation=strategy,
                max_length=self.max_length,
                return_offsets_mapping=with_offsets,
            )
            for pos, i in enumerate(index):
                rows[i] = {k: batch[k][pos] for k in batch if k != "offset_mapping"}
                encodings[i] = batch.encodings[pos]
        return rows, encodings

    def pad(self, rows: list[dict[str, list[int]]]) -> dict[str, Tensor]:
        if not rows:
            raise ValueError("no (query, document) pairs to encode")
        return dict(self.tokenizer.pad(rows, return_tensors="pt"))

    def encode_pairs(
        self, queries: Sequence[str], documents: Sequence[str], **extra: Any
    ) -> dict[str, Tensor]:
        """Padded features of the pairs; ``extra`` (training-only inputs) is ignored."""
        rows, _ = self.tokenize_pairs(queries, documents)
        return self.pad(rows)

    # ----------------------------------------------------------------- scoring
    def encoder_inputs(self, features: dict[str, Tensor]) -> dict[str, Tensor]:
        return {k: v for k, v in features.items() if k in ENCODER_INPUTS}

    def forward(self, features: dict[str, Tensor]) -> Tensor:
        return self.model(**self.encoder_inputs(features)).logits.squeeze(-1)

    # ----------------------------------------------------------------- saving
    def metadata(self) -> dict[str, Any]:
        return {
            "kind": CrossEncoderStudent.kind,
            "trained_as": self.kind,
            "max_length": self.max_length,
            "backbone": self.backbone,
        }

    def save_for_inference(self, directory: str | Path, card: dict[str, Any] | None = None) -> Path:
        """A plain cross-encoder directory: HF weights (safetensors), tokenizer, metadata, card."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        config = self.model.config
        # sentence-transformers reads this to pick CrossEncoder's activation: the raw logit.
        st_meta = dict(getattr(config, "sentence_transformers", None) or {})
        config.sentence_transformers = {**st_meta, "activation_fn": IDENTITY_ACTIVATION}
        self.model.save_pretrained(directory)
        self.tokenizer.model_max_length = self.max_length
        self.tokenizer.save_pretrained(directory)
        metadata = self.metadata()
        write_metadata(directory, metadata)
        write_model_card(directory, metadata, card)
        return directory

    @classmethod
    def load(cls, directory: str | Path, device: str = "cpu") -> CrossEncoderStudent:
        """Load a directory written by :meth:`save_for_inference` (in eval mode)."""
        metadata = read_metadata(directory)
        # A saved student has its head: any weight missing from it is worth a warning.
        model = load_encoder_classifier(str(resolve_model(str(directory)).path), new_head=False)
        student = CrossEncoderStudent(
            str(directory), max_length=int(metadata["max_length"]), model=model
        )
        student.backbone = str(metadata.get("backbone", directory))
        return student.to(device).eval()
