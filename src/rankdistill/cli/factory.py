"""Build rankers by name: the one place that knows every scorer class.

A scorer spec is ``KIND`` or ``KIND:MODEL``:

- ``bm25`` — BM25 over the collection (corpus statistics when data is given);
- ``bi-encoder[:MODEL]`` — a sentence-transformers bi-encoder (default ``minilm-l6``);
- ``student:DIR`` — a trained student directory (its ``rankdistill.json`` names the kind);
- a bare path to a student directory, or a packaged alias (its kind comes from
  :data:`ALIAS_KIND`).

Kinds come from explicit tables, never from a substring of a model name.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from rankdistill.data.records import RankingData
from rankdistill.scoring import Scorer

# What a packaged alias is when named as a scorer on its own.
ALIAS_KIND: dict[str, str] = {"minilm-l6": "bi-encoder"}


def _bm25(model: str | None, device: str, data: RankingData | None) -> Scorer:
    from rankdistill.retrieval.bm25 import BM25Scorer

    return BM25Scorer(corpus=data.corpus if data is not None else None)


def _bi_encoder(model: str | None, device: str, data: RankingData | None) -> Scorer:
    from rankdistill.retrieval.dense import BiEncoderScorer

    return BiEncoderScorer(model or "minilm-l6", device=device)


def _student(model: str | None, device: str, data: RankingData | None) -> Scorer:
    if not model:
        raise ValueError("a student scorer needs a directory: student:PATH")
    return load_student(model, device=device)


SCORER_BUILDERS: dict[str, Callable[[str | None, str, RankingData | None], Scorer]] = {
    "bm25": _bm25,
    "bi-encoder": _bi_encoder,
    "student": _student,
    "cross-encoder": _student,
}


def load_student(directory: str | Path, device: str = "cpu") -> Scorer:
    """Load any saved student; its ``rankdistill.json`` says which class reads it."""
    from rankdistill.students import STUDENTS

    meta_path = Path(directory) / "rankdistill.json"
    if not meta_path.is_file():
        raise FileNotFoundError(f"{directory}: not a rankdistill student (no rankdistill.json)")
    kind = json.loads(meta_path.read_text(encoding="utf-8")).get("kind", "cross-encoder")
    if kind not in STUDENTS:
        known = sorted(STUDENTS)
        raise ValueError(f"{meta_path}: field 'kind': unknown student {kind!r} (known: {known})")
    return STUDENTS[kind].load(directory, device=device)


def build_scorer(spec: str, device: str = "auto", data: RankingData | None = None) -> Scorer:
    """A :class:`Scorer` from a spec string (see the module docstring)."""
    from rankdistill.utils import resolve_device

    device = resolve_device(device)
    kind, _, model = spec.partition(":")
    if kind in SCORER_BUILDERS:
        return SCORER_BUILDERS[kind](model or None, device, data)
    if (Path(spec) / "rankdistill.json").is_file():
        return load_student(spec, device=device)
    if spec in ALIAS_KIND:
        return SCORER_BUILDERS[ALIAS_KIND[spec]](spec, device, data)
    raise ValueError(
        f"unknown scorer {spec!r}: use one of {sorted(SCORER_BUILDERS)} (as KIND or KIND:MODEL), "
        f"a student directory, or an alias in {sorted(ALIAS_KIND)}"
    )
