"""LLM-free training queries: spans cropped from the passage itself (TWOLAR, ICT).

A cropped span shares its words with its passage, so it teaches lexical matching more
than paraphrase; it is fast, needs no model and is fully deterministic: each passage's
crops depend only on the seed and the docid, never on which other passages are cropped
or in which order (so shards and reruns agree).
"""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from rankdistill.data.records import Document
from rankdistill.generation.records import GeneratedQuery

CropStyle = Literal["keyword", "question", "tail"]
METHOD = "crop"

# Words per crop by style: short head-like keywords, mid-length spans, long tail spans.
SPAN_WORDS: dict[str, tuple[int, int]] = {"keyword": (2, 4), "question": (5, 10), "tail": (10, 18)}
# Keyword crops skip these, so "the of a" never becomes a query.
_STOPWORDS = frozenset(
    "a an and are as at be by for from has have in is it its of on or that the this to was "  # noqa: SIM905
    "were which with".split()
)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_WORD = re.compile(r"[\w'’-]+")


@dataclass(frozen=True)
class CropOptions:
    style: CropStyle = "question"
    per_passage: int = 1
    min_passage_words: int = 20


def seeded_rng(seed: int, key: str) -> random.Random:
    """A generator that depends only on ``seed`` and ``key`` (not on Python's hash salt)."""
    digest = hashlib.sha256(f"{seed}:{key}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def sample_passages(corpus: Mapping[str, Document], n: int | None, seed: int) -> list[str]:
    """``n`` docids drawn without replacement, the same for the same seed and corpus."""
    order = sorted(corpus, key=lambda d: hashlib.sha256(f"{seed}:{d}".encode()).hexdigest())
    return order if n is None else order[:n]


def crop_query(text: str, rng: random.Random, style: CropStyle) -> str | None:
    """One span of one sentence of ``text``; ``None`` when the text is too short."""
    sentences = [s for s in _SENTENCE_END.split(text) if len(_WORD.findall(s)) >= 3]
    if not sentences:
        return None
    words = _WORD.findall(rng.choice(sentences))
    if style == "keyword":
        words = [w for w in words if w.lower() not in _STOPWORDS]
    low, high = SPAN_WORDS[style]
    if len(words) < low:
        return None
    size = rng.randint(low, min(high, len(words)))
    start = rng.randint(0, len(words) - size)
    return " ".join(words[start : start + size]).lower()


def crop_queries(
    corpus: Mapping[str, Document],
    docids: list[str],
    options: CropOptions,
    seed: int,
) -> list[GeneratedQuery]:
    """``options.per_passage`` crops of each passage in ``docids`` (short passages skipped)."""
    out: list[GeneratedQuery] = []
    for docid in docids:
        doc = corpus[docid]
        if len(_WORD.findall(doc.text)) < options.min_passage_words:
            continue
        rng = seeded_rng(seed, docid)
        for i in range(options.per_passage):
            text = crop_query(doc.text, rng, options.style)
            if text:
                out.append(GeneratedQuery(f"{METHOD}-{docid}-{i}", text, docid, METHOD))
    return out
