"""Option groups that several commands share, declared once.

typer reads a command's flags from its signature; :func:`add_options` appends a group of
options to that signature and turns their values into what the command takes instead
(a loaded config, a data loader, ...).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Collection
from typing import Any


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
