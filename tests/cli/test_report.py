"""``rankdistill report RUN_DIR``: a finished run's report written again from its folder."""

from __future__ import annotations

import shutil
from pathlib import Path

from typer.testing import CliRunner

from rankdistill.cli.main import app
from rankdistill.config import load_config
from rankdistill.pipeline import run_pipeline
from tests.fixtures.pipeline import fast_demo

FAST = [*fast_demo(train=4), "training.students=[]"]


def test_report_rebuilds_a_moved_run_folders_report_as_the_run_wrote_it(tmp_path: Path) -> None:
    cfg = load_config("demo", [*FAST, f"output_dir={tmp_path / 'run'}"])
    p = run_pipeline(cfg, until="evaluate")
    written = (p.run_dir / "report.md").read_text(encoding="utf-8")
    assert "| first-stage" in written  # the metrics table

    moved = tmp_path / "elsewhere"
    shutil.move(p.run_dir, moved)
    (moved / "report.md").unlink()
    (moved / "report.html").unlink()
    result = CliRunner().invoke(app, ["report", str(moved)])
    assert result.exit_code == 0, result.output
    # The same report; only its copy of the config names the folder where it now is.
    rewritten = (moved / "report.md").read_text(encoding="utf-8")
    assert rewritten == written.replace(str(p.run_dir), str(moved))
    assert (moved / "report.html").is_file()
    assert not (tmp_path / "run").exists(), "the recorded output_dir is not written to"


def test_report_of_a_folder_that_is_no_run_or_not_evaluated_is_one_line_and_exit_2(
    tmp_path: Path,
) -> None:
    result = CliRunner().invoke(app, ["report", str(tmp_path)])
    assert result.exit_code == 2
    assert "config.resolved.yaml: not found" in result.output
    assert "Traceback" not in result.output

    cfg = load_config("demo", [*FAST, f"output_dir={tmp_path / 'run'}"])
    run_pipeline(cfg, until="retrieve")
    result = CliRunner().invoke(app, ["report", str(tmp_path / "run")])
    assert result.exit_code == 2
    assert "evaluate stage has not finished" in result.output
