"""Errors for bad input: each names the file, the line and the field at fault."""

from __future__ import annotations

from pathlib import Path


class DataFormatError(ValueError):
    """Malformed input. ``str(err)`` reads ``path:line: field 'name': what is wrong``."""

    def __init__(
        self,
        path: str | Path | None,
        message: str,
        *,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        self.path = None if path is None else str(path)
        self.line = line
        self.field = field
        self.problem = message
        where = self.path or "<input>"
        if line is not None:
            where += f":{line}"
        what = f"field {field!r}: {message}" if field else message
        super().__init__(f"{where}: {what}")
