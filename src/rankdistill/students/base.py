"""The contract every student re-ranker follows, and the registry that names them.

A student scores a (query, document) pair with one forward pass. Training may use extra
machinery (RRA-BERT's Term Control Layer, RRA-GPT's LM losses) but the model that is saved
for inference is only what scoring needs.

Training data arrives as *query groups* (see ``rankdistill.losses.base``): B queries, each
with up to N documents padded to N, with labels [B, N] and a mask [B, N].
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from rankdistill.registry import Registry

# A ``RankingLoss.compute``: (scores [B, N], labels [B, N], mask [B, N]) -> loss.
RankLossFn = Callable[[Tensor, Tensor, Tensor], Tensor]


class StudentModel(nn.Module):
    """Base class of the students. Subclasses register themselves in :data:`STUDENTS`."""

    kind: ClassVar[str]

    def encode_pairs(
        self, queries: Sequence[str], documents: Sequence[str], **extra: Any
    ) -> dict[str, Tensor]:
        """Tokenise flat (query, document) pairs into model features (CPU tensors).

        ``extra`` carries per-pair training-only inputs (e.g. ``rationales`` and
        ``answers`` for RRA-GPT); inference never passes any.
        """
        raise NotImplementedError

    def forward(self, features: dict[str, Tensor]) -> Tensor:
        """Scores of shape [num_pairs] for the inference path."""
        raise NotImplementedError

    def training_loss(
        self,
        features: dict[str, Tensor],
        labels: Tensor,
        mask: Tensor,
        rank_loss: Callable[[Tensor, Tensor, Tensor], Tensor],
    ) -> tuple[Tensor, dict[str, float]]:
        """Total training loss and its named parts, for one batch of query groups.

        ``features`` holds B*N flattened pairs; ``rank_loss`` is a ``RankingLoss.compute``.
        The default is the rank loss on the inference score alone.
        """
        scores = self.forward(features).view_as(labels)
        loss = rank_loss(scores, labels, mask)
        return loss, {"rank": float(loss.detach())}

    @torch.no_grad()
    def score(self, query: str, documents: Sequence[str], batch_size: int = 32) -> list[float]:
        """The :class:`rankdistill.scoring.Scorer` interface."""
        was_training = self.training
        self.eval()
        device = next(self.parameters()).device
        out: list[float] = []
        for start in range(0, len(documents), batch_size):
            chunk = list(documents[start : start + batch_size])
            feats = self.encode_pairs([query] * len(chunk), chunk)
            feats = {k: v.to(device) for k, v in feats.items()}
            out.extend(self.forward(feats).float().cpu().tolist())
        self.train(was_training)
        return out

    @property
    def name(self) -> str:
        return self.kind

    def save_for_inference(self, directory: str | Path, card: dict[str, Any] | None = None) -> Path:
        """Write the inference model (no training-only parts) with a model card."""
        raise NotImplementedError

    @classmethod
    def load(cls, directory: str | Path, device: str = "cpu") -> StudentModel:
        raise NotImplementedError


STUDENTS: Registry[type[StudentModel]] = Registry("student")


def register_student(cls: type[StudentModel]) -> type[StudentModel]:
    """Class decorator: make a student constructible by its ``kind`` name
    (``training.students[i].student``, ``--student``, the ``kind`` of its model card)."""
    STUDENTS.register(cls.kind, cls)
    return cls


def load_student(directory: str | Path, device: str = "cpu") -> StudentModel:
    """Load any saved student; its ``rankdistill.json`` says which class reads it."""
    import json

    meta_path = Path(directory) / "rankdistill.json"
    if not meta_path.is_file():
        raise FileNotFoundError(f"{directory}: not a rankdistill student (no rankdistill.json)")
    kind = json.loads(meta_path.read_text(encoding="utf-8")).get("kind", "cross-encoder")
    if kind not in STUDENTS:
        raise ValueError(f"{meta_path}: field 'kind': {STUDENTS.unknown_message(kind)}")
    return STUDENTS[kind].load(directory, device=device)
