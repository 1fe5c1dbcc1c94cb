"""`rankdistill evaluate` end to end on real runs and on small TREC files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from rankdistill.cli import evaluate
from rankdistill.data.errors import DataFormatError
from rankdistill.data.trec import write_trec_qrels, write_trec_run

runner = CliRunner()


def _app() -> typer.Typer:
    """The `evaluate` command registered as in the main app, isolated from other commands."""
    app = typer.Typer()
    app.callback()(lambda: None)  # keep `evaluate` a sub-command, as in `rankdistill evaluate`
    evaluate.register(app)
    return app


app = _app()


@pytest.mark.shared_data
def test_evaluate_dl2020_runs_as_json(dl2020: Path, tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        [
            "evaluate",
            f"bm25={dl2020 / 'bm25-top100.json'}",
            f"splade={dl2020 / 'splade-pp-top100.json'}",
            "--qrels",
            str(dl2020 / "qrels.json"),
            "--metrics",
            "nDCG@10 RR(rel=2)@10 AP(rel=2) PNR",
            "--out",
            str(tmp_path),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    bm25 = report["runs"]["bm25"]["aggregate"]
    assert round(bm25["nDCG@10"], 4) == 0.4796
    assert round(bm25["RR(rel=2)@10"], 4) == 0.6533
    assert round(bm25["AP(rel=2)"], 4) == 0.2685
    splade = report["significance"]["splade"]["nDCG@10"]
    # SPLADE++ is far better than BM25 on DL 2020: a large, significant gain.
    assert splade["mean_diff"] > 0.1 and splade["p_value"] < 0.01
    for name in ("eval.json", "eval.md", "score_distributions.png"):
        assert (tmp_path / name).is_file(), name


def test_evaluate_trec_files_with_segments(tmp_path: Path) -> None:
    qrels = {f"q{i}": {"a": 1, "b": 0, "c": 0} for i in range(6)}
    good = {q: {"a": 3.0, "b": 2.0, "c": 1.0} for q in qrels}
    bad = {q: {"a": 1.0, "b": 2.0, "c": 3.0} for q in qrels}
    write_trec_qrels(qrels, tmp_path / "qrels.txt")
    write_trec_run(bad, tmp_path / "bad.trec", tag="bad")
    write_trec_run(good, tmp_path / "good.trec", tag="good")
    segments = {"dev": {f"q{i}": "head" if i < 2 else "tail" for i in range(6)}, "train": {}}
    (tmp_path / "segments.json").write_text(json.dumps(segments), encoding="utf-8")
    out = tmp_path / "out"
    result = runner.invoke(
        app,
        [
            "evaluate",
            str(tmp_path / "bad.trec"),
            str(tmp_path / "good.trec"),
            "--qrels",
            str(tmp_path / "qrels.txt"),
            "--metrics",
            "P@1 RR PNR",
            "--segments",
            str(tmp_path / "segments.json"),
            "--test",
            "wilcoxon",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "good" in result.stdout and "1.0000" in result.stdout
    report = json.loads((out / "eval.json").read_text(encoding="utf-8"))
    assert report["baseline"] == "bad"
    # PNR pools 6 queries x 2 concordant pairs over 0 discordant (floored at 1).
    assert report["runs"]["good"]["aggregate"] == {"P@1": 1.0, "RR": 1.0, "PNR": 12.0}
    assert report["runs"]["bad"]["aggregate"]["PNR"] == 0.0
    assert report["significance"]["good"]["P@1"]["method"] == "wilcoxon"
    assert report["segments"]["good"]["head"]["num_queries"] == 2
    assert (out / "segments_P_1.png").is_file()


def test_evaluate_rejects_unknown_metric_and_baseline(tmp_path: Path) -> None:
    write_trec_qrels({"q": {"a": 1}}, tmp_path / "qrels.txt")
    write_trec_run({"q": {"a": 1.0}}, tmp_path / "run.trec")
    base = ["evaluate", str(tmp_path / "run.trec"), "--qrels", str(tmp_path / "qrels.txt")]
    result = runner.invoke(app, [*base, "--metrics", "nDCG@10 MAPP", "--out", str(tmp_path)])
    assert result.exit_code != 0 and "unknown metric 'MAPP'" in result.output
    result = runner.invoke(app, [*base, "--baseline", "nope", "--out", str(tmp_path)])
    assert result.exit_code != 0 and "--baseline" in result.output
    (tmp_path / "segments.json").write_text('{"q": "head",\n oops}', encoding="utf-8")
    result = runner.invoke(
        app, [*base, "--segments", str(tmp_path / "segments.json"), "--out", str(tmp_path)]
    )
    assert isinstance(result.exception, DataFormatError)
    assert "segments.json:2: invalid JSON" in str(result.exception)
