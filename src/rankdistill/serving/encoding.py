"""Turning (query, document) pairs into token ids, per student kind, and padding batches.

Truncation rule of cross-encoders: the query is kept whole up to ``max_query_tokens``
(default half of ``max_length``; a longer query is cut at that token), and the document is
cut so that the whole input fits in ``max_length`` tokens. Cuts happen at token boundaries
of the original text, so nothing is re-spelled. RRA-GPT follows its student's own rule
(see :class:`RRAGPTPairs`).

Encoders return unpadded ids; :func:`pad_batch` right-pads the pairs of one batch to the
longest of them, which is why the engine sorts pairs by length before batching.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from rankdistill.serving.modules import SCORING_MODULES

Encoded = dict[str, list[list[int]]]


def clip_text(tokenizer: Any, text: str, max_tokens: int) -> str:
    """``text`` cut after its first ``max_tokens`` tokens (no special tokens counted)."""
    if max_tokens <= 0:
        return ""
    # A token covers at least one byte for every tokenizer we serve, so short texts
    # skip tokenisation altogether.
    if len(text.encode("utf-8")) <= max_tokens:
        return text
    enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    offsets = enc["offset_mapping"]
    if len(offsets) <= max_tokens:
        return text
    return text[: offsets[max_tokens - 1][1]]


class CrossEncoderPairs:
    """``[CLS] query [SEP] document [SEP]`` (the tokenizer's own pair format)."""

    def __init__(self, tokenizer: Any, max_length: int, max_query_tokens: int | None = None):
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.max_query_tokens = max_query_tokens or max_length // 2
        self.input_names = [
            n
            for n in ("input_ids", "attention_mask", "token_type_ids")
            if n in tokenizer.model_input_names
        ]

    def overhead_tokens(self, query: str) -> int:
        """Tokens of a pair that are not the document's: the (clipped) query and specials."""
        query_tokens = len(self.tokenizer(query, add_special_tokens=False)["input_ids"])
        specials = self.tokenizer.num_special_tokens_to_add(pair=True)
        return min(query_tokens, self.max_query_tokens) + specials

    def encode(self, queries: Sequence[str], documents: Sequence[str]) -> Encoded:
        clipped: dict[str, str] = {}
        for q in set(queries):
            clipped[q] = clip_text(self.tokenizer, q, self.max_query_tokens)
        enc = self.tokenizer(
            [clipped[q] for q in queries],
            list(documents),
            truncation="only_second",
            max_length=self.max_length,
            padding=False,
            return_attention_mask=False,
            return_token_type_ids="token_type_ids" in self.input_names,
        )
        out: Encoded = {"input_ids": enc["input_ids"]}
        if "token_type_ids" in self.input_names:
            out["token_type_ids"] = enc["token_type_ids"]
        return out


class RRAGPTPairs:
    """The RRA-GPT prompt ``Query: {q}\nDocument: {d}\nRelevant:``, cut as the student cuts it
    (``rankdistill.students.decoder.fit_prompt``). No special tokens are added."""

    input_names: ClassVar[list[str]] = ["input_ids", "attention_mask"]

    def __init__(
        self,
        tokenizer: Any,
        max_length: int,
        max_query_tokens: int | None = None,
        template: str | None = None,
    ):
        from rankdistill.students.rra_gpt import PROMPT_TEMPLATE

        self.tokenizer = tokenizer
        self.max_length = max_length
        self.template = template or PROMPT_TEMPLATE

    def encode(self, queries: Sequence[str], documents: Sequence[str]) -> Encoded:
        from rankdistill.students.decoder import fit_prompt, split_template

        parts = [
            split_template(self.template, q, d) for q, d in zip(queries, documents, strict=True)
        ]
        fixed: dict[tuple[str, str], tuple[list[int], list[int]]] = {}
        for head, _, tail in parts:
            if (head, tail) not in fixed:
                ids = self.tokenizer([head, tail], add_special_tokens=False)["input_ids"]
                fixed[(head, tail)] = (ids[0], ids[1])
        doc_ids = self.tokenizer([d for _, d, _ in parts], add_special_tokens=False)["input_ids"]
        rows = []
        for (head, _, tail), doc in zip(parts, doc_ids, strict=True):
            head_ids, tail_ids = fixed[(head, tail)]
            rows.append(fit_prompt(head_ids, doc, tail_ids, self.max_length))
        return {"input_ids": rows}


def make_pair_encoder(
    kind: str, tokenizer: Any, max_length: int, manifest: dict[str, Any]
) -> CrossEncoderPairs | RRAGPTPairs:
    """The encoder for ``kind`` (registry :data:`PAIR_ENCODERS`)."""
    if kind not in PAIR_ENCODERS:
        raise ValueError(f"no pair encoder for kind {kind!r} (known: {', '.join(PAIR_ENCODERS)})")
    extra: dict[str, Any] = {}
    if kind == "rra-gpt" and "prompt_template" in manifest:
        extra["template"] = manifest["prompt_template"]
    return PAIR_ENCODERS[kind](tokenizer, max_length, manifest.get("max_query_tokens"), **extra)


PAIR_ENCODERS: dict[str, type[CrossEncoderPairs] | type[RRAGPTPairs]] = {
    "cross-encoder": CrossEncoderPairs,
    "rra-bert": CrossEncoderPairs,
    "rra-gpt": RRAGPTPairs,
}
assert set(PAIR_ENCODERS) == set(SCORING_MODULES), "every servable kind needs both"


def pad_batch(
    encoded: Encoded, indices: Sequence[int], input_names: Sequence[str], pad_id: int
) -> dict[str, np.ndarray]:
    """Right-pad the pairs ``indices`` of ``encoded`` into int64 arrays [batch, longest]."""
    rows = [encoded["input_ids"][i] for i in indices]
    width = max(len(r) for r in rows)
    ids = np.full((len(rows), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(rows), width), dtype=np.int64)
    for j, row in enumerate(rows):
        ids[j, : len(row)] = row
        mask[j, : len(row)] = 1
    batch = {"input_ids": ids, "attention_mask": mask}
    if "token_type_ids" in input_names:
        types = np.zeros((len(rows), width), dtype=np.int64)
        for j, i in enumerate(indices):
            row = encoded["token_type_ids"][i]
            types[j, : len(row)] = row
        batch["token_type_ids"] = types
    return {name: batch[name] for name in input_names}
