"""Distillation training with the HF Trainer: loss falls on real data, best checkpoint,
resume after an interruption, safetensors checkpoints with tied weights."""

from __future__ import annotations

import copy
import json
import math
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import load_file
from torch import nn

from rankdistill.data.records import Document, LabelRecord, Query, RankingData
from rankdistill.losses import build_loss
from rankdistill.scoring import Scorer
from rankdistill.students import CrossEncoderStudent
from rankdistill.training.arguments import precision_flags
from rankdistill.training.checkpoints import load_state_dict, save_state_dict, state_digest
from rankdistill.training.config import StudentTrainConfig
from rankdistill.training.data import QueryGroupCollator, build_query_groups
from rankdistill.training.trainer import ELAPSED_FILE, checkpoint_seconds, train_student
from tests.ddp_worker import make_tiny_bert

TEXTS = [
    "solar panels make electricity from sunlight",
    "an apple pie recipe with cinnamon",
    "wind turbines generate renewable power",
    "the history of the roman empire",
    "photovoltaic cells convert light into current",
    "how to bake sourdough bread at home",
]
CORPUS = {f"d{i}": Document(f"d{i}", t) for i, t in enumerate(TEXTS)}
QUERIES = {"q1": Query("q1", "solar electricity"), "q2": Query("q2", "baking recipes")}
LABELS = [
    LabelRecord("q1", "solar electricity", list(CORPUS), "ranker", "toy",
                scores={"d0": 3, "d4": 2, "d2": 1, "d1": -1, "d3": -2, "d5": -1}),
    LabelRecord("q2", "baking recipes", list(CORPUS), "ranker", "toy",
                scores={"d1": 3, "d5": 2, "d0": -1, "d2": -1, "d3": -2, "d4": -1}),
]  # fmt: skip
TOY = RankingData(QUERIES, CORPUS)


@pytest.fixture(scope="module")
def tiny_backbone(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A tiny random BERT: the Trainer mechanics (checkpoints, resume, best model) do not
    depend on model size; the real-data test below trains MiniLM."""
    return make_tiny_bert(tmp_path_factory.mktemp("tiny-bert"))


@pytest.fixture(scope="module")
def pristine(tiny_backbone: str) -> CrossEncoderStudent:
    torch.manual_seed(0)
    return CrossEncoderStudent(tiny_backbone, max_length=32)


def toy_config(**changes: object) -> StudentTrainConfig:
    base = dict(
        max_length=32, learning_rate=1e-3, group_size=4, batch_size=1, max_steps=4, eval_steps=2,
        logging_steps=1, save_total_limit=3,
    )  # fmt: skip
    return StudentTrainConfig(**{**base, **changes})


def counting_dev(values: list[float]) -> tuple[Callable[[Scorer], dict[str, float]], list[float]]:
    """A dev evaluation returning ``values`` in turn (and checking it gets a real scorer)."""
    calls: list[float] = []

    def evaluate(scorer: Scorer) -> dict[str, float]:
        scores = scorer.score("solar electricity", [TEXTS[0], TEXTS[3]])
        assert len(scores) == 2
        calls.append(values[len(calls)])
        return {"nDCG@10": calls[-1], "RR@10": 0.5}

    return evaluate, calls


def student_weights(path: Path) -> dict[str, torch.Tensor]:
    """A checkpoint's encoder weights, named as in the exported model."""
    prefix = "student.model."
    return {k[len(prefix) :]: v for k, v in load_file(path).items() if k.startswith(prefix)}


def test_precision_auto_uses_bf16_on_cpu_only_where_it_is_native(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import torch

    # oneDNN says yes on any AVX-512 CPU, emulating bf16 where the CPU lacks it: only
    # AVX512-BF16 or AMX tiles count.
    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: True)
    for avx512_bf16, amx in ((False, False), (True, False), (False, True)):
        monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda v=avx512_bf16: v)
        monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda v=amx: v)
        native = avx512_bf16 or amx
        assert precision_flags("auto", "cpu") == {"bf16": native, "fp16": False}
    assert precision_flags("bf16", "cpu") == {"bf16": True, "fp16": False}
    with pytest.raises(ValueError, match="CUDA"):
        precision_flags("fp16", "cpu")


