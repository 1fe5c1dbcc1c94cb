"""DisRanker CPT: click examples, prompt-masked labels, the loss, a real LoRA run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from rankdistill.data.records import ClickRecord, Document
from rankdistill.students.decoder import IGNORE_INDEX
from rankdistill.teachers.config import TeacherConfig
from rankdistill.teachers.cpt import (
    CptCollator,
    CptExample,
    build_cpt_examples,
    load_cpt_model,
    run_cpt,
    tokenize_cpt_example,
)
from tests._decoder_cache import causal_lm, local_smollm_dir

TEMPLATE = "query: {query}\n"


def test_build_cpt_examples_filters_resolves_and_dedupes() -> None:
    corpus = {"d1": Document("d1", "Cats purr when happy.", title="Cats")}
    clicks = [
        ClickRecord("cat sounds", 10, 3, title="Why cats purr", summary="Purring explained."),
        ClickRecord("cat sounds", 10, 2, title="Why cats purr", summary="Purring explained."),
        ClickRecord("cat facts", 10, 1, docid="d1"),
        ClickRecord("cat facts", 10, 0, title="never clicked", summary="x"),
        ClickRecord("dogs", 5, 4, docid="unknown"),
    ]
    examples = build_cpt_examples(clicks, corpus, min_clicks=1)
    assert examples == [
        CptExample("cat sounds", "Why cats purr\nPurring explained."),
        CptExample("cat facts", "Cats\nCats purr when happy."),
    ]
    assert build_cpt_examples(clicks, corpus, min_clicks=3) == examples[:1]


def test_labels_are_ignore_exactly_on_prompt_positions() -> None:
    _, tok = causal_lm()
    target = "Why cats purr\nPurring is a sound made by cats."
    target_ids = [*tok(target, add_special_tokens=False)["input_ids"], tok.eos_token_id]
    counted_sets = []
    for query in ("cats", "why do domestic cats purr so loudly at night"):
        item = tokenize_cpt_example(tok, CptExample(query, target), TEMPLATE, max_length=96)
        prompt_len = len(tok(TEMPLATE.format(query=query), add_special_tokens=False)["input_ids"])
        labels = item["labels"]
        assert labels[:prompt_len] == [IGNORE_INDEX] * prompt_len
        assert IGNORE_INDEX not in labels[prompt_len:]
        assert labels[prompt_len:] == item["input_ids"][prompt_len:] == target_ids
        counted_sets.append([t for t in labels if t != IGNORE_INDEX])
    # A longer query moves the target but never changes which tokens are learned.
    assert counted_sets[0] == counted_sets[1]


def test_truncation_keeps_prompt_masked_and_some_target() -> None:
    _, tok = causal_lm()
    item = tokenize_cpt_example(tok, CptExample("q " * 80, "word " * 80), TEMPLATE, max_length=32)
    assert len(item["input_ids"]) == 32
    n_prompt = item["labels"].count(IGNORE_INDEX)
    assert n_prompt == 16
    assert all(t != IGNORE_INDEX for t in item["labels"][n_prompt:])


def test_loss_equals_manual_cross_entropy_over_target_span() -> None:
    model, tok = causal_lm()
    examples = [
        CptExample("cat sounds", "Why cats purr\nPurring explained."),
        CptExample("a much longer query about dogs barking", "Dogs bark\nAt strangers."),
    ]
    batch = CptCollator(tok.pad_token_id)(
        [tokenize_cpt_example(tok, e, TEMPLATE, 96) for e in examples]
    )
    with torch.no_grad():
        out = model(**batch)
    # Independent reference: position p predicts token p+1; count only target tokens.
    logits, labels = out.logits, batch["labels"]
    losses = []
    for row in range(labels.shape[0]):
        for p in range(labels.shape[1] - 1):
            target = int(labels[row, p + 1])
            if target != IGNORE_INDEX:
                losses.append(-torch.log_softmax(logits[row, p], -1)[target])
    manual = torch.stack(losses).mean()
    assert torch.isclose(out.loss, manual, atol=1e-4), (out.loss, manual)
    # Padding is masked too: the right-padded row's pad positions are all ignored.
    pads = batch["attention_mask"] == 0
    assert bool((labels[pads] == IGNORE_INDEX).all())


def test_run_cpt_lora_trains_and_saves(tmp_path: Path) -> None:
    base = local_smollm_dir()
    cfg = TeacherConfig(model=base)
    cfg.lora.r = 4
    cfg.cpt.max_steps = 2
    cfg.cpt.batch_size = 2
    cfg.cpt.max_length = 48
    cfg.cpt.learning_rate = 1e-3
    examples = [
        CptExample("cat sounds", "Why cats purr\nPurring explained."),
        CptExample("dog barking", "Dogs bark\nAt strangers and cars."),
    ]
    out = run_cpt(cfg, examples, tmp_path / "cpt", device="cpu")
    info = json.loads((out / "cpt.json").read_text())
    assert info["steps"] == 2 and info["examples"] == 2
    assert len(info["losses"]) == 2 and all(loss > 0 for loss in info["losses"])
    adapter = load_file(str(out / "adapter" / "adapter_model.safetensors"))
    assert adapter and all("lora_" in k for k in adapter)
    # The merged model differs from the base exactly where LoRA adapted it.
    merged, _ = load_cpt_model(out)
    before, _ = causal_lm()
    q_before = before.model.layers[0].self_attn.q_proj.weight
    q_after = merged.model.layers[0].self_attn.q_proj.weight
    assert not torch.allclose(q_before, q_after)
    norm_before = before.model.norm.weight
    assert torch.equal(norm_before, merged.model.norm.weight)


@pytest.mark.slow
def test_run_cpt_full_finetune(tmp_path: Path) -> None:
    cfg = TeacherConfig(model=local_smollm_dir())
    cfg.lora.enabled = False
    cfg.cpt.max_steps = 1
    cfg.cpt.batch_size = 1
    cfg.cpt.max_length = 32
    out = run_cpt(cfg, [CptExample("cats", "Cats purr.")], tmp_path / "cpt", device="cpu")
    assert not (out / "adapter").exists()
    assert (out / "model" / "model.safetensors").is_file()
