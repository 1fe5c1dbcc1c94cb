"""Versioned prompt templates, shipped as YAML package data in ``labeling/prompts/``.

A template file holds ``id``, ``version``, ``description``, an optional ``system`` message,
a ``user`` message and, for listwise prompts, a ``passage_format`` that renders one
numbered passage. Placeholders are ``{query}``, ``{passages}`` / ``{passage}``, ``{num}``
and ``{verdict}``; a template using any other name is rejected when it is loaded, so a
typo fails at once instead of in the middle of a labelling run.

Rendering uses ``str.format_map`` on the *template* only: field values (queries and
passages, which may contain ``{`` or ``}``) are inserted verbatim and never re-parsed.
"""

from __future__ import annotations

import string
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from rankdistill.data.errors import DataFormatError
from rankdistill.labeling.backends.base import ChatMessages

TEMPLATE_FIELDS = frozenset({"query", "passages", "passage", "num", "verdict"})
PASSAGE_FIELDS = frozenset({"index", "passage"})
_REQUIRED_KEYS = ("id", "version", "user")
_ALLOWED_KEYS = frozenset({"id", "version", "description", "system", "user", "passage_format"})


def placeholders(text: str) -> set[str]:
    """The field names a format string uses (``{{`` escapes are not fields)."""
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


def clean_passage(text: str, max_words: int | None = None) -> str:
    """One line of text, cut to ``max_words`` words: a numbered list stays one line per item."""
    words = text.split()
    if max_words is not None and len(words) > max_words:
        words = words[:max_words]
    return " ".join(words)


@dataclass(frozen=True)
class PromptTemplate:
    """A chat prompt with named placeholders."""

    id: str
    version: str
    description: str
    user: str
    system: str | None = None
    passage_format: str = "[{index}] {passage}"

    @property
    def fields(self) -> set[str]:
        """Placeholders used by the system and user messages."""
        return placeholders(self.user) | placeholders(self.system or "")

    def format_passages(self, passages: Sequence[str]) -> str:
        """Numbered passages, one per line, identifiers starting at 1."""
        return "\n".join(
            self.passage_format.format_map({"index": i, "passage": clean_passage(text)})
            for i, text in enumerate(passages, start=1)
        )

    def render(self, **fields: Any) -> ChatMessages:
        """Chat messages with the fields filled in.

        ``passages`` may be a list of passage texts: it is numbered with
        ``passage_format`` and ``num`` is set to its length unless given.
        """
        values = dict(fields)
        passages = values.get("passages")
        if passages is not None and not isinstance(passages, str):
            values.setdefault("num", len(passages))
            values["passages"] = self.format_passages(passages)
        if isinstance(values.get("passage"), str):
            values["passage"] = clean_passage(values["passage"])
        missing = self.fields - values.keys()
        if missing:
            raise KeyError(f"template {self.id!r} needs field(s) {sorted(missing)}")
        messages: ChatMessages = []
        if self.system:
            messages.append({"role": "system", "content": self.system.format_map(values)})
        messages.append({"role": "user", "content": self.user.format_map(values)})
        return messages


def _template_dir() -> Any:
    return resources.files("rankdistill.labeling") / "prompts"


def check_template_keys(
    data: Any, source: str, required: Collection[str], allowed: Collection[str]
) -> None:
    """A ``DataFormatError`` unless ``data`` (read from ``source``) is a mapping with every
    ``required`` key non-empty and no key outside ``allowed``."""
    if not isinstance(data, dict):
        raise DataFormatError(source, f"a template must be a mapping, got {type(data).__name__}")
    for key in required:
        if not data.get(key):
            raise DataFormatError(source, "required and missing or empty", field=key)
    unknown_keys = set(data) - set(allowed)
    if unknown_keys:
        raise DataFormatError(source, f"unknown key(s) {sorted(unknown_keys)}", field="template")


def check_placeholders(source: str, name: str, text: str, allowed: Collection[str]) -> None:
    """A ``DataFormatError`` naming field ``name`` when its format string ``text`` is
    malformed or uses a placeholder outside ``allowed``."""
    try:
        bad = placeholders(text) - set(allowed)
    except ValueError as exc:  # unbalanced braces
        raise DataFormatError(source, f"invalid format string: {exc}", field=name) from exc
    if bad:
        raise DataFormatError(
            source, f"unknown placeholder(s) {sorted(bad)}; allowed: {sorted(allowed)}", field=name
        )


def parse_template(data: Any, source: str) -> PromptTemplate:
    """Validate a template mapping read from ``source`` (a file name for errors)."""
    check_template_keys(data, source, _REQUIRED_KEYS, _ALLOWED_KEYS)
    template = PromptTemplate(
        id=str(data["id"]),
        version=str(data["version"]),
        description=str(data.get("description", "")),
        user=str(data["user"]),
        system=None if data.get("system") is None else str(data["system"]),
        passage_format=str(data.get("passage_format", "[{index}] {passage}")),
    )
    check_placeholders(source, "user", template.user, TEMPLATE_FIELDS)
    check_placeholders(source, "system", template.system or "", TEMPLATE_FIELDS)
    check_placeholders(source, "passage_format", template.passage_format, PASSAGE_FIELDS)
    return template


def load_template_file(path: str | Path) -> PromptTemplate:
    """A template from a YAML file of the user's (same schema as the shipped ones)."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise DataFormatError(path, f"invalid YAML: {exc}") from exc
    return parse_template(data, str(path))


def list_templates() -> list[str]:
    """Ids of the templates shipped with the package."""
    return sorted(
        p.name.removesuffix(".yaml") for p in _template_dir().iterdir() if p.name.endswith(".yaml")
    )


@cache
def load_template(template_id: str) -> PromptTemplate:
    """A shipped template by id, or a user's template given as a path to a YAML file."""
    if template_id.endswith((".yaml", ".yml")) and Path(template_id).is_file():
        return load_template_file(template_id)
    if template_id not in list_templates():
        raise KeyError(
            f"unknown prompt template {template_id!r}; shipped: {', '.join(list_templates())} "
            "(or give a path to a .yaml file)"
        )
    ref = _template_dir() / f"{template_id}.yaml"
    source = f"<template {template_id}>"
    try:
        data = yaml.safe_load(ref.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise DataFormatError(source, f"invalid YAML: {exc}") from exc
    template = parse_template(data, source)
    if template.id != template_id:
        raise DataFormatError(source, f"id {template.id!r} differs from the file name", field="id")
    return template
