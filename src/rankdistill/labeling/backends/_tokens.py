"""Helpers shared by the local backends for next-token scoring of candidate answers.

A candidate answer such as ``"Yes"`` can start the reply as the token ``"Yes"`` or, with
tokenizers that fold the leading space into the word, as ``" Yes"``. Both mean the same
answer, so a candidate's score is the **log of the summed probability** of its distinct
first-token variants (``logsumexp`` over the variants): the probability that the reply
starts with that answer, whichever way the model spells the space. Taking the maximum
instead would under-count a model that splits its mass between the two spellings.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

# Encodes text to token ids without adding special tokens.
Encoder = Callable[[str], list[int]]
# Decodes one token id to its text.
Decoder = Callable[[int], str]


def candidate_token_variants(candidate: str, encode: Encoder, decode: Decoder) -> list[int]:
    """Distinct first-token ids of ``candidate`` and of ``" " + candidate``.

    A variant whose first token is only whitespace (a tokenizer that splits the space off
    on its own) is dropped: that token says nothing about the answer.
    """
    if not candidate or not candidate.strip():
        raise ValueError(f"candidate answers must be non-empty strings, got {candidate!r}")
    variants: list[int] = []
    for text in (candidate, " " + candidate):
        ids = encode(text)
        if not ids:
            continue
        first = ids[0]
        if not decode(first).strip():
            continue
        if first not in variants:
            variants.append(first)
    if not variants:
        raise ValueError(f"candidate {candidate!r} does not tokenize to a usable first token")
    return variants


def logsumexp(values: Sequence[float]) -> float:
    """Numerically stable ``log(sum(exp(values)))``."""
    top = max(values)
    if math.isinf(top):
        return top
    return top + math.log(sum(math.exp(v - top) for v in values))


def candidate_variant_table(
    candidates: Sequence[str], encode: Encoder, decode: Decoder
) -> dict[str, list[int]]:
    """``candidate -> [first-token ids]`` for every candidate."""
    return {c: candidate_token_variants(c, encode, decode) for c in candidates}


def hf_candidate_variant_table(tokenizer: Any, candidates: Sequence[str]) -> dict[str, list[int]]:
    """:func:`candidate_variant_table` through a Hugging Face tokenizer (no special tokens)."""
    return candidate_variant_table(
        candidates,
        lambda text: list(tokenizer(text, add_special_tokens=False)["input_ids"]),
        lambda token_id: tokenizer.decode([token_id]),
    )


def variant_logprobs(variants: Mapping[str, Sequence[int]], logprobs: Any) -> dict[str, float]:
    """``candidate -> logsumexp`` of its variants' log-probabilities.

    ``logprobs`` is anything indexed by token id (a vocabulary-sized array or tensor row,
    or a ``{token_id: logprob}`` dict).
    """
    return {c: logsumexp([float(logprobs[t]) for t in ids]) for c, ids in variants.items()}
