"""Model cards (README.md) and the ``rankdistill.json`` metadata of saved students."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rankdistill import __version__
from rankdistill.utils import atomic_write_json, atomic_write_text

METADATA_FILE = "rankdistill.json"

# Card sections in the order they are rendered; any other key goes under "Other".
CARD_SECTIONS: dict[str, str] = {
    "teacher": "Teacher",
    "data": "Training data",
    "losses": "Losses",
    "training": "Training",
    "metrics": "Metrics",
}


def created_by() -> str:
    return f"rankdistill {__version__}"


def write_metadata(directory: Path, metadata: dict[str, Any]) -> Path:
    """``rankdistill.json``: which student class reads this directory, and how."""
    return atomic_write_json(directory / METADATA_FILE, {**metadata, "created_by": created_by()})


def read_metadata(directory: str | Path) -> dict[str, Any]:
    path = Path(directory) / METADATA_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{directory}: not a rankdistill student (no {METADATA_FILE})")
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or "kind" not in data:
        raise ValueError(f"{path}: field 'kind': missing (not a rankdistill student)")
    return data


# Sections of measured values, shown to four decimals; every other section holds
# configured values, shown exactly (a learning rate of 7e-05 must not read 0.0001).
ROUNDED_SECTIONS = frozenset({"metrics"})


def _render_value(value: Any, rounded: bool = False) -> str:
    if isinstance(value, dict):
        return "\n".join(f"- **{k}**: {_inline(v, rounded)}" for k, v in value.items())
    if isinstance(value, list):
        return "\n".join(f"- {_inline(v, rounded)}" for v in value)
    return _inline(value, rounded)


def _inline(value: Any, rounded: bool = False) -> str:
    if isinstance(value, float):
        # repr: the shortest text that reads back as the same float.
        return f"{value:.4f}" if rounded else repr(value)
    if isinstance(value, dict | list):
        return "`" + json.dumps(value, ensure_ascii=False) + "`"
    return str(value)


def render_model_card(metadata: dict[str, Any], card: dict[str, Any] | None) -> str:
    """A Markdown model card: what the model is, how it was trained, how to load it."""
    card = dict(card or {})
    lines = [
        f"# {metadata.get('kind', 'student')} re-ranker (rankdistill)",
        "",
        f"Backbone: `{metadata.get('backbone')}`; max length {metadata.get('max_length')}; "
        f"trained as `{metadata.get('trained_as', metadata.get('kind'))}`; "
        f"created by {created_by()}.",
        "",
    ]
    for key, title in CARD_SECTIONS.items():
        if key in card:
            rounded = key in ROUNDED_SECTIONS
            lines += [f"## {title}", "", _render_value(card.pop(key), rounded), ""]
    if card:
        lines += ["## Other", "", _render_value(card), ""]
    lines += [
        "## Usage",
        "",
        "```python",
        "from sentence_transformers import CrossEncoder",
        "scores = CrossEncoder('PATH').predict([(query, passage), ...])  # raw logits",
        "```",
        "",
        "or `rankdistill.students.CrossEncoderStudent.load('PATH').score(query, passages)`.",
        "",
    ]
    return "\n".join(lines)


def write_model_card(
    directory: Path, metadata: dict[str, Any], card: dict[str, Any] | None
) -> Path:
    return atomic_write_text(directory / "README.md", render_model_card(metadata, card))
