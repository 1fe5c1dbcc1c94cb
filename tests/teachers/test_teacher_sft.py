"""DisRanker SFT: end-token pooling under both paddings, the rank loss, real training."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from rankdistill.data.records import Document, LabelRecord, Query, RankingData
from rankdistill.teachers.config import SftConfig, TeacherConfig
from rankdistill.teachers.sft import (
    LLMRanker,
    LLMTeacherScorer,
    build_ranker,
    build_sft_loss,
    run_sft,
    sft_query_groups,
    sft_targets,
)
from rankdistill.training.data import QueryGroupCollator
from rankdistill.utils import set_seed
from tests._decoder_cache import decoder_body, local_smollm_dir

QUERIES = ["what do cats eat", "how tall is the eiffel tower in paris france"]
DOCS = ["Cats eat meat.", "The Eiffel Tower is 330 metres tall and stands in Paris."]


def _manual_end_index(ids: list[int], mask: list[int], end_id: int) -> int:
    """Reference: scan for the last real token equal to the end token."""
    found = [p for p, (t, m) in enumerate(zip(ids, mask, strict=True)) if m == 1 and t == end_id]
    return found[-1]


@pytest.mark.parametrize("side", ["left", "right"])
def test_end_token_pooling_reads_the_final_end_token(side: str) -> None:
    body, tok = decoder_body()
    ranker = LLMRanker(body, tok, padding_side=side, max_length=64).eval()
    feats = ranker.encode(QUERIES, DOCS)
    # Rows have different lengths, so one of them is padded (with the EOS id itself).
    assert int(feats["attention_mask"].sum(1).min()) < feats["input_ids"].shape[1]
    assert tok.pad_token_id == tok.eos_token_id == ranker.end_token_id
    with torch.no_grad():
        hidden = ranker.hidden_states(feats)
        pooled = ranker.pool(hidden, feats)
    for row in range(len(QUERIES)):
        ids, mask = feats["input_ids"][row].tolist(), feats["attention_mask"][row].tolist()
        index = _manual_end_index(ids, mask, tok.eos_token_id)
        assert int(ranker.pool_index(feats["input_ids"], feats["attention_mask"])[row]) == index
        assert torch.equal(pooled[row], hidden[row, index])


def test_left_and_right_padding_give_the_same_scores() -> None:
    body, tok = decoder_body()
    ranker = LLMRanker(body, tok, max_length=64).eval()
    scores = {}
    for side in ("left", "right"):
        ranker.padding_side = side
        with torch.no_grad():
            scores[side] = ranker(ranker.encode(QUERIES, DOCS))
    assert torch.allclose(scores["left"], scores["right"], atol=1e-4), scores
    # And each equals the pair scored alone (no padding at all).
    pairs = zip(QUERIES, DOCS, strict=True)
    alone = torch.stack([ranker(ranker.encode([q], [d]))[0] for q, d in pairs])
    assert torch.allclose(alone.detach(), scores["right"], atol=1e-4)


def test_end_token_is_appended_after_truncation_and_ablations() -> None:
    body, tok = decoder_body()
    ranker = LLMRanker(body, tok, max_length=16)
    feats = ranker.encode(["a query"], ["word " * 100])
    assert feats["input_ids"].shape[1] == 16
    assert int(feats["input_ids"][0, -1]) == tok.eos_token_id
    no_end = LLMRanker(body, tok, end_token=False, pooling="last", max_length=16)
    ids = no_end.encode(["a query"], ["short doc"])["input_ids"][0].tolist()
    assert tok.eos_token_id not in ids
    with pytest.raises(ValueError, match="end_token"):
        LLMRanker(body, tok, end_token=False, pooling="end-token")
    mean = LLMRanker(body, tok, pooling="mean", max_length=32).eval()
    feats = mean.encode(QUERIES, DOCS)
    with torch.no_grad():
        hidden = mean.hidden_states(feats)
        pooled = mean.pool(hidden, feats)
    n = int(feats["attention_mask"][1].sum())
    assert torch.allclose(pooled[1], hidden[1, :n].mean(0), atol=1e-5)


def test_hinge_loss_hand_case() -> None:
    scores = torch.tensor([[2.0, 0.5, 1.0, 9.0]])
    labels = torch.tensor([[2.0, 0.0, 1.0, 3.0]])
    mask = torch.tensor([[True, True, True, False]])  # the 4th document is padding
    # Pairs (i above j): (0,1): 1-1.5 -> 0; (0,2): 1-1 -> 0; (2,1): 1-0.5 -> 0.5.
    loss = build_sft_loss(SftConfig(loss="hinge", margin=1.0))
    assert loss.compute(scores, labels, mask).item() == pytest.approx(0.5 / 3)
    # Margin 2: 0.5 + 1.0 + 1.5 over 3 pairs.
    loss2 = build_sft_loss(SftConfig(loss="hinge", margin=2.0))
    assert loss2.compute(scores, labels, mask).item() == pytest.approx(1.0)
    ranknet = build_sft_loss(SftConfig(loss="ranknet"))
    expected = torch.nn.functional.softplus(-torch.tensor([1.5, 1.0, 0.5])).mean()
    assert ranknet.compute(scores, labels, mask).item() == pytest.approx(expected.item())


def test_sft_losses_are_the_loss_registry_s_names() -> None:
    # Names the SFT config took before it used the loss registry still load.
    assert SftConfig(loss="pointwise-mse").loss == "point-mse"
    assert SftConfig(loss="pointwise-bce").loss == "bce"
    assert type(build_sft_loss(SftConfig(loss="bce"))).pointwise
    assert not type(build_sft_loss(SftConfig(loss="ranknet"))).pointwise
    with pytest.raises(ValueError, match="unknown loss 'pointwise-hinge'"):
        SftConfig(loss="pointwise-hinge")


def test_query_groups_mix_grades_and_drop_single_grade_queries() -> None:
    corpus = {f"d{i}": Document(f"d{i}", f"text {i}") for i in range(10)}
    data = RankingData({"q1": Query("q1", "one"), "q2": Query("q2", "two")}, corpus)
    qrels = {
        "q1": {"d0": 0, "d1": 0, "d2": 0, "d3": 0, "d4": 3, "d5": 1, "ghost": 2},
        "q2": {"d6": 1, "d7": 1},
    }
    groups = sft_query_groups(sft_targets(qrels), data, group_size=3, seed=1)
    assert [g.qid for g in groups] == ["q1"]
    assert sorted(groups[0].targets) == [0.0, 1.0, 3.0]
    assert groups[0].documents == [corpus[d].full_text for d in groups[0].docids]
    pointwise = sft_query_groups(sft_targets(qrels), data, group_size=3, pairwise=False)
    assert [g.qid for g in pointwise] == ["q1", "q2"]
    record = LabelRecord("q1", "one", ["d0", "d4"], "listwise", "t", grades={"d4": 2, "d0": 0})
    assert sft_targets([record]) == {"q1": {"d4": 2.0, "d0": 0.0}}


def _tiny_training_data() -> tuple[RankingData, dict[str, dict[str, int]]]:
    docs = {
        "c1": "Cats are carnivores: they eat meat such as fish and chicken.",
        "c2": "A cat's diet needs protein from meat.",
        "x1": "The stock market closed higher on Tuesday.",
        "x2": "Volcanoes erupt when magma rises.",
    }
    corpus = {d: Document(d, t) for d, t in docs.items()}
    data = RankingData({"q1": Query("q1", "what do cats eat")}, corpus)
    return data, {"q1": {"c1": 2, "c2": 1, "x1": 0, "x2": 0}}


def _cfg(**sft: object) -> TeacherConfig:
    cfg = TeacherConfig(model=local_smollm_dir())
    cfg.lora.r = 8
    cfg.sft = SftConfig(
        group_size=4, batch_size=1, max_length=48, max_steps=4, learning_rate=2e-3, **sft
    )
    return cfg


def _batch_loss(ranker: LLMRanker, cfg: TeacherConfig, data: RankingData, qrels) -> float:
    groups = sft_query_groups(sft_targets(qrels), data, cfg.sft.group_size, cfg.seed)
    batch = QueryGroupCollator(ranker)(groups)
    labels, mask = batch["labels"], batch["mask"]
    ranker.eval()
    with torch.no_grad():
        scores = ranker(batch["features"]).view_as(labels)
    return build_sft_loss(cfg.sft).compute(scores, labels, mask).item()


def test_sft_lora_training_lowers_the_loss_and_round_trips(tmp_path: Path) -> None:
    data, qrels = _tiny_training_data()
    cfg = _cfg()
    set_seed(cfg.seed)
    initial, _ = build_ranker(cfg)  # the same seeded start as run_sft's
    before = _batch_loss(initial, cfg, data, qrels)
    out = run_sft(cfg, qrels, data, tmp_path / "sft", device="cpu")
    info = json.loads((out / "teacher.json").read_text())
    assert info["lora"] is True and info["steps"] == 4 and info["pooling"] == "end-token"
    assert (out / "adapter" / "adapter_model.safetensors").is_file()
    assert (out / "score_head.safetensors").is_file()
    trained = LLMRanker.load(out)
    after = _batch_loss(trained, cfg, data, qrels)
    assert after < before, (before, after)
    # The Scorer wrapper ranks with the loaded model.
    scorer = LLMTeacherScorer.from_dir(out, device="cpu", batch_size=2)
    texts = [data.corpus[d].text for d in ("c1", "x1")]
    assert scorer.name.startswith("llm-teacher")
    assert scorer.score("what do cats eat", texts) == pytest.approx(
        trained.score("what do cats eat", texts), abs=1e-5
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    "sft", [{"end_token": False, "pooling": "last"}, {"loss": "pointwise-mse"}, {"pooling": "mean"}]
)
def test_sft_ablations_train(tmp_path: Path, sft: dict) -> None:
    data, qrels = _tiny_training_data()
    cfg = _cfg(**sft)
    cfg.sft.max_steps = 2
    out = run_sft(cfg, qrels, data, tmp_path / "sft", device="cpu")
    ranker = LLMRanker.load(out)
    for key, value in sft.items():
        if key != "loss":
            assert getattr(ranker, key) == value
    assert len(ranker.score("cats", ["a", "b"])) == 2


@pytest.mark.slow
def test_sft_full_finetune_saves_the_backbone(tmp_path: Path) -> None:
    data, qrels = _tiny_training_data()
    cfg = _cfg()
    cfg.lora.enabled = False
    cfg.sft.max_steps = 1
    cfg.sft.learning_rate = 1e-5
    out = run_sft(cfg, qrels, data, tmp_path / "sft", device="cpu")
    assert not (out / "adapter").exists()
    assert (out / "backbone" / "model.safetensors").is_file()
    ranker = LLMRanker.load(out)
    scores = ranker.score("what do cats eat", ["Cats eat meat.", "Stocks rose."])
    assert len(scores) == 2 and scores[0] != scores[1]


def test_a_moved_run_folder_still_finds_its_lora_teachers_base(tmp_path: Path) -> None:
    from rankdistill.teachers.hf import base_model_path, with_relative_base

    run = tmp_path / "run"
    base, teacher = run / "teacher" / "cpt" / "model", run / "teacher" / "sft"
    base.mkdir(parents=True)
    teacher.mkdir()
    info = {"base_model": str(base)}
    info |= with_relative_base(str(base), teacher)
    assert info["base_model_relative"] == "../cpt/model"
    shutil.move(str(run), str(tmp_path / "moved"))
    moved_teacher = tmp_path / "moved" / "teacher" / "sft"
    expected = (tmp_path / "moved" / "teacher" / "cpt" / "model").resolve()
    assert base_model_path(info, moved_teacher) == str(expected)
    # Nothing beside the teacher: the absolute path it was saved with.
    assert base_model_path(info, tmp_path) == str(base)
    # An alias or hub id is not a path: kept as it is.
    assert with_relative_base("org/not-a-folder", teacher) == {}


def test_precision_is_the_students_setting_and_the_old_bf16_key_still_loads() -> None:
    from rankdistill.teachers.hf import teacher_training_arguments

    assert TeacherConfig().precision == "auto"
    assert TeacherConfig.model_validate({"bf16": False}).precision == "fp32"
    assert TeacherConfig.model_validate({"bf16": True}).precision == "auto"
    with pytest.raises(ValueError, match="bf16"):
        TeacherConfig.model_validate({"bf16": True, "precision": "fp32"})
    cfg = TeacherConfig(precision="bf16")
    args = teacher_training_arguments(cfg, cfg.sft, Path("out"), "cpu")
    assert (args.bf16, args.fp16, args.save_strategy) == (True, False, "no")
    assert (args.learning_rate, args.per_device_train_batch_size) == (1e-4, 2)
    assert args.output_dir == str(Path("out") / "trainer")
    fp16 = TeacherConfig(precision="fp16")
    with pytest.raises(ValueError, match="fp16 needs a CUDA device"):
        teacher_training_arguments(fp16, fp16.cpt, Path("out"), "cpu")
