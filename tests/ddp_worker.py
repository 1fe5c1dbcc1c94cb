"""One process of the 2-process DDP test (run by torchrun from test_training_ddp.py).

Usage: ddp_worker.py BACKBONE_DIR OUT_DIR. Trains a cross-encoder for a few steps on toy
query groups (gloo on CPU) and writes OUT_DIR/rank<R>.json with the state-dict digests
before and after training, the queries this rank saw, and its dev-evaluation calls.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from rankdistill.data.records import Document, LabelRecord, Query, RankingData
from rankdistill.scoring import Scorer
from rankdistill.students import CrossEncoderStudent
from rankdistill.training.checkpoints import state_digest
from rankdistill.training.config import StudentTrainConfig
from rankdistill.training.trainer import train_student

TOPICS = {
    "q1": ("solar electricity", "solar panels make electricity from sunlight"),
    "q2": ("baking bread", "how to bake sourdough bread at home"),
    "q3": ("roman history", "the history of the roman empire"),
    "q4": ("wind power", "wind turbines generate renewable power"),
}


def make_tiny_bert(folder: Path) -> str:
    """A 2-layer, 32-wide BERT with MiniLM's tokenizer: real HF code, fast to train."""
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    from rankdistill.resources import resolve_model

    tokenizer = AutoTokenizer.from_pretrained(resolve_model("minilm-l6").path)
    config = BertConfig(
        vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2,
        num_attention_heads=2, intermediate_size=64, max_position_embeddings=64, num_labels=1,
    )  # fmt: skip
    torch.manual_seed(0)
    BertForSequenceClassification(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return str(folder)


class RecordingStudent(CrossEncoderStudent):
    """A cross-encoder that remembers which training queries it encoded."""

    seen: set[str]

    def encode_pairs(
        self, queries: Sequence[str], documents: Sequence[str], **extra: Any
    ) -> dict[str, torch.Tensor]:
        if self.training:  # the collator; scoring (dev evaluation) runs in eval mode
            self.seen.update(queries)
        return super().encode_pairs(queries, documents, **extra)


def toy_data() -> tuple[list[LabelRecord], RankingData]:
    corpus = {f"d{i}": Document(f"d{i}", text) for i, (_, text) in enumerate(TOPICS.values())}
    queries = {qid: Query(qid, q) for qid, (q, _) in TOPICS.items()}
    labels = []
    for i, (qid, (query, _)) in enumerate(TOPICS.items()):
        scores = {f"d{j}": (3.0 if j == i else -1.0 + 0.5 * j) for j in range(len(TOPICS))}
        labels.append(LabelRecord(qid, query, list(scores), "ranker", "toy", scores=scores))
    return labels, RankingData(queries, corpus)


def main(backbone: str, out: Path) -> None:
    torch.set_num_threads(1)
    labels, data = toy_data()
    cfg = StudentTrainConfig(
        backbone=backbone, max_length=32, group_size=4, batch_size=1, max_steps=2,
        eval_steps=1, logging_steps=1, learning_rate=1e-3, warmup_ratio=0.0,
    )  # fmt: skip
    torch.manual_seed(cfg.seed)
    student = RecordingStudent(backbone, max_length=32)
    student.seen = set()
    initial = state_digest(student)
    dev_calls: list[int] = []

    def dev(scorer: Scorer) -> dict[str, float]:
        dev_calls.append(1)
        scores = scorer.score("solar electricity", [TOPICS["q1"][1], TOPICS["q3"][1]])
        return {"nDCG@10": float(scores[0] - scores[1])}

    result = train_student(
        cfg, labels, data, out / "run", dev_evaluate=dev, student=student, device="cpu",
        progress=False,
    )  # fmt: skip
    rank = torch.distributed.get_rank()
    report = {
        "rank": rank,
        "world_size": torch.distributed.get_world_size(),
        "initial": initial,
        "final": state_digest(student),
        "seen": sorted(student.seen),
        "dev_calls": len(dev_calls),
        "metrics": result.metrics,
    }
    (out / f"rank{rank}.json").write_text(json.dumps(report), encoding="utf-8")


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]))
