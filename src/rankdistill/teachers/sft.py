"""DisRanker step 2: the LLM ranker fine-tuned with a rank loss (SPEC section 3.2).

The ranker (:mod:`rankdistill.teachers.ranker`) trains on the students' stack: query
groups, collator and Trainer from :mod:`rankdistill.training`. Losses: pairwise hinge or
RankNet, or a pointwise ablation; with or without CPT as the starting point.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rankdistill.data.records import LabelRecord, Qrels, RankingData
from rankdistill.losses import build_loss
from rankdistill.losses.base import LOSSES, RankingLoss, loss_options
from rankdistill.students.decoder import load_decoder
from rankdistill.teachers.config import SftConfig, TeacherConfig
from rankdistill.teachers.hf import apply_lora, loss_history, teacher_training_arguments
from rankdistill.teachers.ranker import SETTINGS as RANKER_SETTINGS
from rankdistill.teachers.ranker import LLMRanker
from rankdistill.training.data import QueryGroup, QueryGroupCollator, build_query_groups
from rankdistill.training.trainer import StudentWithLoss, make_trainer
from rankdistill.utils import resolve_device, set_seed


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
    """The :class:`LLMRanker` settings of ``sft``."""
    return {name: getattr(sft, name) for name in RANKER_SETTINGS}


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


def sft_query_groups(
    targets: dict[str, dict[str, float]],
    data: RankingData,
    group_size: int,
    seed: int = 13,
    pairwise: bool = True,
) -> list[QueryGroup]:
    """One group per query: a grade-stratified sample of its labelled documents.

    Queries and documents missing from ``data`` are skipped. With ``pairwise``, queries
    whose documents all share one label are dropped (they form no pair).
    """
    records = []
    for qid in sorted(targets):
        if qid not in data.queries:
            continue
        docs = {d: v for d, v in targets[qid].items() if d in data.corpus}
        query = data.queries[qid].text
        records.append(LabelRecord(qid, query, list(docs), "sft", "targets", scores=docs))
    return build_query_groups(
        records,
        data.corpus,
        data.queries,
        group_size,
        targets="scores",
        seed=seed,
        sampling="stratified",
        min_distinct_targets=2 if pairwise else 1,
    )


def build_sft_loss(sft: SftConfig) -> RankingLoss:
    """The SFT rank loss: hinge (margin ``sft.margin``), RankNet, or a pointwise ablation."""
    hyper = {"margin": sft.margin} if "margin" in loss_options(LOSSES.require(sft.loss)) else {}
    return build_loss(sft.loss, **hyper)


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
    pairwise = not LOSSES.require(sft.loss).pointwise
    targets = sft_targets(labels_or_qrels, prefer=sft.targets)
    groups = sft_query_groups(targets, data, sft.group_size, cfg.seed, pairwise=pairwise)
    if not groups:
        raise ValueError("run_sft: no query has labelled documents in the corpus (with 2+ grades)")
    max_label = max((abs(v) for g in groups for v in g.targets), default=1.0) or 1.0
    label_scale = 1.0 if pairwise else max_label
    loss = build_sft_loss(sft)
    ranker, provenance = build_ranker(cfg, init)
    args = teacher_training_arguments(cfg, sft, out_dir, device)
    collator = QueryGroupCollator(ranker, label_scale)
    trainer = make_trainer(StudentWithLoss(ranker, loss), args, groups, collator)
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
