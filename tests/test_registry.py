"""Every extension point is one registry: an entry registered from outside the package
is accepted by config validation and offered by the CLI, with no other file edited."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from rankdistill.cli.main import app
from rankdistill.config import ConfigError, load_config
from rankdistill.data.records import LabelRecord
from rankdistill.labeling.backends import BACKENDS, build_backend, register_backend
from rankdistill.labeling.config import BackendConfig
from rankdistill.labeling.methods import METHODS, build_method, register_method
from rankdistill.losses import LOSSES, RankingLoss, build_loss, register_loss
from rankdistill.registry import Registry
from rankdistill.serving.export import (
    EXPORT_FORMATS,
    ExportFormat,
    export_model,
    register_export_format,
)
from rankdistill.students import STUDENTS, StudentModel, register_student


class SquaredGapLoss(RankingLoss):
    """Mean squared difference of scores and labels over real documents."""

    def __init__(self, model=None, scale: float = 1.0) -> None:
        super().__init__(model)
        self.scale = scale

    def compute(self, scores, labels, mask):
        gap = (scores - labels).pow(2) * mask
        return self.scale * gap.sum() / mask.sum()


class EchoBackend:
    model_id = "echo"

    def __init__(self, cfg: BackendConfig) -> None:
        self.cfg = cfg

    def generate(self, prompts, max_new_tokens, temperature=0.0):  # pragma: no cover
        raise NotImplementedError

    def next_token_logprobs(self, prompts, candidates):  # pragma: no cover
        raise NotImplementedError

    def count_tokens(self, messages) -> int:
        return sum(len(m["content"].split()) for m in messages)

    def close(self) -> None:
        pass


class ReverseLabeler:
    """Labels the candidates in reverse order (a stand-in for a real method)."""

    name = "reverse"
    uses_prerank = False

    def __init__(self, depth: int) -> None:
        self.candidate_depth = depth

    def label_query(self, query, candidates: Sequence[tuple[str, float]], corpus) -> LabelRecord:
        docids = [d for d, _ in candidates]
        scores = {d: float(i) for i, d in enumerate(docids)}
        return LabelRecord(query.qid, query.text, docids, self.name, "none", scores=scores)


class TinyStudent(StudentModel):
    kind = "tiny-student"


def _export_text(model_dir: Path, out_dir: Path, opset: int) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "model.txt").write_text(f"{model_dir.name} opset={opset}")
    return out_dir


@pytest.fixture
def plugins() -> Iterator[None]:
    register_loss("squared-gap", SquaredGapLoss)
    register_backend("echo", EchoBackend)
    register_method(
        "reverse",
        ReverseLabeler,
        lambda cfg, backend, **_: ReverseLabeler(cfg.prerank.candidates),
        needs_llm=False,
        parses_answers=False,
    )
    register_student(TinyStudent)
    register_export_format(
        "text", ExportFormat("a text file", _export_text, lambda kind: kind == "tiny-student")
    )
    yield
    for registry, name in (
        (LOSSES, "squared-gap"),
        (BACKENDS, "echo"),
        (METHODS, "reverse"),
        (STUDENTS, "tiny-student"),
        (EXPORT_FORMATS, "text"),
    ):
        registry.unregister(name)


PLUGIN_CONFIG = [
    "training.students=[{student: tiny-student, loss: squared-gap}]",
    "labeling.method=reverse",
    "labeling.backend.kind=echo",
    "export.formats=[text]",
]


def _help(*command: str) -> str:
    result = CliRunner().invoke(app, [*command, "--help"], terminal_width=240)
    assert result.exit_code == 0, result.output
    return result.output


def test_unregistered_names_are_rejected_and_not_offered() -> None:
    for override in [*PLUGIN_CONFIG, "teacher.sft.loss=squared-gap"]:
        with pytest.raises(ConfigError, match="unknown"):
            load_config("demo", [override])
    assert "squared-gap" not in _help("train") and "tiny-student" not in _help("train")
    assert "reverse" not in _help("label") and "echo" not in _help("label")
    assert "text" not in _help("export").split("Choices:")[1]


def test_registered_entries_validate_are_offered_and_work(plugins: None, tmp_path: Path) -> None:
    cfg = load_config("demo", PLUGIN_CONFIG)
    assert cfg.training.students[0].loss == "squared-gap"
    # The DisRanker teacher's SFT takes its loss from the same registry.
    assert load_config("demo", ["teacher.sft.loss=squared-gap"]).teacher.sft.loss == "squared-gap"
    assert cfg.labeling.method == "reverse" and cfg.labeling.backend.kind == "echo"
    # The capability check uses the new format's own answer: a plain cross-encoder cannot.
    with pytest.raises(ConfigError, match=r"export\.formats: text cannot export training\.stud"):
        load_config("demo", ["export.formats=[text]"])

    train_help, label_help, export_help = _help("train"), _help("label"), _help("export")
    assert "squared-gap" in train_help and "tiny-student" in train_help
    assert "reverse" in label_help and "echo" in label_help
    assert "text" in export_help.split("Choices:")[1]
    bad = CliRunner().invoke(
        app, ["label", "--data", __file__, "--out", str(tmp_path), "-m", "nope"]
    )
    assert bad.exit_code == 2 and "reverse" in bad.stderr  # the error lists it too

    loss = build_loss("squared-gap", scale=2.0)
    scores, labels = torch.tensor([[1.0, 3.0]]), torch.tensor([[0.0, 1.0]])
    value = loss.compute(scores, labels, torch.tensor([[True, True]]))
    assert float(value) == pytest.approx(2.0 * (1 + 4) / 2)
    backend = build_backend(cfg.labeling.backend)
    assert isinstance(backend, EchoBackend) and backend.count_tokens([{"content": "a b"}]) == 2
    method = build_method(cfg.labeling)
    depth = cfg.labeling.prerank.candidates  # the method is built with the config's depth
    assert isinstance(method, ReverseLabeler) and method.candidate_depth == depth
    target = export_model(tmp_path / "student", tmp_path / "out", "text", opset=11)
    assert (target / "model.txt").read_text() == "student opset=11"


def test_a_registry_lists_its_names_in_errors() -> None:
    table: Registry[int] = Registry("widget")
    table.register("a", 1)
    table.register("b", 2)
    assert table.require("b") == 2 and list(table) == ["a", "b"]
    with pytest.raises(ValueError, match=r"unknown widget 'c'; choose one of a, b"):
        table.require("c")
