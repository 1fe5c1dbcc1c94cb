"""RRA-BERT: term masks, the training-only Term Control Layer, and TCL-free export."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from rankdistill.losses import build_loss
from rankdistill.students import STUDENTS, CrossEncoderStudent, RraBertStudent, TokenSelector

QUERY = "solar panels electricity"
DOCS = [
    "Solar panels turn sunlight into electricity.",
    "A recipe for apple pie with cinnamon.",
    "Electricity prices rose sharply this winter.",
]


@pytest.fixture(scope="module")
def plain() -> CrossEncoderStudent:
    torch.manual_seed(0)
    return CrossEncoderStudent("minilm-l6", max_length=64)


def rra_from(plain: CrossEncoderStudent, **options: float) -> RraBertStudent:
    """An RRA-BERT sharing nothing with ``plain`` but a copy of its encoder weights."""
    torch.manual_seed(1)
    return RraBertStudent(
        "minilm-l6", 64, model=copy.deepcopy(plain.model), tokenizer=plain.tokenizer, **options
    )


def batch(student: RraBertStudent) -> tuple[dict[str, torch.Tensor], torch.Tensor, torch.Tensor]:
    """Two queries x 3 documents; the second query matches no document term."""
    queries = [QUERY] * 3 + ["quantum chromodynamics"] * 3
    feats = student.encode_pairs(queries, DOCS + DOCS)
    labels = torch.tensor([[2.0, 0.0, 1.0], [1.0, 0.0, 0.5]])
    mask = torch.ones(2, 3, dtype=torch.bool)
    return feats, labels, mask


def test_registered_by_kind() -> None:
    assert STUDENTS["rra-bert"] is RraBertStudent


def test_term_mask_feature_matches_token_selection(plain: CrossEncoderStudent) -> None:
    student = rra_from(plain)
    feats = student.encode_pairs([QUERY, QUERY], DOCS[:2])
    term_mask = feats["term_mask"]
    assert term_mask.shape == feats["input_ids"].shape and term_mask.dtype == torch.bool
    for row, doc in enumerate(DOCS[:2]):
        encoding = plain.tokenizer(QUERY, doc, return_offsets_mapping=True).encodings[0]
        expected = TokenSelector().select(encoding, QUERY, doc)
        assert term_mask[row, : len(expected)].tolist() == expected
        assert not term_mask[row, len(expected) :].any()  # padding
    tokens = plain.tokenizer.convert_ids_to_tokens(feats["input_ids"][0][term_mask[0]])
    assert tokens == ["solar", "panels", "electricity", "solar", "panels", "electricity"]
    assert not term_mask[1].any()  # the pie recipe shares no term


def test_tcl_gradients_flow_and_loss_parts(plain: CrossEncoderStudent) -> None:
    student = rra_from(plain, lambda_tcl=0.5, mu_consistency=0.1).train()
    feats, labels, mask = batch(student)
    loss_fn = build_loss("hybrid")
    loss, parts = student.training_loss(feats, labels, mask, loss_fn.compute)
    assert set(parts) == {"rank", "rank_tcl", "consistency"}
    assert torch.isfinite(loss)
    expected = parts["rank"] + 0.5 * parts["rank_tcl"] + 0.1 * parts["consistency"]
    assert float(loss.detach()) == pytest.approx(expected, rel=1e-5)
    loss.backward()
    for name, param in student.tcl.named_parameters():
        assert param.grad is not None and param.grad.abs().sum() > 0, f"no gradient in tcl.{name}"
    assert student.model.classifier.weight.grad.abs().sum() > 0


def test_consistency_term_trains_the_cls_head_toward_tcl(plain: CrossEncoderStudent) -> None:
    # With only the consistency term, the (detached) TCL score is a target for [CLS].
    student = rra_from(plain, lambda_tcl=0.0, mu_consistency=1.0).train()
    feats, labels, mask = batch(student)

    def no_rank(s: torch.Tensor, y: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
        return s.sum() * 0.0

    loss, _ = student.training_loss(feats, labels, mask, no_rank)
    loss.backward()
    assert student.model.classifier.weight.grad.abs().sum() > 0
    assert all(p.grad is None or p.grad.abs().sum() == 0 for p in student.tcl.parameters())


def test_inference_ignores_tcl(plain: CrossEncoderStudent) -> None:
    student = rra_from(plain).eval()
    assert student.score(QUERY, DOCS) == pytest.approx(plain.eval().score(QUERY, DOCS), abs=0)


def test_export_is_a_plain_cross_encoder_independent_of_tcl(
    plain: CrossEncoderStudent, tmp_path: Path
) -> None:
    from sentence_transformers import CrossEncoder

    student = rra_from(plain).eval()
    first = student.save_for_inference(tmp_path / "a", {"losses": student.tcl_config()})
    with torch.no_grad():
        for param in student.tcl.parameters():
            param.normal_(0.0, 5.0)  # wildly different TCL weights
    second = student.save_for_inference(tmp_path / "b")

    weights_a = load_file(first / "model.safetensors")
    weights_b = load_file(second / "model.safetensors")
    assert weights_a.keys() == weights_b.keys()
    assert not any("tcl" in k for k in weights_a)
    assert all(torch.equal(weights_a[k], weights_b[k]) for k in weights_a)

    meta = json.loads((first / "rankdistill.json").read_text())
    assert meta["kind"] == "cross-encoder" and meta["trained_as"] == "rra-bert"

    loaded = STUDENTS[meta["kind"]].load(first)
    assert type(loaded) is CrossEncoderStudent
    n_params = sum(p.numel() for p in loaded.parameters())
    assert n_params == sum(p.numel() for p in plain.parameters())
    assert sum(p.numel() for p in student.parameters()) > n_params  # TCL exists in training

    served = loaded.score(QUERY, DOCS)
    assert served == pytest.approx(student.score(QUERY, DOCS), abs=1e-6)
    assert CrossEncoderStudent.load(second).score(QUERY, DOCS) == served
    theirs = CrossEncoder(str(first), device="cpu").predict([(QUERY, d) for d in DOCS])
    assert theirs.tolist() == pytest.approx(served, abs=1e-5)
