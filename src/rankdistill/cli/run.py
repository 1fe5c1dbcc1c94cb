"""CLI: ``rankdistill run`` (the whole pipeline) and ``rankdistill config`` (inspect configs)."""

from __future__ import annotations

from pathlib import Path

import typer

from rankdistill.config import STAGES, ConfigError, dump_config, load_config, shipped_configs

STAGE_HELP = ", ".join(STAGES)


def run(
    config: str = typer.Argument(
        ...,
        help="A YAML config file, or the name of a shipped config (`rankdistill config list`).",
    ),
    until: str | None = typer.Option(
        None, "--until", help=f"Stop after this stage. Stages: {STAGE_HELP}."
    ),
    overrides: list[str] = typer.Option(
        [], "--set", help="Override a config value, e.g. --set training.students.0.max_steps=20."
    ),
    force: list[str] = typer.Option(
        [], "--force", help="Re-run this stage even if its output exists (repeatable)."
    ),
    output_dir: str | None = typer.Option(
        None, "--output-dir", "-o", help="Run folder (default: the config's output_dir)."
    ),
) -> None:
    """Run every pipeline stage in order; finished stages are skipped, so a rerun resumes."""
    from rankdistill.cli.pipeline import run_pipeline

    for name in [*([until] if until else []), *force]:
        if name not in STAGES:
            raise typer.BadParameter(f"unknown stage {name!r}; stages: {STAGE_HELP}")
    if output_dir:
        overrides = [*overrides, f"output_dir={output_dir}"]
    try:
        cfg = load_config(config, overrides)
    except ConfigError as exc:
        typer.secho(f"error: {exc}", fg="red", err=True)
        raise typer.Exit(2) from exc
    base_dir = Path(config).resolve().parent if Path(config).is_file() else Path.cwd()
    pipeline = run_pipeline(cfg, base_dir=base_dir, until=until, force=tuple(force))
    typer.echo(f"run folder: {pipeline.run_dir}")


config_app = typer.Typer(help="Inspect configs: list the shipped ones, print one fully resolved.")


@config_app.command("list")
def config_list() -> None:
    """List the configs shipped inside the package."""
    for name in shipped_configs():
        typer.echo(name)


@config_app.command("show")
def config_show(
    config: str | None = typer.Argument(None, help="File or shipped name; omit for the defaults."),
    overrides: list[str] = typer.Option([], "--set", help="Override a value (key.path=value)."),
) -> None:
    """Print a config with every default filled in, as YAML."""
    try:
        typer.echo(dump_config(load_config(config, overrides)), nl=False)
    except ConfigError as exc:
        typer.secho(f"error: {exc}", fg="red", err=True)
        raise typer.Exit(2) from exc


def register(app: typer.Typer) -> None:
    app.command("run")(run)
    app.add_typer(config_app, name="config")
