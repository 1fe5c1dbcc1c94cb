"""Token Selection (RRA-BERT, SPEC 4.2): which tokens carry query terms found in the document.

A *term* is a word of the tokenizer's pre-tokenisation (so the word pieces ``run ##ning``
form the one word "running"), lower-cased, with leading and trailing punctuation stripped.
A query word is selected when the same term occurs among the document's words, and every
document word whose term occurs in the query is selected; all their tokens are marked.
Pure punctuation is never a term. Rules (``match_rule``):

- ``exact``: the lower-cased words must be equal;
- ``stem``: their English Snowball stems (PyStemmer) must be equal ("runs" ~ "running").

Stopwords ("the", "of", ...) are ignored by default (reconstructed: the paper does not say;
matching them would select most of every passage).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any, Literal

import torch
from torch import Tensor

MatchRule = Literal["exact", "stem"]

STOPWORDS_FILE = "stopwords_en.txt"


@lru_cache(maxsize=1)
def stopwords() -> frozenset[str]:
    """English function words (package data), so common words are not "matches"."""
    text = (resources.files("rankdistill.students") / STOPWORDS_FILE).read_text(encoding="utf-8")
    return frozenset(
        line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")
    )


_EDGE_PUNCTUATION = re.compile(r"^[\W_]+|[\W_]+$")


@lru_cache(maxsize=1)
def _stemmer() -> Any:
    import Stemmer

    return Stemmer.Stemmer("english")


@dataclass
class TokenSelector:
    """Builds the ``term_mask`` of (query, document) pairs from tokenizer encodings."""

    match_rule: MatchRule = "exact"
    ignore_stopwords: bool = True
    _stem_cache: dict[str, str] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if self.match_rule not in ("exact", "stem"):
            raise ValueError(f"match_rule must be 'exact' or 'stem', got {self.match_rule!r}")

    def term(self, word: str) -> str | None:
        """The matching key of a word, or ``None`` if it can never match."""
        word = _EDGE_PUNCTUATION.sub("", word.lower())
        if not word or (self.ignore_stopwords and word in stopwords()):
            return None
        if self.match_rule == "stem":
            if word not in self._stem_cache:
                self._stem_cache[word] = _stemmer().stemWord(word)
            return self._stem_cache[word]
        return word

    @staticmethod
    def words(encoding: Any) -> dict[tuple[int, int], list[int]]:
        """(sequence, word) -> token positions, for the query (0) and document (1) words."""
        spans: dict[tuple[int, int], list[int]] = {}
        pieces = zip(encoding.sequence_ids, encoding.word_ids, strict=True)
        for position, (seq, word) in enumerate(pieces):
            if seq is None or word is None:
                continue  # special or padding token
            spans.setdefault((seq, word), []).append(position)
        return spans

    def select(self, encoding: Any, query: str, document: str) -> list[bool]:
        """Per-token flags for one pair encoded as (query, document) with offsets."""
        texts = (query, document)
        terms: dict[tuple[int, int], str] = {}
        spans = self.words(encoding)
        for key, positions in spans.items():
            start = encoding.offsets[positions[0]][0]
            end = encoding.offsets[positions[-1]][1]
            term = self.term(texts[key[0]][start:end])
            if term is not None:
                terms[key] = term
        query_terms = {t for (seq, _), t in terms.items() if seq == 0}
        doc_terms = {t for (seq, _), t in terms.items() if seq == 1}
        shared = query_terms & doc_terms
        flags = [False] * len(encoding.ids)
        for key, positions in spans.items():
            if terms.get(key) in shared:
                for position in positions:
                    flags[position] = True
        return flags

    def term_mask(
        self,
        encodings: Sequence[Any],
        queries: Sequence[str],
        documents: Sequence[str],
        length: int,
        padding_side: str = "right",
    ) -> Tensor:
        """[pairs, length] bool mask, padded like the token ids."""
        mask = torch.zeros(len(encodings), length, dtype=torch.bool)
        pairs = zip(encodings, queries, documents, strict=True)
        for row, (encoding, query, document) in enumerate(pairs):
            flags = torch.tensor(self.select(encoding, query, document), dtype=torch.bool)
            if padding_side == "left":
                mask[row, length - len(flags) :] = flags
            else:
                mask[row, : len(flags)] = flags
        return mask
