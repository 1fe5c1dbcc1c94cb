"""RRA-BERT (RRADistill, SPEC 4.2): a cross-encoder trained with a Term Control Layer.

The Term Control Layer (TCL) exists only in training (reconstructed from the paper's
description): it attention-pools the final hidden states of the tokens Token Selection
marked (query terms found in the document and their matches there), gates that term
vector against ``[CLS]`` and scores the result, ``s_tcl``. The training loss

    L = L_rank(s_cls) + lambda * L_rank(s_tcl) + mu * mean((s_cls - s_tcl)^2)

pulls the ``[CLS]`` score toward the term-aware one, so the encoder learns the
term-matching signal. Inference and the saved model use only the encoder and its
``[CLS]`` head: an exported RRA-BERT is a plain cross-encoder, the same size and speed.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from rankdistill.losses.base import masked_mean
from rankdistill.students.base import RankLossFn, register_student
from rankdistill.students.cross_encoder import CrossEncoderStudent
from rankdistill.students.token_selection import MatchRule, TokenSelector


class TermControlLayer(nn.Module):
    """Term vector by attention pooling, sigmoid gate against [CLS], linear score.

    Pairs without any selected token have no term vector: the [CLS] state stands in for
    it, so their s_tcl is a second head on [CLS] (reconstructed).
    """

    def __init__(self, hidden_size: int) -> None:
        super().__init__()
        self.attention = nn.Linear(hidden_size, 1)
        self.gate = nn.Linear(2 * hidden_size, hidden_size)
        self.score = nn.Linear(hidden_size, 1)

    def forward(self, hidden: Tensor, term_mask: Tensor) -> Tensor:
        """``hidden`` [P, T, H] final states, ``term_mask`` [P, T] -> s_tcl [P]."""
        cls = hidden[:, 0]
        has_terms = term_mask.any(dim=1, keepdim=True)
        logits = self.attention(hidden).squeeze(-1).masked_fill(~term_mask, float("-inf"))
        # Rows without terms would softmax over nothing; they are replaced below anyway.
        weights = torch.softmax(logits.masked_fill(~has_terms, 0.0), dim=1)
        pooled = torch.einsum("pt,pth->ph", weights, hidden)
        terms = torch.where(has_terms, pooled, cls)
        gate = torch.sigmoid(self.gate(torch.cat([cls, terms], dim=-1)))
        mixed = gate * terms + (1.0 - gate) * cls
        return self.score(mixed).squeeze(-1)


@register_student
class RraBertStudent(CrossEncoderStudent):
    """Cross-encoder + training-only TCL. ``save_for_inference`` writes a plain cross-encoder.

    ``detach_tcl_target`` (reconstructed): in the consistency term s_tcl is a fixed target,
    so it moves s_cls toward s_tcl and not the reverse; TCL still learns from its own
    rank loss.
    """

    kind = "rra-bert"

    def __init__(
        self,
        backbone: str = "minilm-l6",
        max_length: int = 256,
        *,
        lambda_tcl: float = 0.5,
        mu_consistency: float = 0.1,
        match_rule: MatchRule = "exact",
        ignore_stopwords: bool = True,
        detach_tcl_target: bool = True,
        model: Any | None = None,
        tokenizer: Any | None = None,
    ) -> None:
        super().__init__(backbone, max_length, model=model, tokenizer=tokenizer)
        self.lambda_tcl = float(lambda_tcl)
        self.mu_consistency = float(mu_consistency)
        self.detach_tcl_target = bool(detach_tcl_target)
        self.selector = TokenSelector(match_rule=match_rule, ignore_stopwords=ignore_stopwords)
        self.tcl = TermControlLayer(int(self.model.config.hidden_size))

    @classmethod
    def from_config(cls, cfg: Any, **kwargs: Any) -> RraBertStudent:
        """Build from a ``StudentTrainConfig`` (``backbone``, ``max_length``, ``tcl``, whose
        fields are this constructor's keywords)."""
        tcl = cfg.tcl.model_dump()
        return cls(backbone=cfg.backbone, max_length=cfg.max_length, **tcl, **kwargs)

    def encode_pairs(
        self, queries: Sequence[str], documents: Sequence[str], **extra: Any
    ) -> dict[str, Tensor]:
        """Cross-encoder features plus ``term_mask`` [pairs, seq] from Token Selection."""
        rows, encodings = self.tokenize_pairs(queries, documents, with_offsets=True)
        features = self.pad(rows)
        features["term_mask"] = self.selector.term_mask(
            encodings,
            queries,
            documents,
            length=features["input_ids"].shape[1],
            padding_side=self.tokenizer.padding_side,
        )
        return features

    def scores_with_tcl(self, features: dict[str, Tensor]) -> tuple[Tensor, Tensor]:
        """(s_cls, s_tcl), each [pairs], from one encoder pass."""
        out = self.model(**self.encoder_inputs(features), output_hidden_states=True)
        s_cls = out.logits.squeeze(-1)
        term_mask = features["term_mask"].to(device=s_cls.device, dtype=torch.bool)
        s_tcl = self.tcl(out.hidden_states[-1], term_mask)
        return s_cls, s_tcl.to(s_cls.dtype)

    def training_loss(
        self, features: dict[str, Tensor], labels: Tensor, mask: Tensor, rank_loss: RankLossFn
    ) -> tuple[Tensor, dict[str, float]]:
        """L_rank(s_cls) + lambda * L_rank(s_tcl) + mu * mean over real docs (s_cls - s_tcl)^2."""
        s_cls, s_tcl = self.scores_with_tcl(features)
        s_cls, s_tcl = s_cls.view_as(labels), s_tcl.view_as(labels)
        rank = rank_loss(s_cls, labels, mask)
        rank_tcl = rank_loss(s_tcl, labels, mask)
        target = s_tcl.detach() if self.detach_tcl_target else s_tcl
        consistency = masked_mean((s_cls - target) ** 2, mask)
        loss = rank + self.lambda_tcl * rank_tcl + self.mu_consistency * consistency
        parts = {
            "rank": float(rank.detach()),
            "rank_tcl": float(rank_tcl.detach()),
            "consistency": float(consistency.detach()),
        }
        return loss, parts

    def tcl_config(self) -> dict[str, Any]:
        """The TCL settings, for model cards."""
        return {
            "lambda_tcl": self.lambda_tcl,
            "mu_consistency": self.mu_consistency,
            "match_rule": self.selector.match_rule,
            "ignore_stopwords": self.selector.ignore_stopwords,
            "detach_tcl_target": self.detach_tcl_target,
        }

    # save_for_inference is CrossEncoderStudent's: it writes self.model (encoder + [CLS]
    # head) and never self.tcl, with kind "cross-encoder" and trained_as "rra-bert".

    @classmethod
    def load(cls, directory: str | Path, device: str = "cpu") -> CrossEncoderStudent:
        """An exported RRA-BERT is a plain cross-encoder: this returns a CrossEncoderStudent.

        To continue training with a (fresh) TCL, build ``RraBertStudent(directory)``.
        """
        return CrossEncoderStudent.load(directory, device=device)
