"""RRA-GPT: prompt/answer/rationale masking, the joint loss, training, save/load."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from rankdistill.losses import build_loss
from rankdistill.students.base import STUDENTS
from rankdistill.students.decoder import IGNORE_INDEX, last_real_token_index
from rankdistill.students.rra_gpt import RraGptStudent
from tests._decoder_cache import causal_lm

QUERIES = ["what do cats eat", "what do cats eat", "tallest tower in paris", "tallest tower"]
DOCS = [
    "Cats are carnivores and eat meat.",
    "The stock market closed higher.",
    "The Eiffel Tower is the tallest structure in Paris.",
    "Bananas are yellow.",
]
ANSWERS = [True, "no", 1, 0]
RATIONALES = ["It says what cats eat.", None, "It names the tallest tower.", ""]
HINGE = build_loss("hinge").compute


def _student(**kwargs) -> RraGptStudent:
    model, tok = causal_lm()
    return RraGptStudent(model=model, tokenizer=tok, max_length=64, **kwargs)


def test_registered_under_its_kind() -> None:
    assert STUDENTS["rra-gpt"] is RraGptStudent


@pytest.mark.parametrize("side", ["right", "left"])
def test_answer_and_rationale_labels_mask_the_prompt(side: str) -> None:
    student = _student(padding_side=side)
    tok = student.tokenizer
    feats = student.encode_pairs(QUERIES, DOCS, answers=ANSWERS, rationales=RATIONALES)
    ids, cls, gen = feats["input_ids"], feats["cls_labels"], feats["gen_labels"]
    for row in range(len(QUERIES)):
        prompt = student.encode_pairs([QUERIES[row]], [DOCS[row]])["input_ids"][0].tolist()
        real = ids[row][feats["attention_mask"][row].bool()].tolist()
        start = int(feats["attention_mask"][row].argmax())  # first real position
        last_prompt = start + len(prompt) - 1
        assert real[: len(prompt)] == prompt
        assert int(feats["score_index"][row]) == last_prompt
        # L_cls: exactly one label, at the last prompt token, naming the answer token.
        expected = tok(" yes" if row in (0, 2) else " no", add_special_tokens=False)["input_ids"]
        assert (cls[row] != IGNORE_INDEX).nonzero().flatten().tolist() == [last_prompt]
        assert [int(cls[row, last_prompt])] == expected
        # L_gen: labels only after the prompt; each is the next input token.
        gen_pos = (gen[row] != IGNORE_INDEX).nonzero().flatten().tolist()
        if RATIONALES[row]:
            rationale = tok(" " + RATIONALES[row], add_special_tokens=False)["input_ids"]
            assert gen_pos == list(range(last_prompt + 1, last_prompt + 1 + len(rationale) + 1))
            assert [int(gen[row, p]) for p in gen_pos] == [*rationale, tok.eos_token_id]
            assert all(int(gen[row, p]) == int(ids[row, p + 1]) for p in gen_pos)
        else:
            assert gen_pos == []


def test_training_features_score_like_inference_under_both_paddings() -> None:
    student = _student().eval()
    with torch.no_grad():
        reference = student(student.encode_pairs(QUERIES, DOCS))
        for side in ("left", "right"):
            student.padding_side = side
            train = student.encode_pairs(QUERIES, DOCS, answers=ANSWERS, rationales=RATIONALES)
            assert torch.allclose(student(train), reference, atol=1e-4)
            infer = student.encode_pairs(QUERIES, DOCS)
            assert torch.equal(infer["score_index"], last_real_token_index(infer["attention_mask"]))
            assert torch.allclose(student(infer), reference, atol=1e-4)


def test_lm_terms_equal_manual_cross_entropy_and_skip_padding_pairs() -> None:
    student = _student(beta_cls=0.5, gamma_gen=0.25).eval()
    feats = student.encode_pairs(QUERIES, DOCS, answers=ANSWERS, rationales=RATIONALES)
    labels = torch.tensor([[1.0, 0.0], [1.0, 0.0]])
    mask = torch.tensor([[True, True], [True, False]])  # pair 3 is query-group padding
    with torch.no_grad():
        loss, parts = student.training_loss(feats, labels, mask, HINGE)
        logits = student.lm(
            input_ids=feats["input_ids"], attention_mask=feats["attention_mask"]
        ).logits
    logp = torch.log_softmax(logits.float(), -1)

    def manual(key: str) -> float:
        terms = []
        for row in range(3):  # row 3 is padding: never counted
            for p in (feats[key][row] != IGNORE_INDEX).nonzero().flatten().tolist():
                terms.append(-logp[row, p, int(feats[key][row, p])])
        return float(torch.stack(terms).mean())

    assert parts["cls"] == pytest.approx(manual("cls_labels"), abs=1e-4)
    assert parts["gen"] == pytest.approx(manual("gen_labels"), abs=1e-4)
    expected = parts["rank"] + 0.5 * parts["cls"] + 0.25 * parts["gen"]
    assert float(loss) == pytest.approx(expected, abs=1e-5)


def test_zero_weight_skips_the_term_entirely() -> None:
    student = _student(beta_cls=0.0, gamma_gen=0.0)
    calls = []
    student.lm.get_output_embeddings().register_forward_hook(lambda *a: calls.append(1))
    feats = student.encode_pairs(QUERIES, DOCS, answers=ANSWERS, rationales=RATIONALES)
    labels, mask = torch.tensor([[1.0, 0.0], [1.0, 0.0]]), torch.ones(2, 2, dtype=torch.bool)
    loss, parts = student.training_loss(feats, labels, mask, HINGE)
    assert set(parts) == {"rank", "total"} and not calls
    assert float(loss.detach()) == pytest.approx(parts["rank"])
    student.gamma_gen = 0.3
    _, parts = student.training_loss(feats, labels, mask, HINGE)
    assert set(parts) == {"rank", "gen", "total"} and calls


def test_a_few_training_steps_lower_the_joint_loss() -> None:
    torch.manual_seed(0)
    student = _student(beta_cls=0.5, gamma_gen=0.2)
    feats = student.encode_pairs(QUERIES, DOCS, answers=ANSWERS, rationales=RATIONALES)
    labels = torch.tensor([[1.0, 0.0], [1.0, 0.0]])
    mask = torch.ones(2, 2, dtype=torch.bool)
    # Train the top two blocks, the final norm and the ranking layer (fast on 2 CPU cores);
    # every loss term still flows through the trainable blocks.
    student.requires_grad_(False)
    body = student.lm.get_decoder()
    for module in (*body.layers[-2:], body.norm, student.head):
        module.requires_grad_(True)
    trainable = [p for p in student.parameters() if p.requires_grad]
    optimiser = torch.optim.AdamW(trainable, lr=1e-4)
    student.train()
    history = []
    for _ in range(4):
        loss, parts = student.training_loss(feats, labels, mask, HINGE)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        history.append(parts)
    student.eval()
    with torch.no_grad():
        _, final = student.training_loss(feats, labels, mask, HINGE)
    assert final["total"] < history[0]["total"], (history, final)
    assert final["gen"] < history[0]["gen"]


def test_save_load_identical_scores_without_generate(tmp_path: Path) -> None:
    student = _student(head="mlp").eval()
    torch.nn.init.normal_(student.head[0].weight, std=0.05)
    expected = student.score(QUERIES[0], DOCS)
    out = student.save_for_inference(tmp_path / "rra-gpt", card={"trained_on": "test"})
    card = json.loads((out / "rankdistill.json").read_text())
    assert card["kind"] == "rra-gpt" and card["head"] == "mlp" and card["trained_on"] == "test"
    assert (out / "ranking_head.safetensors").is_file()
    assert (out / "decoder" / "model.safetensors").is_file()
    loaded = RraGptStudent.load(out)

    def no_generation(*args, **kwargs):
        raise AssertionError("inference must not generate text")

    loaded.lm.generate = no_generation
    assert loaded.score(QUERIES[0], DOCS) == pytest.approx(expected, abs=1e-5)
    assert next(loaded.lm.parameters()).dtype == torch.float32
