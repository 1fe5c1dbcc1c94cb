"""What a pipeline stage is: a name, the config it reads, its inputs and its typed output.

A stage's function takes the :class:`~rankdistill.pipeline.context.RunContext` and
returns an instance of its output dataclass. The runner stores that output in the
stage's ``_done.json``; the stages after it read it back, typed, with
``ctx.output(STAGE)`` instead of spelling dict keys and file paths themselves.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from pydantic import TypeAdapter, ValidationError

if TYPE_CHECKING:
    from rankdistill.config import RunConfig
    from rankdistill.pipeline.context import RunContext

OutputT = TypeVar("OutputT")


@dataclass(frozen=True, eq=False)
class Stage(Generic[OutputT]):
    """One step of ``rankdistill run``.

    ``reads``: the config sections (dotted paths) its outputs depend on: a change there
    re-runs it. ``upstream``: the stages whose outputs it reads; when one of them is
    re-made, this stage runs again too. ``report``: the run report is rewritten after it.
    ``idle``: true for a config under which the stage has nothing to hand on; the stages
    downstream then do not depend on it, so their fingerprints and records are those of a
    pipeline without it (a run made before the stage existed stays valid).
    """

    name: str
    reads: tuple[str, ...]
    upstream: tuple[Stage[Any], ...]
    output: type[OutputT]
    run: Callable[[RunContext], OutputT]
    report: bool = False
    help: str = ""
    idle: Callable[[RunConfig], bool] | None = None

    def inputs(self, config: RunConfig) -> tuple[Stage[Any], ...]:
        """The upstream stages whose outputs this stage reads under ``config``."""
        return tuple(u for u in self.upstream if u.idle is None or not u.idle(config))

    def __repr__(self) -> str:
        return f"Stage({self.name!r})"


class OutputFormatError(ValueError):
    """A ``_done.json`` that does not hold the stage's output (written by another version)."""


def output_to_json(value: Any) -> Any:
    """A stage output as JSON-ready data; dataclass fields left at ``None`` are omitted."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: output_to_json(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if getattr(value, f.name) is not None
        }
    if isinstance(value, dict):
        return {k: output_to_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [output_to_json(v) for v in value]
    return value


@cache
def _adapter(kind: type) -> TypeAdapter[Any]:
    return TypeAdapter(kind)


def output_from_json(kind: type[OutputT], data: dict[str, Any], where: str) -> OutputT:
    """The typed output read back from a marker (keys it does not declare are ignored)."""
    try:
        return _adapter(kind).validate_python(data)
    except ValidationError as exc:
        raise OutputFormatError(f"{where}: not a {kind.__name__}: {exc}") from exc
