"""RRA-GPT through the generic distillation trainer (slow: real steps on the 135M decoder)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rankdistill.data.records import Document, LabelRecord, Query, RankingData
from rankdistill.students.rra_gpt import RraGptStudent
from rankdistill.training.config import RraGptConfig, StudentTrainConfig
from tests._decoder_cache import causal_lm


@pytest.mark.slow
def test_train_student_runs_rra_gpt_with_rationales(tmp_path: Path) -> None:
    from rankdistill.training.trainer import train_student

    corpus = {
        "c1": Document("c1", "Cats are carnivores and eat meat."),
        "c2": Document("c2", "Cat food is made of fish."),
        "x1": Document("x1", "The stock market closed higher."),
    }
    data = RankingData({"q1": Query("q1", "what do cats eat")}, corpus)
    labels = [
        LabelRecord(
            "q1",
            "what do cats eat",
            ["c1", "c2", "x1"],
            "listwise",
            "test",
            grades={"c1": 2.0, "c2": 1.0, "x1": 0.0},
            rationales={"c1": "It says cats eat meat.", "x1": "It is about stocks."},
        )
    ]
    cfg = StudentTrainConfig(
        student="rra-gpt",
        loss="hinge",
        targets="grades",
        max_steps=2,
        group_size=3,
        batch_size=1,
        max_length=48,
        learning_rate=1e-5,
        eval_steps=1000,
        logging_steps=1,
        rra_gpt=RraGptConfig(beta_cls=0.5, gamma_gen=0.2),
    )
    model, tok = causal_lm()
    student = RraGptStudent(model=model, tokenizer=tok, max_length=48, beta_cls=0.5, gamma_gen=0.2)
    result = train_student(cfg, labels, data, tmp_path / "run", student=student, device="cpu")
    history = [e for e in result.history if "loss" in e]
    assert history and all(e["loss"] > 0 for e in history)
    card = json.loads((result.model_dir / "rankdistill.json").read_text())
    assert card["kind"] == "rra-gpt"
    loaded = RraGptStudent.load(result.model_dir)
    texts = [d.text for d in corpus.values()]
    expected = student.score("what do cats eat", texts)
    assert loaded.score("what do cats eat", texts) == pytest.approx(expected, abs=1e-4)
