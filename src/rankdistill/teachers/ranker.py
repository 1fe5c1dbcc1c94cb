"""The DisRanker LLM ranker (SPEC section 3.2): a decoder with a score head on ``</s>``.

Input ``query: {q} document: {d}`` followed by the end token (the tokenizer's EOS, the
``</s>`` of the paper; configurable); the last layer's hidden state at that final end
token goes through a dense layer to one score. Pooling finds the end token from the
attention mask, never from position -1, so it is right under left and right padding
(and even when the pad token *is* the EOS, as in SmolLM2). Ablations: no end token with
``last`` pooling, and ``mean`` pooling.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from rankdistill.students import decoder
from rankdistill.students.base import RankLossFn, StudentModel
from rankdistill.teachers.hf import base_model_path, with_relative_base
from rankdistill.utils import atomic_write_json, resolve_device

TEACHER_FILE = "teacher.json"
HEAD_FILE = "score_head.safetensors"
ADAPTER_SUBDIR = "adapter"
BACKBONE_SUBDIR = "backbone"
TOKENIZER_SUBDIR = "tokenizer"
# The constructor's settings: saved in teacher.json, and SftConfig's fields of these names.
SETTINGS = ("template", "end_token", "end_token_text", "pooling", "padding_side", "max_length")


class LLMRanker(StudentModel):
    """Decoder backbone + dense score head on the end token (or last token, or mean).

    It follows the students' contract (:class:`StudentModel`: ``encode_pairs``, ``forward``,
    ``training_loss``, ``score``), so SFT trains it with the students' query groups,
    collator and Trainer; it is not a registered student.
    """

    kind = "llm-ranker"

    def __init__(
        self,
        backbone: nn.Module,
        tokenizer: Any,
        *,
        template: str = "query: {query} document: {document}",
        end_token: bool = True,
        end_token_text: str | None = None,
        pooling: str = "end-token",
        padding_side: decoder.PaddingSide = "right",
        max_length: int = 256,
    ) -> None:
        super().__init__()
        if pooling not in ("end-token", "last", "mean"):
            raise ValueError(f"unknown pooling {pooling!r}; choose end-token, last or mean")
        if pooling == "end-token" and not end_token:
            raise ValueError("pooling='end-token' needs end_token=true (use 'last' or 'mean')")
        if "{query}" not in template or "{document}" not in template:
            raise ValueError(f"template {template!r} needs {{query}} and {{document}}")
        self.backbone = backbone
        self.tokenizer = tokenizer
        self.template = template
        self.end_token = end_token
        self.end_token_text = end_token_text
        self.pooling = pooling
        self.padding_side: decoder.PaddingSide = padding_side
        self.max_length = max_length
        self.end_token_id = self._resolve_end_id() if end_token else None
        self.score_head = nn.Linear(int(self._hidden_size()), 1)

    def _hidden_size(self) -> int:
        config = getattr(self.backbone, "config", None)
        if config is None or not hasattr(config, "hidden_size"):
            raise ValueError("backbone has no config.hidden_size")
        return int(config.hidden_size)

    def _resolve_end_id(self) -> int:
        if self.end_token_text is None:
            if self.tokenizer.eos_token_id is None:
                raise ValueError("tokenizer has no EOS token; set sft.end_token_text")
            return int(self.tokenizer.eos_token_id)
        return decoder.single_token_id(self.tokenizer, self.end_token_text)

    # -- tokenisation -------------------------------------------------------

    def _pair_ids(self, query: str, document: str) -> list[int]:
        tok = self.tokenizer
        head, document, tail = decoder.split_template(self.template, query, document)
        head_ids = tok(head, add_special_tokens=False)["input_ids"]
        tail_ids = tok(tail, add_special_tokens=False)["input_ids"] if tail else []
        reserved = 1 if self.end_token else 0
        # A long query keeps its first tokens but leaves room for some document.
        head_ids = head_ids[: max(self.max_length // 2, 1)]
        room = max(self.max_length - len(head_ids) - len(tail_ids) - reserved, 0)
        doc_ids = tok(document, add_special_tokens=False)["input_ids"][:room]
        ids = head_ids + doc_ids + tail_ids
        # The end token is appended as an id, after truncation: it is always present and
        # always one token (the string "</s>" would be split by most BPE vocabularies).
        return [*ids, self.end_token_id] if self.end_token_id is not None else ids

    def encode(self, queries: Sequence[str], documents: Sequence[str]) -> dict[str, Tensor]:
        """``input_ids`` / ``attention_mask`` for the pairs, padded on ``padding_side``."""
        if len(queries) != len(documents):
            raise ValueError(f"{len(queries)} queries for {len(documents)} documents")
        rows = [self._pair_ids(q, d) for q, d in zip(queries, documents, strict=True)]
        ids, mask = decoder.pad_sequences(rows, self.tokenizer.pad_token_id, self.padding_side)
        return {"input_ids": ids, "attention_mask": mask}

    def encode_pairs(
        self, queries: Sequence[str], documents: Sequence[str], **extra: Any
    ) -> dict[str, Tensor]:
        """:meth:`encode`; the students' per-pair training inputs (``extra``) are unused."""
        return self.encode(queries, documents)

    # -- model --------------------------------------------------------------

    def pool_index(self, input_ids: Tensor, attention_mask: Tensor) -> Tensor:
        """Position pooled per row: the final end token (``end-token``) or last real token."""
        if self.pooling == "last":
            return decoder.last_real_token_index(attention_mask)
        hit = (input_ids == self.end_token_id) & attention_mask.bool()
        if not bool(hit.any(-1).all()):
            raise ValueError("a sequence has no end token to pool at")
        positions = torch.arange(input_ids.shape[1], device=input_ids.device)
        return (hit.long() * (positions + 1)).argmax(-1)

    def hidden_states(self, features: Mapping[str, Tensor]) -> Tensor:
        return decoder.last_hidden_states(self.backbone, features)

    def pool(self, hidden: Tensor, features: Mapping[str, Tensor]) -> Tensor:
        mask = features["attention_mask"]
        if self.pooling == "mean":
            weights = mask.unsqueeze(-1).to(hidden.dtype)
            return (hidden * weights).sum(1) / weights.sum(1).clamp_min(1.0)
        return decoder.gather_rows(hidden, self.pool_index(features["input_ids"], mask))

    def forward(self, features: Mapping[str, Tensor]) -> Tensor:
        """Scores [n] for the encoded pairs."""
        pooled = self.pool(self.hidden_states(features), features)
        return self.score_head(pooled.to(self.score_head.weight.dtype)).squeeze(-1)

    def training_loss(
        self, features: dict[str, Tensor], labels: Tensor, mask: Tensor, rank_loss: RankLossFn
    ) -> tuple[Tensor, dict[str, float]]:
        """The rank loss alone, with the labels in the scores' dtype (bf16 under autocast)."""
        scores = self.forward(features).view_as(labels)
        loss = rank_loss(scores, labels.to(scores.dtype), mask)
        return loss, {"rank": float(loss.detach())}

    # -- persistence ----------------------------------------------------------

    def settings(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in SETTINGS}

    def save(self, directory: str | Path, info: dict[str, Any]) -> Path:
        """LoRA adapter (or the full backbone) + score head (safetensors) + ``teacher.json``.

        ``info`` must hold ``base_model`` (and ``gguf_file``) when the backbone is a LoRA
        model: loading rebuilds the base and applies the adapter.
        """
        from safetensors.torch import save_file

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        is_lora = hasattr(self.backbone, "peft_config")
        backbone = self.backbone
        if is_lora:
            backbone.save_pretrained(directory / ADAPTER_SUBDIR)
        else:
            state = {k: v.detach().float() for k, v in backbone.state_dict().items()}
            backbone.save_pretrained(directory / BACKBONE_SUBDIR, state_dict=state)
            # A self-contained HF folder: the backbone loads on its own elsewhere too.
            self.tokenizer.save_pretrained(directory / BACKBONE_SUBDIR)
        self.tokenizer.save_pretrained(directory / TOKENIZER_SUBDIR)
        head = {
            k: v.detach().float().cpu().contiguous()
            for k, v in self.score_head.state_dict().items()
        }
        save_file(head, str(directory / HEAD_FILE))
        relative = with_relative_base(info.get("base_model"), directory)
        atomic_write_json(
            directory / TEACHER_FILE, {**info, **relative, **self.settings(), "lora": is_lora}
        )
        return directory

    @classmethod
    def load(cls, directory: str | Path, device: str = "cpu", merge: bool = True) -> LLMRanker:
        """Rebuild a saved ranker; ``merge`` folds LoRA into the weights for faster scoring."""
        from safetensors.torch import load_file
        from transformers import AutoTokenizer

        directory = Path(directory)
        info_path = directory / TEACHER_FILE
        if not info_path.is_file():
            raise FileNotFoundError(f"{info_path} not found: not a saved LLM teacher")
        info = json.loads(info_path.read_text(encoding="utf-8"))
        if info["lora"]:
            from peft import PeftModel

            base_model = base_model_path(info, directory)
            base, _ = decoder.load_decoder(base_model, info.get("gguf_file"), causal_lm=False)
            backbone = PeftModel.from_pretrained(base, str(directory / ADAPTER_SUBDIR))
            if merge:
                backbone = backbone.merge_and_unload()
        else:
            backbone, _ = decoder.load_decoder(str(directory / BACKBONE_SUBDIR), causal_lm=False)
        tokenizer = AutoTokenizer.from_pretrained(str(directory / TOKENIZER_SUBDIR))
        # Settings a teacher saved before they existed keep the constructor's defaults.
        ranker = cls(backbone, tokenizer, **{k: info[k] for k in SETTINGS if k in info})
        ranker.score_head.load_state_dict(load_file(str(directory / HEAD_FILE)))
        return ranker.to(resolve_device(device)).eval()
