"""Reports: JSON / Markdown files, rich table, valid PNG plots."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from matplotlib import image
from rich.console import Console

from rankdistill.evaluation.metrics import EvalResult, evaluate_run
from rankdistill.evaluation.report import (
    SIGNIFICANT_MARK,
    plot_score_distributions,
    render_markdown,
    render_rich_table,
    write_eval_outputs,
)
from rankdistill.evaluation.reporting.plots import ScatterPoint, plot_quality_scatter
from rankdistill.evaluation.segments import per_segment
from rankdistill.evaluation.significance import compare_runs

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def assert_valid_png(path: Path) -> None:
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    pixels = image.imread(path)
    assert pixels.shape[0] >= 200 and pixels.shape[1] >= 300
    assert float(np.std(pixels)) > 0.01  # something was drawn


@pytest.fixture(scope="module")
def two_systems() -> tuple[dict[str, EvalResult], dict, dict]:
    rng = np.random.default_rng(0)
    qrels = {f"q{i}": {f"d{j}": int(j < 3) + int(j < 1) for j in range(10)} for i in range(20)}
    good = {
        q: {d: float(g) + rng.normal(0, 0.5) for d, g in docs.items()} for q, docs in qrels.items()
    }
    noise = {q: {d: float(rng.normal()) for d in docs} for q, docs in qrels.items()}
    runs = {"random": noise, "good": good}
    results = {n: evaluate_run(r, qrels, ["nDCG@10", "P@1", "PNR"]) for n, r in runs.items()}
    return results, runs, qrels


def test_write_eval_outputs(tmp_path: Path, two_systems: tuple) -> None:
    results, _, _ = two_systems
    segments = {f"q{i}": ("head" if i < 10 else "tail") for i in range(20)}
    paths = write_eval_outputs(results, tmp_path, segments=segments, baseline="random")
    report = json.loads(paths["json"].read_text(encoding="utf-8"))
    assert report["baseline"] == "random"
    assert report["runs"]["good"]["aggregate"]["nDCG@10"] == pytest.approx(
        results["good"].aggregate["nDCG@10"]
    )
    assert EvalResult.from_dict(report["runs"]["good"]) == results["good"]
    significance = report["significance"]["good"]["nDCG@10"]
    assert significance["p_value"] < 0.05 and significance["mean_diff"] > 0
    # PNR's difference is of the pooled values, as in the table.
    pnr = report["significance"]["good"]["PNR"]
    pooled = results["good"].aggregate["PNR"] - results["random"].aggregate["PNR"]
    assert pnr["method"] == "permutation" and pnr["mean_diff"] == pytest.approx(pooled)
    assert report["segments"]["good"]["head"]["num_queries"] == 10
    markdown = paths["markdown"].read_text(encoding="utf-8")
    assert "| system | queries | nDCG@10 | P@1 | PNR (pooled) |" in markdown
    good_ndcg = f"{results['good'].aggregate['nDCG@10']:.4f}{SIGNIFICANT_MARK}"
    assert good_ndcg in markdown
    assert "## Per segment" in markdown and "| good | tail | 10 |" in markdown
    for metric in ("nDCG@10", "P@1", "PNR"):
        assert_valid_png(paths[f"segments:{metric}"])
    assert paths["segments:nDCG@10"].name == "segments_nDCG_10.png"


def test_single_run_has_no_significance(tmp_path: Path, two_systems: tuple) -> None:
    results, _, _ = two_systems
    paths = write_eval_outputs({"good": results["good"]}, tmp_path)
    report = json.loads(paths["json"].read_text(encoding="utf-8"))
    assert report["significance"] == {} and report["segments"] == {}
    assert set(paths) == {"json", "markdown"}


def test_rich_and_markdown_tables_show_values(two_systems: tuple) -> None:
    results, _, _ = two_systems
    comparisons = compare_runs(results)
    console = Console(file=io.StringIO(), width=160)
    console.print(render_rich_table(results, comparisons))
    text = console.file.getvalue()
    assert f"{results['good'].aggregate['PNR']:.4f}" in text and "random" in text
    markdown = render_markdown(results, comparisons, baseline="random")
    assert "## p-values vs 'random'" in markdown
    tests = comparisons["good"]
    p_row = " | ".join(f"{tests[m].p_value:.4f}" for m in ("nDCG@10", "P@1", "PNR"))
    assert f"| good | {p_row} |" in markdown


def test_eval_markdown_is_written_by_the_run_reports_writer(two_systems: tuple) -> None:
    results, _, _ = two_systems
    comparisons = compare_runs(results, baseline="random")
    segments = {f"q{i}": ("head" if i < 10 else "tail") for i in range(20)}
    tables = {name: per_segment(result, segments) for name, result in results.items()}
    markdown = render_markdown(results, comparisons, tables, baseline="random")
    good = results["good"].aggregate
    lines = markdown.splitlines()
    assert lines[:4] == [
        "# Evaluation",
        "",
        "| system | queries | nDCG@10 | P@1 | PNR (pooled) |",
        "| :--- | ---: | ---: | ---: | ---: |",
    ]
    assert lines[5].startswith(f"| good | 20 | {good['nDCG@10']:.4f}{SIGNIFICANT_MARK} |")
    assert f"{SIGNIFICANT_MARK}: p < 0.05 vs 'random' (paired test over common queries)." in lines
    head = tables["good"]["head"]
    assert f"| good | head | 10 | {head['nDCG@10']:.4f} | {head['P@1']:.4f} |" in markdown
    assert "| system | segment | queries | nDCG@10 | P@1 | PNR (pooled) |" in lines
    assert "| :--- | :--- | ---: | ---: | ---: | ---: |" in lines
    assert markdown.endswith("|\n") and "## Per segment" in lines


def test_score_distribution_and_latency_plots(tmp_path: Path, two_systems: tuple) -> None:
    _, runs, qrels = two_systems
    assert_valid_png(plot_score_distributions(runs, qrels, tmp_path / "scores.png"))
    points = [ScatterPoint("bm25", "", 2.0, 0.48), ScatterPoint("minilm", "onnx", 15.0, 0.61)]
    latency = plot_quality_scatter(points, tmp_path / "sub" / "latency.png", "latency (ms)")
    assert_valid_png(latency)
