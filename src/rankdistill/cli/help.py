"""Help pages in the usual shape: ``--config PATH``, ``MODEL_DIR``, flags without a type.

typer shows every option's Python type (``<list[Path]>``, ``<bool>``) and wraps required
arguments in braces in the usage line. The command classes here give each option that
declares no metavar one derived from its type, show flags and arguments without one, and
join the lines of a help paragraph, so that rich wraps it to the terminal's width
instead of breaking it where the docstring did.
"""

from __future__ import annotations

import re
from typing import Any

from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption

# typer's type label (the part inside <...>) -> the metavar a user reads.
_TYPE_METAVARS = {
    "int": "INTEGER",
    "int range": "INTEGER",
    "float": "NUMBER",
    "float range": "NUMBER",
    "path": "PATH",
    "file": "FILE",
    "dir": "DIR",
}
_LIST = re.compile(r"^list\[(.*)\]$")
# Choices longer than this are named by the option (FORMAT) and listed in its help: a wide
# value column would squeeze every help text on the page.
_MAX_CHOICES_WIDTH = 16


def reflow(help_text: str | None) -> str | None:
    """Each paragraph of ``help_text`` on one line (paragraphs led by ``\\b`` kept as is)."""
    if not help_text:
        return help_text
    paragraphs = help_text.strip().split("\n\n")
    return "\n\n".join(
        p if p.startswith("\b") else " ".join(p.split()) for p in map(str.strip, paragraphs)
    )


def _type_label(option: TyperOption, ctx: Any) -> str:
    """typer's label of the option's type without ``<>`` and ``list[]``: ``int``, ``a|b``."""
    label = option.display_type(ctx).removeprefix("<").removesuffix(">")
    listed = _LIST.match(label)
    return listed.group(1) if listed else label


def option_metavar(option: TyperOption, ctx: Any) -> str:
    """What follows ``option`` on a command line: ``[a|b]`` for short choices, else a word."""
    label = _type_label(option, ctx)
    if "|" in label and len(label) + 2 <= _MAX_CHOICES_WIDTH:
        return f"[{label}]"
    if label in _TYPE_METAVARS:
        return _TYPE_METAVARS[label]
    # Free text (or many choices): the option's name says what goes there (--tag TAG).
    return (option.name or "value").upper()


def _list_choices_in_help(option: TyperOption, ctx: Any) -> None:
    label = _type_label(option, ctx)
    if "|" not in label or option.metavar == f"[{label}]":
        return
    choices = label.replace("|", ", ")
    if choices not in (option.help or ""):
        option.help = f"{option.help or ''} Choices: {choices}.".strip()


def set_metavars(params: list[Any], ctx: Any) -> None:
    """Give ``params`` (in place) the metavars the help page shows."""
    for param in params:
        if isinstance(param, TyperOption):
            if param.is_flag or param.count:
                param.metavar = ""  # a flag takes no value
                continue
            if param.metavar is None:
                param.metavar = option_metavar(param, ctx)
            _list_choices_in_help(param, ctx)
        elif isinstance(param, TyperArgument):
            if param.metavar is None:
                param.metavar = (param.name or "arg").upper()
            # The argument's name column already says what it is: no type column.
            param.display_type_rich = lambda ctx: None  # type: ignore[method-assign]


def usage_pieces(command: Any, ctx: Any) -> list[str]:
    """``[OPTIONS] MODEL_DIR [CONFIG] RUNS...``: required bare, optional in brackets."""
    pieces = [command.options_metavar] if command.options_metavar else []
    for param in command.get_params(ctx):
        if isinstance(param, TyperArgument):
            name = param.metavar or (param.name or "arg").upper()
            name = name if param.required else f"[{name}]"
            variadic = param.nargs != 1 and not name.endswith("...")
            pieces.append(f"{name}..." if variadic else name)
    return pieces


class _HelpPage:
    """What a command and a group share: reflowed paragraphs, real metavars."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.help = reflow(self.help)  # type: ignore[attr-defined]

    def format_help(self, ctx: Any, formatter: Any) -> None:
        set_metavars(self.get_params(ctx), ctx)  # type: ignore[attr-defined]
        super().format_help(ctx, formatter)  # type: ignore[misc]


class HelpCommand(_HelpPage, TyperCommand):
    """A command whose help page has real metavars and reflowed paragraphs."""

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        return usage_pieces(self, ctx)


class HelpGroup(_HelpPage, TyperGroup):
    """A command group whose help page has real metavars and reflowed paragraphs."""

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        return [*usage_pieces(self, ctx), self.subcommand_metavar]
