"""CLI: ``rankdistill report RUN_DIR`` writes a finished run's report again.

A run writes ``report.md`` and ``report.html`` when its evaluate and benchmark stages end.
This command rebuilds them from the run folder alone (its ``config.resolved.yaml`` and
stage outputs), e.g. after an upgrade changed the report, without running any stage.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from rankdistill.cli.help import HelpCommand


def report(
    run_dir: Annotated[
        Path, typer.Argument(metavar="RUN_DIR", help="A run folder of `rankdistill run`.")
    ],
    base_dir: Annotated[
        Path | None,
        typer.Option(
            "--base-dir",
            metavar="PATH",
            help="Folder the config's relative data paths start from (default: the current "
            "folder, as for `rankdistill run`).",
        ),
    ] = None,
) -> None:
    """Write a finished run's report.md and report.html again from its folder."""
    from rankdistill.config import load_config
    from rankdistill.pipeline.context import RESOLVED_CONFIG, RunContext
    from rankdistill.pipeline.report import write_report

    resolved = run_dir / RESOLVED_CONFIG
    if not resolved.is_file():
        raise ValueError(f"{resolved}: not found; RUN_DIR must be a folder of `rankdistill run`")
    # The folder given wins over the output_dir recorded in it: runs get moved.
    config = load_config(resolved, [f"output_dir={run_dir.resolve()}"])
    path = write_report(RunContext(config, base_dir=(base_dir or Path.cwd()).resolve()))
    if path is None:
        raise ValueError(f"{run_dir}: its evaluate stage has not finished; nothing to report")
    typer.echo(f"report: {path}")


def register(app: typer.Typer) -> None:
    app.command("report", cls=HelpCommand)(report)
