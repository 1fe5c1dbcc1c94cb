"""Robust parsing of LLM answers: ranked identifier lists and 0-3 grades.

LLMs, small ones especially, answer in many shapes: ``[3] > [1] > [2]``, ``3, 1, 2``,
``[3][1]``, ``Passage 3 ... Passage 1``, one identifier per line, a sentence around the
list, a list cut off by the token limit, repeated or invented identifiers, or "none".
The parser keeps what is usable and records what was wrong, so labelling never crashes
on an answer and the statistics can report parse failures by kind.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# Parse problem kinds (keys of LabelRecord.parse_problems and of the statistics).
EMPTY = "empty"
NO_IDENTIFIERS = "no_identifiers"
TRUNCATED = "truncated"
REPEATED = "repeated"
UNKNOWN = "unknown"
EXPLICIT_NONE = "explicit_none"

# Identifier shapes, most specific first; the first shape that occurs in an answer is
# the one read, so "[3] > [1]" is never also read as the bare numbers 3 and 1 and a
# "1." list enumeration before "[3]" is ignored.
_BRACKETED = re.compile(r"\[\s*(\d+)\s*\]")
_NAMED = re.compile(r"\b(?:passage|document|doc|id|identifier)s?\s*(?:#|no\.?)?\s*(\d+)\b", re.I)
_HASHED = re.compile(r"#\s*(\d+)\b")
_BARE = re.compile(r"(?<![\w.\-])(\d+)(?![\w]|\.\d)")
_SHAPES = (_BRACKETED, _NAMED, _HASHED, _BARE)
_ENUMERATION = re.compile(r"^[ \t]*\d+[.)][ \t]+(?=\S)", re.M)

# An answer that ends inside an identifier or right after a separator was cut off.
_CUT_OFF_TAIL = re.compile(r"(\[\s*\d*|>|,|\bpassage)\s*$", re.I)
_NONE_ANSWER = re.compile(
    r"^\W*(none|nothing|no passages?|no relevant|no passage is relevant|n/?a)\b", re.I
)
_GRADE = re.compile(r"(?<![\d.])([0-3])(?!\d|\.\d)")


@dataclass
class ParsedRanking:
    """What a ranking answer says, and what was wrong with it.

    ``order`` holds 0-based passage indices in the order listed (valid, first occurrence
    only). ``repeated`` holds 0-based indices listed more than once (one entry per extra
    occurrence); ``unknown`` the identifiers *as written* (1-based) that name no shown
    passage; ``missing`` the 0-based indices of shown passages not listed, ascending.
    """

    raw: str
    num_passages: int
    order: list[int] = field(default_factory=list)
    repeated: list[int] = field(default_factory=list)
    unknown: list[int] = field(default_factory=list)
    missing: list[int] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when the answer needed no repair (an explicit "none" is a valid answer)."""
        return not (set(self.problems) - {EXPLICIT_NONE})


def _identifiers(text: str) -> list[int]:
    for shape in _SHAPES:
        # A bare number starting a line as "1. " or "2) " is a list enumeration, not an
        # identifier ("1. How long does it take..." has none; "1. 3" lists passage 3).
        searched = _ENUMERATION.sub("", text) if shape is _BARE else text
        found = [int(m) for m in shape.findall(searched)]
        if found:
            return found
    return []


def parse_ranking(
    text: str | None, num_passages: int, finish_reason: str | None = None
) -> ParsedRanking:
    """Parse a ranked list of 1-based identifiers over ``num_passages`` shown passages.

    ``finish_reason="length"`` (the backend hit its token limit) marks the answer as
    truncated even when it happens to end cleanly.
    """
    raw = text or ""
    parsed = ParsedRanking(raw=raw, num_passages=num_passages)
    stripped = raw.strip()
    if not stripped:
        parsed.problems.append(EMPTY)
    identifiers = _identifiers(stripped)
    seen: set[int] = set()
    for ident in identifiers:
        index = ident - 1
        if not 0 <= index < num_passages:
            parsed.unknown.append(ident)
        elif index in seen:
            parsed.repeated.append(index)
        else:
            seen.add(index)
            parsed.order.append(index)
    parsed.missing = [i for i in range(num_passages) if i not in seen]
    if stripped and not identifiers:
        parsed.problems.append(EXPLICIT_NONE if _NONE_ANSWER.search(stripped) else NO_IDENTIFIERS)
    if finish_reason == "length" or (identifiers and _CUT_OFF_TAIL.search(stripped)):
        parsed.problems.append(TRUNCATED)
    if parsed.repeated:
        parsed.problems.append(REPEATED)
    if parsed.unknown:
        parsed.problems.append(UNKNOWN)
    return parsed


def parse_grade(text: str | None) -> int | None:
    """The first stand-alone digit 0-3 of an answer, or ``None`` when there is none."""
    match = _GRADE.search(text or "")
    return int(match.group(1)) if match else None