def test_bf16_autocast_on_cpu_trains_and_saves_fp32_weights(
    pristine: CrossEncoderStudent, tmp_path: Path
) -> None:
    student = copy.deepcopy(pristine)
    before = {k: v.clone() for k, v in student.state_dict().items()}
    result = train_student(
        toy_config(precision="bf16", max_steps=2), LABELS, TOY, tmp_path, student=student,
        device="cpu", progress=False,
    )  # fmt: skip
    saved = load_file(result.model_dir / "model.safetensors")
    assert {t.dtype for t in saved.values() if t.is_floating_point()} == {torch.float32}
    changed = [k for k, v in student.state_dict().items() if not torch.equal(v, before[k])]
    assert "model.classifier.weight" in changed and len(changed) > 10
    assert all(math.isfinite(h["loss"]) for h in result.history if "loss" in h)


@pytest.mark.parametrize(("precision", "autocast"), [("bf16", True), ("fp32", False)])
def test_dev_evaluation_runs_under_the_training_precision(
    pristine: CrossEncoderStudent, tmp_path: Path, precision: str, autocast: bool
) -> None:
    seen: list[bool] = []

    def dev(scorer: object) -> dict[str, float]:
        seen.append(torch.is_autocast_enabled("cpu"))
        return {"nDCG@10": 0.5}

    cfg = toy_config(precision=precision, max_steps=2, eval_steps=1)
    train_student(
        cfg, LABELS, TOY, tmp_path, dev_evaluate=dev, student=copy.deepcopy(pristine),
        device="cpu", progress=False,
    )  # fmt: skip
    assert seen == [autocast, autocast]


