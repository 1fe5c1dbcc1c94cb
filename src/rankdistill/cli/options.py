"""Options that several commands share, declared once.

Each shared flag (``--config``, ``--set``, ``--device``, ``--data``...) is an ``Annotated``
alias, or a factory where the commands differ only in the help text, so a command
declares it in one line. typer reads a command's flags from its signature;
:func:`add_options` appends a group of options to that signature and turns their values
into what the command takes instead (a loaded config, a data loader, ...).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Collection
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from rankdistill.data.records import RankingData


def add_options(
    command: Callable[..., None],
    replaced: Collection[str],
    options: tuple[tuple[str, Any, Any], ...],
    build: Callable[..., dict[str, Any]],
) -> Callable[..., None]:
    """Give ``command`` the ``options`` (name, type, typer option) as flags after its own,
    in place of its parameters named in ``replaced``; ``build(**the options' values)``
    returns the keyword arguments those parameters then receive."""
    own = [
        p.replace(annotation=_evaluated(p.annotation, command))
        for p in inspect.signature(command).parameters.values()
        if p.name not in replaced
    ]
    added = [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=opt, annotation=t)
        for name, t, opt in options
    ]

    @functools.wraps(command)
    def with_options(**flags: Any) -> None:
        values = {name: flags.pop(name) for name, _, _ in options}
        command(**flags, **build(**values))

    params = [*own, *added]
    with_options.__signature__ = inspect.Signature(params, return_annotation=None)  # type: ignore[attr-defined]
    with_options.__annotations__ = {p.name: p.annotation for p in params}
    return with_options


def _evaluated(annotation: Any, command: Callable[..., None]) -> Any:
    # Under ``from __future__ import annotations`` a kept flag's type is a string; typer
    # needs the type. The replaced parameters' types are never evaluated, so they may name
    # types imported for type checking only.
    if isinstance(annotation, str):
        return eval(annotation, command.__globals__)
    return annotation


# Options that several commands declare alike. A factory takes what differs between the
# commands (the config section a flag speaks of, the files an output folder receives).
DEVICE_METAVAR = "[auto|cpu|cuda]"
DATA_FORMATS = ("rankllm", "builtin", "beir")


def config_option(section: str, **checks: Any) -> Any:
    """``--config``: a run config whose ``section`` is where the command starts from;
    ``checks`` (typer's path checks) for a command that reads a file, not a shipped name."""
    what = "Run config YAML" if checks else "Run config (YAML file or shipped name)"
    return typer.Option(
        "--config",
        "-c",
        metavar="PATH" if checks else "PATH|NAME",
        help=f"{what} whose `{section}` section is the starting point.",
        **checks,
    )


def set_option(example: str) -> Any:
    """``--set``: repeatable ``KEY=VALUE`` overrides, keys relative to the section."""
    return typer.Option(
        "--set",
        "-s",
        metavar="KEY=VALUE",
        help=f"Override a setting (repeatable), e.g. --set {example}.",
    )


def out_option(what: str, *short: str) -> Any:
    """``--out``: where the command writes ``what``; required."""
    return typer.Option("--out", *short, metavar="PATH", help=what)


def data_files_option(what: str, **checks: Any) -> Any:
    """``--data``: repeatable data files (or one folder); ``checks``: typer's path checks."""
    return typer.Option("--data", "-d", metavar="PATH", help=what, **checks)


def qrels_option(what: str, **checks: Any) -> Any:
    """``--qrels``: graded judgments."""
    return typer.Option("--qrels", metavar="PATH", help=what, **checks)


def method_option(what: str) -> Any:
    """``--method``: a registered method (listed by the command class)."""
    return typer.Option("--method", "-m", metavar="NAME", help=f"{what} (default: the config's).")


DeviceOption = Annotated[
    str,
    typer.Option("--device", metavar=DEVICE_METAVAR, help="Device of the models (also cuda:N)."),
]
DataFormatOption = Annotated[
    str,
    typer.Option(
        "--data-format",
        metavar="FORMAT",
        help=f"Format of the data options: {', '.join(DATA_FORMATS)}.",
    ),
]
ProgressOption = Annotated[
    bool, typer.Option("--progress/--no-progress", help="Show progress bars.")
]
MaxStepsOption = Annotated[
    int | None,
    typer.Option("--max-steps", metavar="N", help="Stop after N optimizer steps (-1: epochs)."),
]
MaxQueriesOption = Annotated[
    int | None,
    typer.Option("--max-queries", metavar="N", help="Use only the first N queries."),
]
BackendOption = Annotated[
    str | None,
    typer.Option("--backend", "-b", metavar="NAME", help="LLM backend (default: the config's)."),
]
ModelOption = Annotated[
    str | None,
    typer.Option(
        "--model",
        metavar="MODEL",
        help="LLM: packaged alias (smollm2-135m), local path, GGUF file or hub id.",
    ),
]


def load_data_option(
    fmt: str,
    paths: list[Path],
    qrels: Path | None,
    *,
    split: str | None = None,
    max_queries: int | None = None,
) -> RankingData:
    """The dataset that ``--data-format``, ``--data`` and ``--qrels`` name: rank_llm JSON
    file(s), one BEIR folder or the built-in demo data."""
    from rankdistill.data.config import DatasetSpec
    from rankdistill.data.loading import load_dataset

    if fmt not in DATA_FORMATS:
        raise typer.BadParameter(
            f"must be one of {', '.join(DATA_FORMATS)}", param_hint="--data-format"
        )
    where = f" for the {split} split" if split else ""
    common: dict[str, Any] = {"max_queries": max_queries}
    if split is not None:
        common["split"] = split
    if fmt == "rankllm":
        if not paths:
            raise typer.BadParameter(f"give rank_llm JSON file(s){where}", param_hint="--data")
        qrels_path = None if qrels is None else str(qrels)
        spec = DatasetSpec(
            format="rankllm", candidates=[str(p) for p in paths], qrels=qrels_path, **common
        )
    elif fmt == "beir":
        if len(paths) != 1:
            raise typer.BadParameter(f"give one BEIR folder{where}", param_hint="--data")
        spec = DatasetSpec(format="beir", path=str(paths[0]), **common)
    else:
        spec = DatasetSpec(format="builtin", **common)
    return load_dataset(spec)
