"""Cross-encoder student: tokenisation, saving, and loading by sentence-transformers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from rankdistill.students import STUDENTS, CrossEncoderStudent

QUERY = "how do solar panels work"
DOCS = [
    "Solar panels convert sunlight into electricity using photovoltaic cells.",
    "The recipe needs two cups of flour and an egg.",
    "Photovoltaic cells are made of silicon semiconductors.",
]


@pytest.fixture(scope="module")
def student() -> CrossEncoderStudent:
    torch.manual_seed(0)
    return CrossEncoderStudent("minilm-l6", max_length=64).eval()


@pytest.fixture(scope="module")
def saved(student: CrossEncoderStudent, tmp_path_factory: pytest.TempPathFactory) -> Path:
    card = {
        "teacher": "rradistill-listwise:smollm2-135m",
        "losses": {"hybrid": {"alpha": 1.0}},
        "metrics": {"nDCG@10": 0.5},
    }
    return student.save_for_inference(tmp_path_factory.mktemp("ce") / "model", card)


def test_registered_by_kind() -> None:
    assert STUDENTS["cross-encoder"] is CrossEncoderStudent


def test_query_is_never_truncated(student: CrossEncoderStudent) -> None:
    query = "what is the boiling point of water at altitude"
    long_doc = "water boils at lower temperatures when pressure drops " * 40
    feats = student.encode_pairs([query, query], [long_doc, "short"])
    assert feats["input_ids"].shape == (2, 64)
    query_ids = student.tokenizer(query, add_special_tokens=False)["input_ids"]
    # [CLS] query [SEP] ...: the whole query survives, the document was cut.
    assert feats["input_ids"][0, 1 : 1 + len(query_ids)].tolist() == query_ids
    assert int(feats["attention_mask"][0].sum()) == 64
    assert int(feats["attention_mask"][1].sum()) < 64


def test_overlong_query_falls_back_without_error(student: CrossEncoderStudent) -> None:
    feats = student.encode_pairs(["word " * 200, "short query"], ["a document", "another one"])
    assert feats["input_ids"].shape[1] == 64
    assert int(feats["attention_mask"][0].sum()) == 64
    # The other pair is tokenised exactly as on its own (per-pair truncation rule).
    alone = student.encode_pairs(["short query"], ["another one"])
    n = int(alone["attention_mask"].sum())
    assert feats["input_ids"][1, :n].tolist() == alone["input_ids"][0].tolist()


def test_saved_directory_contents(saved: Path) -> None:
    for name in ("config.json", "model.safetensors", "tokenizer.json", "README.md"):
        assert (saved / name).is_file(), name
    meta = json.loads((saved / "rankdistill.json").read_text())
    assert meta["kind"] == "cross-encoder"
    assert meta["max_length"] == 64
    assert meta["backbone"] == "minilm-l6"
    assert meta["created_by"].startswith("rankdistill")
    card = (saved / "README.md").read_text()
    assert "rradistill-listwise:smollm2-135m" in card and "hybrid" in card and "nDCG@10" in card
    assert not list(saved.glob("*.bin")) and not list(saved.glob("*.pt")), "no pickles"


def test_load_gives_the_same_scores(student: CrossEncoderStudent, saved: Path) -> None:
    loaded = CrossEncoderStudent.load(saved)
    assert loaded.max_length == 64
    assert loaded.backbone == "minilm-l6"
    assert loaded.score(QUERY, DOCS) == pytest.approx(student.score(QUERY, DOCS), abs=1e-6)


def test_sentence_transformers_cross_encoder_returns_the_raw_logit(
    student: CrossEncoderStudent, saved: Path
) -> None:
    from sentence_transformers import CrossEncoder

    ours = student.score(QUERY, DOCS)
    model = CrossEncoder(str(saved), device="cpu")
    assert isinstance(model.activation_fn, torch.nn.Identity)
    theirs = model.predict([(QUERY, d) for d in DOCS])
    assert theirs.tolist() == pytest.approx(ours, abs=1e-5)
    # With the usual sigmoid activation forced, it returns sigmoid(logit).
    sigmoid = CrossEncoder(str(saved), device="cpu", activation_fn=torch.nn.Sigmoid())
    probs = sigmoid.predict([(QUERY, d) for d in DOCS])
    assert probs.tolist() == pytest.approx(torch.sigmoid(torch.tensor(ours)).tolist(), abs=1e-5)


def test_scores_are_batch_independent(student: CrossEncoderStudent) -> None:
    one_by_one = [student.score(QUERY, [d])[0] for d in DOCS]
    assert student.score(QUERY, DOCS, batch_size=2) == pytest.approx(one_by_one, abs=1e-5)


def test_missing_metadata_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"rankdistill\.json"):
        CrossEncoderStudent.load(tmp_path)
