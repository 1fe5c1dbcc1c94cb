"""CLI: ``rankdistill run`` (the whole pipeline) and ``rankdistill config`` (inspect configs)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from rankdistill.cli.choices import STAGES, choice_command
from rankdistill.cli.help import HelpCommand, HelpGroup
from rankdistill.cli.options import set_option

UNTIL_HELP = "Stop after this stage."
FORCE_HELP = "Re-run this stage even if its output exists (repeatable)."
RUN_DIR_HELP = "Run folder (default: the config's output_dir)."


def run(
    config: str = typer.Argument(
        ...,
        help="A YAML config file, or the name of a shipped config (`rankdistill config list`).",
    ),
    until: Annotated[str | None, typer.Option(metavar="STAGE", help=UNTIL_HELP)] = None,
    overrides: Annotated[list[str], set_option("training.students.0.max_steps=20")] = [],  # noqa: B006
    force: Annotated[list[str], typer.Option(metavar="STAGE", help=FORCE_HELP)] = [],  # noqa: B006
    output_dir: Annotated[
        str | None, typer.Option("--output-dir", "-o", metavar="PATH", help=RUN_DIR_HELP)
    ] = None,
) -> None:
    """Run every pipeline stage in order; finished stages are skipped, so a rerun resumes."""
    from rankdistill.config import load_config
    from rankdistill.pipeline import run_pipeline

    if output_dir:
        overrides = [*overrides, f"output_dir={output_dir}"]
    cfg = load_config(config, overrides)
    base_dir = Path(config).resolve().parent if Path(config).is_file() else Path.cwd()
    ctx = run_pipeline(cfg, base_dir=base_dir, until=until, force=tuple(force))
    typer.echo(f"run folder: {ctx.run_dir}")


config_app = typer.Typer(
    cls=HelpGroup, help="Inspect configs: list the shipped ones, print one fully resolved."
)


@config_app.command("list", cls=HelpCommand)
def config_list() -> None:
    """List the configs shipped inside the package."""
    from rankdistill.config import shipped_configs

    for name in shipped_configs():
        typer.echo(name)


@config_app.command("show", cls=HelpCommand)
def config_show(
    config: str | None = typer.Argument(None, help="File or shipped name; omit for the defaults."),
    overrides: Annotated[list[str], set_option("output_dir=runs/mine")] = [],  # noqa: B006
) -> None:
    """Print a config with every default filled in, as YAML."""
    from rankdistill.config import dump_config, load_config

    typer.echo(dump_config(load_config(config, overrides)), nl=False)


def register(app: typer.Typer) -> None:
    app.command("run", cls=choice_command({"until": STAGES, "force": STAGES}))(run)
    app.add_typer(config_app, name="config")
