"""The recipe-sweep benchmark's own plumbing (the sweep itself needs a GPU and a DL run)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from types import ModuleType

import pytest

from tests.fixtures.benchmarks import load_benchmark

ROOT = Path(__file__).resolve().parents[2]


def _sweep() -> ModuleType:
    return load_benchmark("distill_sweep")


def _finished_run(root: Path, queries: int) -> Path:
    for stage in _sweep().UPSTREAM_STAGES:
        (root / stage).mkdir(parents=True)
        (root / stage / "_done.json").write_text("{}")
    lines = [json.dumps({"qid": f"q{i}"}) + "\n" for i in range(queries)]
    (root / "label" / "train").mkdir()
    (root / "label" / "train" / "labels.jsonl").write_text("".join(lines))
    return root


def test_a_variant_starts_from_the_source_runs_labels_cut_to_a_seeded_sample(
    tmp_path: Path,
) -> None:
    sweep = _sweep()
    source = _finished_run(tmp_path / "source", queries=20)
    sample = []
    for name in ("a", "b"):
        sweep.copy_upstream(source, tmp_path / name)
        sweep.keep_sample_of_queries(tmp_path / name, 8)
        labels = (tmp_path / name / "label" / "train" / "labels.jsonl").read_text().splitlines()
        sample.append([json.loads(line)["qid"] for line in labels])
    assert sample[0] == sample[1] and len(set(sample[0])) == 8  # same seed, same queries
    assert len((source / "label" / "train" / "labels.jsonl").read_text().splitlines()) == 20
    with pytest.raises(SystemExit, match="fewer than 50"):
        sweep.keep_sample_of_queries(tmp_path / "a", 50)
    shutil.rmtree(source / "label")
    with pytest.raises(SystemExit, match="no finished label stage"):
        sweep.copy_upstream(source, tmp_path / "c")


def test_dev_curves_are_read_from_each_students_history(tmp_path: Path) -> None:
    history = [
        {"step": 10, "epoch": 0.5, "loss": 1.0},
        {"step": 20, "epoch": 1.0, "eval_nDCG@10": 0.41},
        {"step": 40, "epoch": 2.0, "eval_nDCG@10": 0.45},
    ]
    folder = tmp_path / "train" / "0-cross-encoder"
    folder.mkdir(parents=True)
    (folder / "history.json").write_text(json.dumps(history))
    assert _sweep().dev_curves(tmp_path) == {
        "0-cross-encoder": [
            {"step": 20, "epoch": 1.0, "nDCG@10": 0.41},
            {"step": 40, "epoch": 2.0, "nDCG@10": 0.45},
        ]
    }


def test_the_committed_results_redraw(tmp_path: Path) -> None:
    result = json.loads((ROOT / "benchmarks" / "results" / "distill_sweep.json").read_text())
    assert set(result["variants"]) == set(_sweep().VARIANTS)
    path = _sweep().plot(result, tmp_path / "sweep.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
