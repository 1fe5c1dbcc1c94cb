"""DisRanker step 2: the LLM ranker, fine-tuned with a rank loss (SPEC section 3.2).

Input ``query: {q} document: {d}`` followed by the end token (the tokenizer's EOS, the
``</s>`` of the paper; configurable); the last layer's hidden state at that final end
token goes through a dense layer to one score. Pooling finds the end token from the
attention mask, never from position -1, so it is right under left and right padding
(and even when the pad token *is* the EOS, as in SmolLM2). Ablations: no end token with
``last`` pooling, ``mean`` pooling, pointwise instead of pairwise loss, with/without CPT.
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from rankdistill.data.records import LabelRecord, Qrels, RankingData
from rankdistill.losses import build_loss
from rankdistill.losses.base import RankingLoss
from rankdistill.students.rra_gpt import (
    PaddingSide,
    gather_rows,
    last_real_token_index,
    load_decoder,
    pad_sequences,
    position_ids_from_mask,
    single_token_id,
    split_template,
)
from rankdistill.teachers.config import SftConfig, TeacherConfig
from rankdistill.teachers.hf import (
    apply_lora,
    base_model_path,
    loss_history,
    training_arguments,
    with_relative_base,
)
from rankdistill.utils import atomic_write_json, resolve_device, set_seed

log = logging.getLogger(__name__)

TEACHER_FILE = "teacher.json"
HEAD_FILE = "score_head.safetensors"
ADAPTER_SUBDIR = "adapter"
BACKBONE_SUBDIR = "backbone"
TOKENIZER_SUBDIR = "tokenizer"

# SftConfig.loss -> name in rankdistill.losses' registry.
SFT_LOSSES: dict[str, str] = {
    "hinge": "hinge",
    "ranknet": "ranknet",
    "pointwise-mse": "point-mse",
    "pointwise-bce": "bce",
}


class LLMRanker(nn.Module):
    """Decoder backbone + dense score head on the end token (or last token, or mean)."""

    def __init__(
        self,
        backbone: nn.Module,
        tokenizer: Any,
        *,
        template: str = "query: {query} document: {document}",
        end_token: bool = True,
        end_token_text: str | None = None,
        pooling: str = "end-token",
        padding_side: PaddingSide = "right",
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
        self.padding_side: PaddingSide = padding_side
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
        return single_token_id(self.tokenizer, self.end_token_text)

    # -- tokenisation -------------------------------------------------------

    def _pair_ids(self, query: str, document: str) -> list[int]:
        tok = self.tokenizer
        head, document, tail = split_template(self.template, query, document)
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
        ids, mask = pad_sequences(rows, self.tokenizer.pad_token_id, self.padding_side)
        return {"input_ids": ids, "attention_mask": mask}

    # -- model --------------------------------------------------------------

    def pool_index(self, input_ids: Tensor, attention_mask: Tensor) -> Tensor:
        """Position pooled per row: the final end token (``end-token``) or last real token."""
        if self.pooling == "last":
            return last_real_token_index(attention_mask)
        hit = (input_ids == self.end_token_id) & attention_mask.bool()
        if not bool(hit.any(-1).all()):
            raise ValueError("a sequence has no end token to pool at")
        positions = torch.arange(input_ids.shape[1], device=input_ids.device)
        return (hit.long() * (positions + 1)).argmax(-1)

    def hidden_states(self, features: Mapping[str, Tensor]) -> Tensor:
        mask = features["attention_mask"]
        out = self.backbone(
            input_ids=features["input_ids"],
            attention_mask=mask,
            position_ids=position_ids_from_mask(mask),
        )
        return out.last_hidden_state

    def pool(self, hidden: Tensor, features: Mapping[str, Tensor]) -> Tensor:
        mask = features["attention_mask"]
        if self.pooling == "mean":
            weights = mask.unsqueeze(-1).to(hidden.dtype)
            return (hidden * weights).sum(1) / weights.sum(1).clamp_min(1.0)
        return gather_rows(hidden, self.pool_index(features["input_ids"], mask))

    def forward(self, features: Mapping[str, Tensor]) -> Tensor:
        """Scores [n] for the encoded pairs."""
        pooled = self.pool(self.hidden_states(features), features)
        return self.score_head(pooled.to(self.score_head.weight.dtype)).squeeze(-1)

    @torch.no_grad()
    def score(self, query: str, documents: Sequence[str], batch_size: int = 16) -> list[float]:
        was_training = self.training
        self.eval()
        device = self.score_head.weight.device
        out: list[float] = []
        for start in range(0, len(documents), batch_size):
            chunk = list(documents[start : start + batch_size])
            feats = {k: v.to(device) for k, v in self.encode([query] * len(chunk), chunk).items()}
            out.extend(self.forward(feats).float().cpu().tolist())
        self.train(was_training)
        return out

    # -- persistence ----------------------------------------------------------

    def settings(self) -> dict[str, Any]:
        return {
            "template": self.template,
            "end_token": self.end_token,
            "end_token_text": self.end_token_text,
            "pooling": self.pooling,
            "padding_side": self.padding_side,
            "max_length": self.max_length,
        }

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
            base, _ = load_decoder(base_model, info.get("gguf_file"), causal_lm=False)
            backbone = PeftModel.from_pretrained(base, str(directory / ADAPTER_SUBDIR))
            if merge:
                backbone = backbone.merge_and_unload()
        else:
            backbone, _ = load_decoder(str(directory / BACKBONE_SUBDIR), causal_lm=False)
        tokenizer = AutoTokenizer.from_pretrained(str(directory / TOKENIZER_SUBDIR))
        ranker = cls(
            backbone,
            tokenizer,
            template=info["template"],
            end_token=info["end_token"],
            end_token_text=info.get("end_token_text"),
            pooling=info["pooling"],
            padding_side=info.get("padding_side", "right"),
            max_length=info["max_length"],
        )
        ranker.score_head.load_state_dict(load_file(str(directory / HEAD_FILE)))
        return ranker.to(resolve_device(device)).eval()


def build_ranker(
    cfg: TeacherConfig, init: str | Path | None = None
) -> tuple[LLMRanker, dict[str, Any]]:
    """A fresh ranker from ``cfg.model`` (or a CPT output) with LoRA per ``cfg.lora``.

    Returns the ranker and the provenance (``base_model``, ``gguf_file``) to save with it.
    """
    if init is not None:
        from rankdistill.teachers.cpt import cpt_model_path

        base_model, gguf_file = cpt_model_path(init), None
    else:
        base_model, gguf_file = cfg.model, cfg.gguf_file
    backbone, tokenizer = load_decoder(base_model, gguf_file, causal_lm=False)
    backbone = apply_lora(backbone, cfg.lora, task_type="FEATURE_EXTRACTION")
    ranker = LLMRanker(backbone, tokenizer, **sft_ranker_kwargs(cfg.sft))
    provenance = {
        "base_model": base_model,
        "gguf_file": gguf_file,
        "cpt": None if init is None else str(init),
    }
    return ranker, provenance


def sft_ranker_kwargs(sft: SftConfig) -> dict[str, Any]:
    return {
        "template": sft.template,
        "end_token": sft.end_token,
        "end_token_text": sft.end_token_text,
        "pooling": sft.pooling,
        "padding_side": sft.padding_side,
        "max_length": sft.max_length,
    }


# ---------------------------------------------------------------------------
# Training data: query groups
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class QueryGroup:
    """Up to ``group_size`` labelled documents of one query."""

    qid: str
    query: str
    documents: list[str]
    labels: list[float]


def sft_targets(
    labels_or_qrels: Qrels | Sequence[LabelRecord], prefer: str = "grades"
) -> dict[str, dict[str, float]]:
    """qid -> docid -> target, from qrels or from label records (grades or scores)."""
    if isinstance(labels_or_qrels, Mapping):
        return {q: {d: float(g) for d, g in docs.items()} for q, docs in labels_or_qrels.items()}
    out: dict[str, dict[str, float]] = {}
    for record in labels_or_qrels:
        out[record.qid] = record.targets(prefer=prefer)  # type: ignore[arg-type]
    return out


def _stratified_order(docs: dict[str, float], rng: random.Random) -> list[str]:
    """Documents interleaved across label values, so every prefix mixes grades."""
    buckets: dict[float, list[str]] = {}
    for docid, label in docs.items():
        buckets.setdefault(label, []).append(docid)
    lists = [buckets[k] for k in sorted(buckets, reverse=True)]
    for bucket in lists:
        rng.shuffle(bucket)
    order: list[str] = []
    while any(lists):
        for bucket in lists:
            if bucket:
                order.append(bucket.pop())
    return order


def build_query_groups(
    targets: dict[str, dict[str, float]],
    data: RankingData,
    group_size: int,
    seed: int = 13,
    pairwise: bool = True,
) -> list[QueryGroup]:
    """One group per query: a grade-stratified sample of its labelled documents.

    Documents missing from the corpus are skipped. With ``pairwise``, queries whose
    documents all share one label are dropped (they form no pair).
    """
    rng = random.Random(seed)
    groups: list[QueryGroup] = []
    for qid in sorted(targets):
        if qid not in data.queries:
            continue
        docs = {d: v for d, v in targets[qid].items() if d in data.corpus}
        if len(docs) < 1 or (pairwise and len(set(docs.values())) < 2):
            continue
        chosen = _stratified_order(docs, rng)[:group_size]
        groups.append(
            QueryGroup(
                qid=qid,
                query=data.queries[qid].text,
                documents=[data.corpus[d].full_text for d in chosen],
                labels=[docs[d] for d in chosen],
            )
        )
    return groups


class GroupCollator:
    """Query groups -> flat encoded pairs + ``labels`` [B, N] + ``mask`` [B, N]."""

    def __init__(self, ranker: LLMRanker, group_size: int, label_scale: float = 1.0) -> None:
        self.ranker = ranker
        self.group_size = group_size
        self.label_scale = label_scale

    def __call__(self, groups: list[QueryGroup]) -> dict[str, Tensor]:
        n = self.group_size
        queries: list[str] = []
        documents: list[str] = []
        labels = torch.zeros(len(groups), n)
        mask = torch.zeros(len(groups), n, dtype=torch.bool)
        for b, group in enumerate(groups):
            k = len(group.documents)
            # Padding slots hold an empty document; the mask keeps them out of the loss.
            queries.extend([group.query] * n)
            documents.extend(group.documents + [""] * (n - k))
            labels[b, :k] = torch.tensor(group.labels) / self.label_scale
            mask[b, :k] = True
        features = self.ranker.encode(queries, documents)
        return {**features, "labels": labels, "mask": mask}


def _make_trainer_class() -> type:
    from transformers import Trainer

    class GroupRankTrainer(Trainer):
        """Trainer whose loss is a ranking loss over query groups."""

        def __init__(self, *args: Any, rank_loss: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.rank_loss = rank_loss

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):  # type: ignore[no-untyped-def]
            labels = inputs.pop("labels")
            mask = inputs.pop("mask")
            scores = model(inputs).view_as(labels)
            loss = self.rank_loss.compute(scores, labels.to(scores.dtype), mask)
            return (loss, scores) if return_outputs else loss

    return GroupRankTrainer


def build_sft_loss(sft: SftConfig) -> RankingLoss:
    """The SFT rank loss: hinge (margin ``sft.margin``), RankNet, or a pointwise ablation."""
    name = SFT_LOSSES[sft.loss]
    hyper = {"margin": sft.margin} if name == "hinge" else {}
    return build_loss(name, **hyper)


def run_sft(
    cfg: TeacherConfig,
    labels_or_qrels: Qrels | Sequence[LabelRecord],
    data: RankingData,
    out_dir: str | Path,
    init: str | Path | None = None,
    device: str = "auto",
) -> Path:
    """Fine-tune the LLM ranker with the rank loss of ``cfg.sft.loss``; returns ``out_dir``.

    ``init`` is a CPT output folder (``None``: start from ``cfg.model``). Pairwise losses
    (``hinge`` with margin ``cfg.sft.margin``, ``ranknet``) compare same-query documents
    with different labels; the pointwise ablations regress (MSE) or classify (BCE) the
    labels scaled to [0, 1] by the largest label.
    """
    out_dir = Path(out_dir)
    device = resolve_device(device)
    set_seed(cfg.seed)
    sft = cfg.sft
    pairwise = sft.loss in ("hinge", "ranknet")
    targets = sft_targets(labels_or_qrels, prefer=sft.targets)
    groups = build_query_groups(targets, data, sft.group_size, cfg.seed, pairwise=pairwise)
    if not groups:
        raise ValueError("run_sft: no query has labelled documents in the corpus (with 2+ grades)")
    max_label = max((abs(v) for g in groups for v in g.labels), default=1.0) or 1.0
    label_scale = 1.0 if pairwise else max_label
    loss = build_sft_loss(sft)
    ranker, provenance = build_ranker(cfg, init)
    args = training_arguments(
        cfg,
        out_dir,
        device,
        learning_rate=sft.learning_rate,
        batch_size=sft.batch_size,
        epochs=sft.epochs,
        max_steps=sft.max_steps,
        grad_accum=sft.grad_accum,
        warmup_ratio=sft.warmup_ratio,
    )
    trainer = _make_trainer_class()(
        model=ranker,
        args=args,
        train_dataset=groups,
        data_collator=GroupCollator(ranker, sft.group_size, label_scale),
        rank_loss=loss,
    )
    trainer.train()
    info = {
        **provenance,
        "loss": sft.loss,
        "loss_config": loss.get_config_dict(),
        "label_scale": label_scale,
        "queries": len(groups),
        "steps": trainer.state.global_step,
        "losses": loss_history(trainer),
    }
    ranker.to("cpu").save(out_dir, info)
    return out_dir


class LLMTeacherScorer:
    """The :class:`rankdistill.scoring.Scorer` of a fine-tuned LLM teacher."""

    def __init__(self, ranker: LLMRanker, name: str = "llm-teacher", batch_size: int = 16) -> None:
        self.ranker = ranker
        self.name = name
        self.batch_size = batch_size

    @classmethod
    def from_dir(
        cls, directory: str | Path, device: str = "auto", batch_size: int = 16
    ) -> LLMTeacherScorer:
        directory = Path(directory)
        ranker = LLMRanker.load(directory, device=device)
        return cls(ranker, name=f"llm-teacher:{directory.resolve().name}", batch_size=batch_size)

    def score(self, query: str, documents: Sequence[str]) -> list[float]:
        return self.ranker.score(query, documents, batch_size=self.batch_size)
