"""Low-level reading helpers shared by the data readers.

Every helper raises :class:`DataFormatError` naming the file, the line (or JSON path) and
the field, so each reader stays a short list of field checks.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from rankdistill.data.errors import DataFormatError


def iter_text_lines(path: str | Path) -> Iterator[tuple[int, str]]:
    """``(line_number, line)`` for every non-blank line, without its line ending."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    with path.open(encoding="utf-8") as fh:
        for lineno, raw in enumerate(fh, start=1):
            line = raw.rstrip("\r\n")
            if line.strip():
                yield lineno, line


def split_tsv_line(line: str) -> list[str]:
    """Split one TSV line, undoing CSV-style quoting where the line uses it.

    Python's ``csv`` module writes a field holding a tab or a quote as ``"..."`` with
    doubled inner quotes (novel-eval's corpus.tsv is written so). A line whose quoting is
    not valid CSV (MS MARCO passages contain stray quotes) is split on tabs as it is.
    """
    if '"' not in line:
        return line.split("\t")
    try:
        return next(csv.reader([line], delimiter="\t", quotechar='"', strict=True))
    except csv.Error:
        return line.split("\t")


def iter_tsv(path: str | Path, columns: tuple[int, ...]) -> Iterator[tuple[int, list[str]]]:
    """Tab-separated rows whose column count is one of ``columns``."""
    for lineno, line in iter_text_lines(path):
        cells = split_tsv_line(line)
        if len(cells) not in columns:
            expected = " or ".join(str(c) for c in columns)
            raise DataFormatError(
                path, f"expected {expected} tab-separated columns, got {len(cells)}", line=lineno
            )
        yield lineno, cells


def iter_whitespace_rows(path: str | Path, columns: int) -> Iterator[tuple[int, list[str]]]:
    """Whitespace-separated rows with exactly ``columns`` cells (TREC run and qrels)."""
    for lineno, line in iter_text_lines(path):
        cells = line.split()
        if len(cells) != columns:
            raise DataFormatError(
                path,
                f"expected {columns} whitespace-separated columns, got {len(cells)}",
                line=lineno,
            )
        yield lineno, cells


def iter_jsonl_objects(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(line_number, object)`` for every non-blank line of a JSONL input file.

    Unlike :func:`rankdistill.utils.iter_jsonl` (made for resumable output), a cut-short
    last line of *input* is an error, not something to skip.
    """
    for lineno, line in iter_text_lines(path):
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataFormatError(path, f"invalid JSON: {exc.msg}", line=lineno) from exc
        if not isinstance(obj, dict):
            raise DataFormatError(
                path, f"expected a JSON object, got {type(obj).__name__}", line=lineno
            )
        yield lineno, obj


def load_json(path: str | Path) -> Any:
    """A whole JSON file; a syntax error names the line and column."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    try:
        with path.open(encoding="utf-8") as fh:
            return json.load(fh)
    except json.JSONDecodeError as exc:
        raise DataFormatError(
            path, f"invalid JSON at column {exc.colno}: {exc.msg}", line=exc.lineno
        ) from exc


def first_content_char(path: str | Path) -> str:
    """The first non-whitespace character of a file ('' when empty): sniffs JSON vs text."""
    with Path(path).open(encoding="utf-8") as fh:
        for line in fh:
            stripped = line.strip()
            if stripped:
                return stripped[0]
    return ""


class Where:
    """Names one location of an input for error messages: a line or a JSON path."""

    def __init__(self, path: str | Path, line: int | None = None, prefix: str = "") -> None:
        self.path = path
        self.line = line
        self.prefix = prefix

    def field_name(self, name: str) -> str:
        if not self.prefix or not name:
            return self.prefix or name
        return f"{self.prefix}{name}" if name.startswith("[") else f"{self.prefix}.{name}"

    def error(self, name: str, message: str) -> DataFormatError:
        return DataFormatError(self.path, message, line=self.line, field=self.field_name(name))


def pick_key(obj: Mapping[str, Any], names: tuple[str, ...], where: Where) -> Any:
    """The value of the first present key among ``names`` (aliases such as qid/_id)."""
    for name in names:
        if name in obj and obj[name] is not None:
            return obj[name]
    raise where.error(names[0], f"missing (accepted names: {', '.join(names)})")


def as_id(value: Any, name: str, where: Where) -> str:
    """An identifier: a non-empty string or an integer (JSON ids are often ints)."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise where.error(name, f"must be a string or integer id, got {type(value).__name__}")
    text = str(value).strip()
    if not text:
        raise where.error(name, "empty id")
    if any(ch.isspace() for ch in text):
        raise where.error(name, f"id {text!r} contains whitespace")
    return text


def as_text(value: Any, name: str, where: Where, *, allow_empty: bool = False) -> str:
    if not isinstance(value, str):
        raise where.error(name, f"must be a string, got {type(value).__name__}")
    if not allow_empty and not value.strip():
        raise where.error(name, "empty text")
    return value


def as_int(value: Any, name: str, where: Where, *, minimum: int | None = None) -> int:
    """An integer from an int, an integral float or a numeric string."""
    number: int
    if isinstance(value, bool):
        raise where.error(name, f"must be an integer, got {value!r}")
    if isinstance(value, int):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    elif isinstance(value, str):
        try:
            number = int(value.strip())
        except ValueError:
            try:
                as_float = float(value.strip())
            except ValueError:
                raise where.error(name, f"not an integer: {value!r}") from None
            if not as_float.is_integer():
                raise where.error(name, f"not an integer: {value!r}") from None
            number = int(as_float)
    else:
        raise where.error(name, f"must be an integer, got {value!r}")
    if minimum is not None and number < minimum:
        raise where.error(name, f"must be >= {minimum}, got {number}")
    return number


def as_float(value: Any, name: str, where: Where, *, minimum: float | None = None) -> float:
    if isinstance(value, bool):
        raise where.error(name, f"must be a number, got {value!r}")
    try:
        number = float(value.strip() if isinstance(value, str) else value)
    except (TypeError, ValueError):
        raise where.error(name, f"not a number: {value!r}") from None
    if math.isnan(number):
        raise where.error(name, "NaN is not allowed")
    if minimum is not None and number < minimum:
        raise where.error(name, f"must be >= {minimum}, got {number}")
    return number


def tsv_cell(value: str, what: str) -> str:
    """A value ready for a TSV line: CSV-quoted when it holds a tab or starts with a quote
    (so :func:`split_tsv_line` reads it back unchanged); a line break is an error."""
    if "\n" in value or "\r" in value:
        raise ValueError(f"{what} {value[:60]!r} contains a line break; write JSONL instead of TSV")
    if "\t" in value or value.startswith('"'):
        return '"' + value.replace('"', '""') + '"'
    return value


def check_token(value: str, what: str) -> str:
    """A value written into a whitespace-separated TREC file must be one token."""
    if not value or any(ch.isspace() for ch in value):
        raise ValueError(f"{what} {value!r} is empty or contains whitespace (TREC format)")
    return value