def test_tied_weights_survive_a_safetensors_round_trip(tmp_path: Path) -> None:
    class Tied(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embed = nn.Embedding(5, 3)
            self.head = nn.Linear(3, 5, bias=False)
            self.head.weight = self.embed.weight  # tied, as decoder LMs do

    torch.manual_seed(0)
    source, target = Tied(), Tied()
    path = save_state_dict(source.state_dict(), tmp_path / "model.safetensors")
    assert set(load_file(path)) == {"embed.weight"}
    load_state_dict(target, path)
    assert torch.equal(target.head.weight, source.embed.weight)
    assert target.head.weight is target.embed.weight
    assert state_digest(target) == state_digest(source)
    with pytest.raises(RuntimeError, match="do not fit"):
        load_state_dict(nn.Linear(3, 3), path)


def test_keep_best_off_exports_the_last_checkpoint(
    pristine: CrossEncoderStudent, tmp_path: Path
) -> None:
    dev, _ = counting_dev([0.9, 0.4])  # step 2 scores better on dev, but is not chosen
    cfg = toy_config(keep_best=False)
    result = train_student(
        cfg, LABELS, TOY, tmp_path, dev_evaluate=dev, student=copy.deepcopy(pristine),
        device="cpu", progress=False,
    )  # fmt: skip
    assert result.metrics == {"nDCG@10": 0.4, "RR@10": 0.5}
    last = student_weights(tmp_path / "checkpoints" / "checkpoint-4" / "model.safetensors")
    exported = load_file(result.model_dir / "model.safetensors")
    assert all(torch.equal(exported[k], last[k]) for k in last)


def test_best_checkpoint_is_kept_and_exported(
    pristine: CrossEncoderStudent, tmp_path: Path
) -> None:
    dev, calls = counting_dev([0.9, 0.4])  # step 2 is better than step 4
    student = copy.deepcopy(pristine)
    cfg = toy_config(report_to=["tensorboard"])
    result = train_student(
        cfg, LABELS, TOY, tmp_path, dev_evaluate=dev, student=student, device="cpu", progress=False
    )
    assert len(calls) == 2
    assert result.metrics == {"nDCG@10": 0.9, "RR@10": 0.5}
    assert result.model_dir == tmp_path / "model"
    best = student_weights(tmp_path / "checkpoints" / "checkpoint-2" / "model.safetensors")
    last = student_weights(tmp_path / "checkpoints" / "checkpoint-4" / "model.safetensors")
    exported = load_file(result.model_dir / "model.safetensors")
    assert all(torch.equal(exported[k], best[k]) for k in best)
    assert not all(torch.equal(exported[k], last[k]) for k in last)
    history = json.loads((tmp_path / "history.json").read_text())
    assert [h["eval_nDCG@10"] for h in history if "eval_nDCG@10" in h] == [0.9, 0.4]
    losses = [h for h in history if "loss" in h]
    assert [h["step"] for h in losses] == [1, 2, 3, 4]
    assert all(h["loss"] == pytest.approx(h["loss_rank"]) for h in losses)
    saved_cfg = yaml.safe_load((tmp_path / "train_config.yaml").read_text())
    assert StudentTrainConfig.model_validate(saved_cfg) == cfg
    assert list((tmp_path / "checkpoints").rglob("events.out.tfevents.*")), "no tensorboard log"
    card = (result.model_dir / "README.md").read_text()
    assert "ranker:toy" in card and "hybrid" in card and "0.9000" in card
    reloaded = CrossEncoderStudent.load(result.model_dir)
    assert reloaded.score("q", ["a doc"]) == pytest.approx(student.score("q", ["a doc"]), abs=1e-6)


def test_resume_after_interruption_reproduces_the_uninterrupted_run(
    pristine: CrossEncoderStudent, tmp_path: Path
) -> None:
    cfg = toy_config(student="rra-bert")
    from rankdistill.students import RraBertStudent

    def fresh() -> RraBertStudent:
        torch.manual_seed(1)
        return RraBertStudent(
            pristine.backbone, 32, model=copy.deepcopy(pristine.model), tokenizer=pristine.tokenizer
        )

    dev_a, calls_a = counting_dev([1.0, 2.0])
    full = train_student(
        cfg, LABELS, TOY, tmp_path, dev_evaluate=dev_a, student=fresh(), device="cpu",
        progress=False,
    )  # fmt: skip
    assert len(calls_a) == 2
    final_a = load_file(tmp_path / "checkpoints" / "checkpoint-4" / "model.safetensors")
    exported_a = load_file(full.model_dir / "model.safetensors")

    # Simulate a kill right after the step-2 checkpoint: only checkpoint-2 is left. Its
    # recorded training time is set to 1,000 s, which the resumed attempt must add to.
    checkpoint_2 = tmp_path / "checkpoints" / "checkpoint-2"
    assert 0 < checkpoint_seconds(checkpoint_2) <= full.seconds
    (checkpoint_2 / ELAPSED_FILE).write_text(json.dumps({"seconds": 1000.0}))
    shutil.rmtree(tmp_path / "checkpoints" / "checkpoint-4")
    shutil.rmtree(full.model_dir)
    (tmp_path / "history.json").unlink()

    dev_b, calls_b = counting_dev([2.0])  # only step 4 is left to evaluate
    resumed = train_student(
        cfg, LABELS, TOY, tmp_path, dev_evaluate=dev_b, student=fresh(), device="cpu",
        progress=False,
    )  # fmt: skip
    assert len(calls_b) == 1, "the resumed run started again from step 0"
    state = json.loads(
        (tmp_path / "checkpoints" / "checkpoint-4" / "trainer_state.json").read_text()
    )
    assert state["global_step"] == 4 and state["best_global_step"] == 4
    assert 1000 < checkpoint_seconds(tmp_path / "checkpoints" / "checkpoint-4") <= resumed.seconds
    final_b = load_file(tmp_path / "checkpoints" / "checkpoint-4" / "model.safetensors")
    assert final_a.keys() == final_b.keys()
    for name in final_a:  # TCL included
        assert torch.allclose(final_a[name], final_b[name], atol=1e-6), name
    exported_b = load_file(resumed.model_dir / "model.safetensors")
    assert all(torch.allclose(exported_a[k], exported_b[k], atol=1e-6) for k in exported_a)
    logged_a = {h["step"]: h["loss"] for h in full.history if "loss" in h}
    logged_b = {h["step"]: h["loss"] for h in resumed.history if "loss" in h}
    assert logged_b == pytest.approx(logged_a, rel=1e-5)


class TiedStudent(CrossEncoderStudent):
    """A cross-encoder with a second name for its head weight, like tied LM embeddings."""

    def __init__(self, base: CrossEncoderStudent) -> None:
        super().__init__(base.backbone, base.max_length, model=copy.deepcopy(base.model),
                         tokenizer=base.tokenizer)  # fmt: skip
        self.alias = nn.Linear(self.model.config.hidden_size, 1)
        self.alias.weight = self.model.classifier.weight


def test_checkpoints_with_tied_weights_resume(
    pristine: CrossEncoderStudent, tmp_path: Path
) -> None:
    cfg = toy_config(max_steps=2)
    student = TiedStudent(pristine)
    train_student(cfg, LABELS, TOY, tmp_path, student=student, device="cpu", progress=False)
    checkpoint = tmp_path / "checkpoints" / "checkpoint-2" / "model.safetensors"
    stored = load_file(checkpoint)
    assert "student.model.classifier.weight" in stored and "student.alias.weight" not in stored
    # Resuming a finished run loads the checkpoint (tied weights included) and trains no more.
    again = TiedStudent(pristine)
    train_student(cfg, LABELS, TOY, tmp_path, student=again, device="cpu", progress=False)
    assert again.alias.weight is again.model.classifier.weight
    assert state_digest(again) == state_digest(student)


def real_dl2021_labels(path: Path, n_queries: int) -> tuple[list[LabelRecord], RankingData]:
    """BM25 top-3 + bottom-3 of the first DL 2021 queries, BM25 scores as teacher targets."""
    entries = json.loads(path.read_text(encoding="utf-8"))[:n_queries]
    corpus: dict[str, Document] = {}
    queries: dict[str, Query] = {}
    labels = []
    for entry in entries:
        hits = entry["hits"][:3] + entry["hits"][-3:]
        qid = str(hits[0]["qid"])
        queries[qid] = Query(qid, entry["query"])
        corpus.update({h["docid"]: Document(h["docid"], h["content"]) for h in hits})
        scores = {h["docid"]: float(h["score"]) for h in hits}
        labels.append(
            LabelRecord(qid, entry["query"], list(scores), "ranker", "bm25", scores=scores)
        )
    return labels, RankingData(queries, corpus)


def test_training_loss_falls_on_real_dl2021_candidates(shared_data: Path, tmp_path: Path) -> None:
    labels, data = real_dl2021_labels(shared_data / "trec-dl-2021" / "bm25-top100.json", 2)
    cfg = StudentTrainConfig(
        loss="hybrid", max_length=48, group_size=6, batch_size=1, max_steps=6,
        eval_steps=100, logging_steps=2, learning_rate=5e-4, warmup_ratio=0.0,
    )  # fmt: skip
    torch.manual_seed(0)
    student = CrossEncoderStudent("minilm-l6", max_length=48)
    groups = build_query_groups(labels, data.corpus, data.queries, 6, "scores", 13)
    batch = QueryGroupCollator(student)(groups)
    loss = build_loss("hybrid")

    def fixed_batch_loss() -> float:
        student.eval()
        with torch.no_grad():
            scores = student(batch["features"]).view_as(batch["labels"])
            return float(loss.compute(scores, batch["labels"], batch["mask"]))

    before = fixed_batch_loss()
    result = train_student(
        cfg, labels, data, tmp_path, student=student, device="cpu", progress=False
    )
    after = fixed_batch_loss()
    assert after < 0.8 * before, (before, after)
    logged = [h["loss"] for h in result.history if "loss" in h]
    assert len(logged) == 3 and logged[-1] < logged[0]
    served = CrossEncoderStudent.load(result.model_dir)
    query = data.queries[groups[0].qid].text
    assert served.score(query, groups[0].documents) == pytest.approx(
        student.score(query, groups[0].documents), abs=1e-5
    )
