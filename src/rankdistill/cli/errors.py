"""One place that turns a user's mistake into one line on stderr and exit status 2.

Bad data (:class:`~rankdistill.data.errors.DataFormatError`), a missing file, a config
that does not validate, labels that fail the quality gate and an LLM backend that cannot
be reached are the user's to fix: a traceback would only hide the line that says what
to do. ``--debug`` (or ``RANKDISTILL_DEBUG=1``) shows the traceback instead.
"""

from __future__ import annotations

import os
from typing import Any

import typer
from typer.exceptions import TyperException

from rankdistill.cli.help import HelpGroup

DEBUG_ENV = "RANKDISTILL_DEBUG"
USER_ERROR_EXIT = 2


def user_error_message(exc: BaseException) -> str | None:
    """The one-line message of a user mistake; ``None`` for anything else (a bug)."""
    from pydantic import ValidationError

    from rankdistill.config import describe_validation_error
    from rankdistill.labeling.backends.errors import BackendError, BackendNotInstalledError

    if isinstance(exc, FileNotFoundError):
        if exc.filename is not None:
            return f"{exc.filename}: no such file or directory"
        return str(exc)
    if isinstance(exc, ValidationError):
        return f"{exc.title}: {describe_validation_error(exc)}"
    if isinstance(exc, BackendError | BackendNotInstalledError):
        return f"LLM backend: {exc}"
    if isinstance(exc, ValueError | IsADirectoryError | NotADirectoryError | PermissionError):
        return str(exc)  # DataFormatError, ConfigError, LabelQualityError are ValueErrors
    return None


def debug_requested(ctx: Any = None) -> bool:
    if os.environ.get(DEBUG_ENV, "").strip() not in ("", "0"):
        return True
    return bool(ctx is not None and ctx.meta.get(DEBUG_ENV))


def one_line(message: str) -> str:
    return " ".join(message.split())


class UserErrorGroup(HelpGroup):
    """The command group of ``rankdistill``: user mistakes exit 2 with one line."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, TyperException):
            raise
        except Exception as exc:
            message = user_error_message(exc)
            if message is None or debug_requested(ctx):
                raise
            typer.secho(f"error: {one_line(message)}", fg="red", err=True)
            raise typer.Exit(USER_ERROR_EXIT) from None
