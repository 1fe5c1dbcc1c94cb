"""``rankdistill evaluate``: prints by default, writes files only with ``--out``, fits 80
columns, and tests PNR the way the report does."""

from __future__ import annotations

import json
from pathlib import Path

import ir_measures
import pytest
from typer.testing import CliRunner

from rankdistill.cli.main import app

QRELS = {
    "q1": {"d1": 2, "d2": 0, "d3": 1, "d6": 3},
    "q2": {"d1": 0, "d4": 3, "d5": 1},
    "q3": {"d7": 2, "d8": 0, "d9": 1},
}
RUNS = {
    "bm25": {
        "q1": ["d1", "d2", "d3", "d6"],
        "q2": ["d4", "d1", "d5"],
        "q3": ["d8", "d7", "d9"],
    },
    "student-cross-encoder-minilm": {
        "q1": ["d6", "d1", "d3", "d2"],
        "q2": ["d1", "d5", "d4"],
        "q3": ["d7", "d9", "d8"],
    },
}
METRICS = "nDCG@10 RR(rel=2)@10 AP(rel=2) PNR"


@pytest.fixture
def files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    monkeypatch.chdir(tmp_path)
    qrels = tmp_path / "qrels.txt"
    qrels.write_text(
        "".join(f"{q} 0 {d} {g}\n" for q, docs in QRELS.items() for d, g in docs.items()),
        encoding="utf-8",
    )
    paths = {"qrels": qrels}
    for name, ranking in RUNS.items():
        path = tmp_path / f"{name}.trec"
        lines = [
            f"{q} Q0 {d} {rank} {len(docs) - rank + 1}.0 {name}\n"
            for q, docs in ranking.items()
            for rank, d in enumerate(docs, start=1)
        ]
        path.write_text("".join(lines), encoding="utf-8")
        paths[name] = path
    return paths


def _invoke(args: list[str]) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["evaluate", *args], env={"COLUMNS": "80"})
    return result.exit_code, result.stdout


def _runs(files: dict[str, Path]) -> list[str]:
    return [f"{name}={files[name]}" for name in RUNS]


def _reference(name: str, measure: str) -> float:
    run = {q: {d: float(-i) for i, d in enumerate(docs)} for q, docs in RUNS[name].items()}
    return ir_measures.calc_aggregate([ir_measures.parse_measure(measure)], QRELS, run)[
        ir_measures.parse_measure(measure)
    ]


def test_prints_the_table_and_writes_nothing_without_out(
    files: dict[str, Path], tmp_path: Path
) -> None:
    before = sorted(p.name for p in tmp_path.iterdir())
    code, out = _invoke([*_runs(files), "--qrels", str(files["qrels"]), "-m", METRICS])
    assert code == 0, out
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # no eval/ folder
    bm25_row = next(line for line in out.splitlines() if line.strip().startswith("bm25"))
    for measure in ("nDCG@10", "RR(rel=2)@10", "AP(rel=2)"):
        assert f"{_reference('bm25', measure):.4f}" in bm25_row, (measure, bm25_row)


def test_table_fits_80_columns_with_nothing_cut(files: dict[str, Path]) -> None:
    code, out = _invoke([*_runs(files), "--qrels", str(files["qrels"]), "-m", METRICS])
    assert code == 0, out
    table = out.splitlines()
    assert all(len(line) <= 80 for line in table), out
    assert "…" not in out  # headers and system names wrap instead of being cut
    assert "RR(rel=2)@10" in "".join(out.split())  # the header, whole once unwrapped
    rule = next(i for i, line in enumerate(table) if set(line.strip()) == {"─"})
    rows = [line for line in table[rule + 1 :] if line.strip() and "p <" not in line]
    names = [row.split()[0] for row in rows]
    assert names[0] == "bm25" and "".join(names[1:]) == "student-cross-encoder-minilm"


def test_out_writes_the_report_files(files: dict[str, Path], tmp_path: Path) -> None:
    target = tmp_path / "report"
    code, out = _invoke(
        [*_runs(files), "--qrels", str(files["qrels"]), "-m", METRICS, "--out", str(target)]
    )
    assert code == 0, out
    for name in ("eval.json", "eval.md", "score_distributions.png"):
        assert (target / name).is_file(), name
    saved = json.loads((target / "eval.json").read_text(encoding="utf-8"))
    ndcg = saved["runs"]["bm25"]["aggregate"]["nDCG@10"]
    assert ndcg == pytest.approx(_reference("bm25", "nDCG@10"), abs=1e-9)


def test_pnr_is_tested_as_in_the_report(files: dict[str, Path]) -> None:
    from rankdistill.data.loading import read_run
    from rankdistill.data.qrels import read_qrels
    from rankdistill.evaluation.metrics import evaluate_run
    from rankdistill.evaluation.reporting.comparisons import compare_with_baseline
    from rankdistill.evaluation.significance import compare_runs

    code, out = _invoke([*_runs(files), "--qrels", str(files["qrels"]), "-m", METRICS, "--json"])
    assert code == 0, out
    printed = json.loads(out)["significance"]["student-cross-encoder-minilm"]["PNR"]
    qrels = read_qrels(files["qrels"])
    results = {name: evaluate_run(read_run(files[name]), qrels, METRICS) for name in RUNS}
    pooled = compare_with_baseline(results, baseline="bm25")["student-cross-encoder-minilm"]
    per_query = compare_runs(results, baseline="bm25")["student-cross-encoder-minilm"]
    assert printed["p_value"] == pytest.approx(pooled["PNR"].p_value)
    # The two tests differ here, so the check above tells which one the command ran.
    assert pooled["PNR"].p_value != pytest.approx(per_query["PNR"].p_value)
