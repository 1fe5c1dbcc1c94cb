"""The document model of every report: sections of plain blocks, and value formatting.

A report is built once as :class:`Section` s of :class:`Paragraph`, :class:`Table`,
:class:`Figure` and :class:`Code` blocks holding plain (unescaped) text, then rendered by
:mod:`rankdistill.evaluation.reporting.markdown` and
:mod:`rankdistill.evaluation.reporting.html_page`.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Paragraph:
    """Plain text; ``style`` is ``"text"``, ``"note"`` or ``"omitted"``.

    With ``inline_code`` the text's backtick-delimited spans (`` `like this` ``) are code
    (the one markup a paragraph can hold, for text written with it, such as run notes);
    otherwise a backtick is an ordinary character.
    """

    text: str
    style: str = "text"
    inline_code: bool = False

    def spans(self) -> list[tuple[str, bool]]:
        """The text as (text, is_code) runs, in order."""
        if not self.inline_code:
            return [(self.text, False)]
        parts = _CODE_SPAN.split(self.text)
        # re.split with one group alternates text and code: even indexes are text.
        return [(part, i % 2 == 1) for i, part in enumerate(parts) if part]


_CODE_SPAN = re.compile(r"`([^`]+)`")


@dataclass(frozen=True)
class Table:
    """A table of already formatted cells: ``labels`` leading label columns, then values."""

    header: list[str]
    rows: list[list[str]]
    labels: int = 1
    compact: bool = False  # small key-value table: HTML lays these side by side


@dataclass(frozen=True)
class Figure:
    """A PNG written under the report folder; ``relpath`` is relative to that folder."""

    path: Path
    relpath: str
    caption: str


@dataclass(frozen=True)
class Code:
    """A verbatim block (collapsible in HTML)."""

    text: str
    summary: str
    language: str = ""


Block = Paragraph | Table | Figure | Code


@dataclass
class Section:
    """A titled run of blocks; an empty ``title`` renders the blocks without a heading."""

    title: str
    blocks: list[Block]


def omitted(what: str, reason: str) -> Paragraph:
    """The one line that stands for a section whose input is absent."""
    return Paragraph(f"{what} omitted because {reason}.", style="omitted")


def figure(path: Path, out_dir: Path, caption: str) -> Figure:
    """A :class:`Figure` of ``path``, linked relative to the report folder ``out_dir``."""
    return Figure(path, path.relative_to(out_dir).as_posix(), caption)


def format_metric(value: float | None) -> str:
    """A metric value with 4 decimals; ``–`` for a missing or undefined value."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:.4f}"


def format_p_value(p: float) -> str:
    if math.isnan(p):
        return "–"
    return "<0.0001" if p < 1e-4 else f"{p:.4f}"


def _format_float(value: float) -> str:
    if math.isnan(value):
        return "–"
    if math.isinf(value):
        return "∞" if value > 0 else "-∞"
    magnitude = abs(value)
    if magnitude >= 1000:
        return f"{value:,.0f}"
    if magnitude >= 100:
        return f"{value:.1f}"
    if magnitude >= 1:
        return f"{value:.2f}"
    return f"{value:.4f}"


def format_value(value: Any) -> str:
    """Any statistic: integers with thousands separators, floats with a precision that
    suits their size, lists joined, ``None`` / nan as ``–``."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return _format_float(value)
    if isinstance(value, list | tuple | set):
        return ", ".join(format_value(v) if not isinstance(v, str) else v for v in value)
    return str(value)


def label(key: str) -> str:
    """A statistic's key as a label: underscores become spaces."""
    return str(key).replace("_", " ")
