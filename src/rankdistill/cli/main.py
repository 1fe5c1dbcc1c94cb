"""The ``rankdistill`` command. Each stage's sub-commands live in their own module here.

Heavy libraries (torch, transformers) are imported inside the commands, so ``--help``
answers at once.
"""

from __future__ import annotations

import typer

from rankdistill import __version__
from rankdistill.cli import data, evaluate, export, label, retrieve, run, serve, teacher, train

app = typer.Typer(
    name="rankdistill",
    help=(
        "Distil an LLM's passage-ranking ability into small, fast re-rankers.\n\n"
        "Start with `rankdistill run demo`, or `rankdistill run CONFIG.yaml` on your data."
    ),
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    add_completion=False,
)

for module in (run, data, retrieve, label, teacher, train, evaluate, export, serve):
    module.register(app)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"rankdistill {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """rankdistill."""
