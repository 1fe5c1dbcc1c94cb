"""The ``rankdistill`` command. Each stage's sub-commands live in their own module here.

Heavy libraries (torch, transformers) are imported inside the commands, so ``--help``
answers at once.
"""

from __future__ import annotations

import typer

from rankdistill import __version__
from rankdistill.cli import (
    data,
    evaluate,
    export,
    label,
    report,
    retrieve,
    run,
    serve,
    teacher,
    train,
)
from rankdistill.cli import generate as generate_cli
from rankdistill.cli.errors import DEBUG_ENV, UserErrorGroup

app = typer.Typer(
    name="rankdistill",
    help=(
        "Distil an LLM's passage-ranking ability into small, fast re-rankers.\n\n"
        "Start with `rankdistill run demo`, or `rankdistill run CONFIG.yaml` on your data."
    ),
    no_args_is_help=True,
    cls=UserErrorGroup,
    pretty_exceptions_show_locals=False,
    add_completion=False,
)

for module in (
    run,
    data,
    generate_cli,
    retrieve,
    label,
    teacher,
    train,
    evaluate,
    export,
    serve,
    report,
):
    module.register(app)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"rankdistill {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    ctx: typer.Context,
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
    debug: bool = typer.Option(
        False,
        "--debug",
        help=f"Show the traceback of an error instead of one line (or set {DEBUG_ENV}=1).",
    ),
) -> None:
    """rankdistill."""
    ctx.meta[DEBUG_ENV] = debug
