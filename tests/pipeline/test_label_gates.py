"""Label-quality gates: garbage labels stop the run with the numbers and the file."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rankdistill.cli.main import app
from rankdistill.config import load_config
from rankdistill.data.records import LabelRecord
from rankdistill.labeling.backends import BACKENDS, Generation, register_backend
from rankdistill.labeling.stats import label_statistics
from rankdistill.pipeline import LabelQualityError, run_pipeline
from rankdistill.pipeline.stages.label import check_label_quality, quality_line


def _record(qid: str, problems: dict[str, int], missing: int, shown: int = 10) -> LabelRecord:
    docids = [f"{qid}-d{i}" for i in range(shown)]
    return LabelRecord(
        qid, "q", docids, "rradistill", "t", missing=docids[:missing], parse_problems=problems
    )


def _stats() -> dict:
    # 3 of 4 answers needed repair; 36 of the 40 documents shown went unlisted.
    records = [
        _record("a", {"no_identifiers": 1}, missing=10),
        _record("b", {"truncated": 1}, missing=9),
        _record("c", {"unknown": 2}, missing=9),
        _record("d", {}, missing=8),
    ]
    return label_statistics(records)


def test_the_parse_gate_reports_the_share_and_the_file() -> None:
    cfg = load_config("demo").labeling.model_copy(
        update={"max_parse_failure_rate": 0.5, "max_missing_rate": 0.95}
    )
    with pytest.raises(LabelQualityError) as caught:
        check_label_quality(_stats(), cfg, Path("run/label/train/labels.jsonl"))
    message = str(caught.value)
    assert message.startswith("run/label/train/labels.jsonl: ")
    assert "3 of 4 answers (75%) had parse problems" in message
    assert "labeling.max_parse_failure_rate=0.5" in message
    assert "unlisted" not in message  # 90% missing is under 0.95


def test_the_missing_gate_and_limits_that_let_labels_pass() -> None:
    base = load_config("demo").labeling
    strict = base.model_copy(update={"max_parse_failure_rate": 1.0, "max_missing_rate": 0.8})
    with pytest.raises(LabelQualityError, match=r"90\.0% of the documents shown were left"):
        check_label_quality(_stats(), strict, Path("labels.jsonl"))
    lenient = base.model_copy(update={"max_parse_failure_rate": 0.75, "max_missing_rate": 0.9})
    check_label_quality(_stats(), lenient, Path("labels.jsonl"))  # at the limits: passes
    assert quality_line(_stats()) == (
        "4 queries; parse problems in 3 (no_identifiers: 1, truncated: 1, unknown: 2); "
        "missing rate 0.900 (1 queries with nothing listed)"
    )


class MumblingBackend:
    """An LLM that never names a passage, like a model too weak for listwise ranking."""

    model_id = "mumbling-test-llm"

    def __init__(self, cfg) -> None:
        self.cfg = cfg

    def generate(self, prompts: Sequence, max_new_tokens: int, temperature: float = 0.0):
        return [Generation("They all look fine to me.", 50, 8, "stop") for _ in prompts]

    def next_token_logprobs(self, prompts, candidates):  # pragma: no cover
        raise NotImplementedError

    def count_tokens(self, messages) -> int:
        return sum(len(m["content"].split()) for m in messages)

    def close(self) -> None:
        pass


@pytest.fixture
def mumbling() -> Iterator[None]:
    register_backend("mumbling", MumblingBackend)
    yield
    BACKENDS.unregister("mumbling")


FAST = [
    "data.train.max_queries=4",
    "data.dev.max_queries=2",
    "selection.enabled=false",
    "retrieval.k=12",
    "labeling.method=rradistill",
    "labeling.backend.kind=mumbling",
    "labeling.prerank.scorer=first-stage",
    "labeling.prerank.candidates=10",
    "labeling.prerank.top_k=3",
    "labeling.prerank.bottom_k=3",
]


def test_garbage_labels_stop_the_run(mumbling: None, tmp_path: Path, capsys) -> None:
    cfg = load_config("demo", [*FAST, f"output_dir={tmp_path / 'run'}"])
    with pytest.raises(LabelQualityError) as caught:
        run_pipeline(cfg, until="train")
    labels = tmp_path / "run" / "label" / "train" / "labels.jsonl"
    assert str(caught.value).startswith(f"{labels}: the labels fail the quality gate")
    assert "4 of 4 answers (100%) had parse problems" in str(caught.value)
    assert "100.0% of the documents shown were left unlisted" in str(caught.value)
    assert not (tmp_path / "run" / "label" / "_done.json").exists()
    assert "train labels: 4 queries; parse problems in 4" in capsys.readouterr().err

    # Through the command: one line, exit 2; raising the limits lets the run go on.
    result = CliRunner().invoke(app, ["run", "demo", "--until", "label", *_sets(cfg, FAST)])
    assert result.exit_code == 2 and f"error: {labels}: the labels fail" in result.stderr
    off = ["--set", "labeling.max_parse_failure_rate=1", "--set", "labeling.max_missing_rate=1"]
    result = CliRunner().invoke(app, ["run", "demo", "--until", "label", *_sets(cfg, FAST), *off])
    assert result.exit_code == 0, result.stderr[-2000:]
    assert (tmp_path / "run" / "label" / "_done.json").is_file()


def _sets(cfg, overrides: list[str]) -> list[str]:
    args = []
    for item in [*overrides, f"output_dir={cfg.output_dir}"]:
        args += ["--set", item]
    return args
