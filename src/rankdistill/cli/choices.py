"""CLI choices read from a registry when they are shown or checked, never copied.

The registry module is imported only then, so ``rankdistill --help`` stays fast, and
an entry registered by a plugin is offered like the built-in ones.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from typing import Any

from typer.core import TyperCommand

from rankdistill.cli.help import HelpCommand

LOSSES = "rankdistill.losses:LOSSES"
STUDENTS = "rankdistill.students:STUDENTS"
METHODS = "rankdistill.labeling.methods:METHODS"
BACKENDS = "rankdistill.labeling.backends:BACKENDS"
EXPORT_FORMATS = "rankdistill.serving.export:EXPORT_FORMATS"
SCORERS = "rankdistill.scoring:SCORERS"
STAGES = "rankdistill.pipeline.stages:BY_NAME"


def _table(registry: str) -> Any:
    module, _, attribute = registry.partition(":")
    return getattr(importlib.import_module(module), attribute)


def registry_names(registry: str) -> tuple[str, ...]:
    """The names the registry ``module:attribute`` holds now."""
    return tuple(_table(registry))


def check_choices(option: str, values: str | Iterable[str] | None, registry: str) -> None:
    """A ``ValueError`` naming the option and the choices when a value is not registered."""
    if values is None:
        return
    table = _table(registry)
    for value in [values] if isinstance(values, str) else values:
        if value not in table:
            raise ValueError(f"{option}: {table.unknown_message(value)}")


def choice_command(choices: dict[str, str]) -> type[TyperCommand]:
    """A command class whose options named in ``choices`` (parameter -> registry) list
    the registry's names in their help and are checked against them."""

    class RegistryChoiceCommand(HelpCommand):
        def format_help(self, ctx: Any, formatter: Any) -> None:
            # Read the registries only now: building the command tree stays cheap.
            for param in self.params:
                if param.name in choices and hasattr(param, "help"):
                    listed = ", ".join(registry_names(choices[param.name]))
                    base = (param.help or "").split(" Choices: ")[0]
                    param.help = f"{base} Choices: {listed}."
            super().format_help(ctx, formatter)

        def invoke(self, ctx: Any) -> Any:
            for param in self.params:
                if param.name in choices:
                    option = (getattr(param, "opts", None) or [param.name])[0]
                    check_choices(option, ctx.params.get(param.name), choices[param.name])
            return super().invoke(ctx)

    return RegistryChoiceCommand
