"""Long documents as overlapping token windows: each window is scored, then aggregated.

A re-ranker sees at most ``max_length`` tokens of query + document; the rest of a longer
document is silently cut. Here a document is split instead into windows of
``window_tokens`` tokens that start every ``stride_tokens`` tokens (so consecutive windows
overlap by ``window_tokens - stride_tokens``), the last window ending at the document's
end. Every window is scored with the query and the document gets one score:

- ``max`` (default): the best window, as Cohere, Jina and vLLM advise for long documents;
- ``mean``: the mean over windows;
- ``first``: the first window only, i.e. plain truncation (one pair per document, the
  document passed whole so the scorer cuts it exactly as it was trained to).

``max_tokens_per_doc`` caps the work per document (Cohere's and Jina's request field of
that name): tokens past it are dropped before windowing.

Windows are text: each is the slice of the document between the character offsets of its
first and last token, with starts moved back to the beginning of a word so no window
opens on a word piece. Scoring windows as text lets any :class:`rankdistill.scoring.Scorer`
(a student, an ONNX engine, an LLM teacher) use them; :class:`WindowedScorer` wraps one.

Only a tokenizer is needed here (any Hugging Face fast tokenizer: offsets and word ids),
no model code, so serving, evaluation and labelling share it without importing torch.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Aggregation = Literal["max", "first", "mean"]
AGGREGATIONS: tuple[Aggregation, ...] = ("max", "first", "mean")
# A window narrower than this is never used: a long query must not turn one document
# into thousands of tiny windows.
MIN_WINDOW_TOKENS = 16


class WindowConfig(BaseModel):
    """How documents longer than the scorer's window are scored."""

    model_config = ConfigDict(extra="forbid")

    aggregation: Aggregation = Field(
        "max", description="max | mean over windows, or first = truncation (one window)."
    )
    window_tokens: int | None = Field(
        None,
        ge=MIN_WINDOW_TOKENS,
        description="Document tokens per window; None = as many as fit beside the query "
        "in the model's max length.",
    )
    stride_tokens: int | None = Field(
        None, ge=1, description="Tokens between window starts; None = half the window."
    )
    max_tokens_per_doc: int = Field(
        4096, ge=1, description="Document tokens considered at most; the rest is dropped."
    )

    @model_validator(mode="after")
    def _stride_within_window(self) -> WindowConfig:
        if (
            self.window_tokens is not None
            and self.stride_tokens is not None
            and self.stride_tokens > self.window_tokens
        ):
            raise ValueError(
                f"stride_tokens={self.stride_tokens} > window_tokens={self.window_tokens} "
                "would skip text between windows"
            )
        return self


@dataclass(frozen=True)
class WindowPlan:
    """The windows of a list of documents: ``texts`` in document order, ``counts`` per
    document and the document tokens of each window (``tokens``, same order as texts)."""

    texts: list[str]
    counts: list[int]
    tokens: list[int]

    def aggregate(self, scores: Sequence[float], aggregation: Aggregation) -> list[float]:
        """One score per document from the scores of its windows (``scores`` ~ ``texts``)."""
        if len(scores) != len(self.texts):
            raise ValueError(f"{len(scores)} scores for {len(self.texts)} windows")
        out: list[float] = []
        start = 0
        for count in self.counts:
            out.append(aggregate(scores[start : start + count], aggregation))
            start += count
        return out


def aggregate(scores: Sequence[float], aggregation: Aggregation) -> float:
    """The document score from its window scores (NaN when there are none)."""
    if not scores:
        return math.nan
    if aggregation == "max":
        return float(max(scores))
    if aggregation == "first":
        return float(scores[0])
    if aggregation == "mean":
        return float(sum(scores) / len(scores))
    raise ValueError(f"unknown aggregation {aggregation!r} (known: {', '.join(AGGREGATIONS)})")


def window_starts(n_tokens: int, window: int, stride: int) -> list[int]:
    """Token starts of the windows over ``n_tokens``: every ``stride``, the last window
    ending at the end (it may overlap its neighbour more than the others do)."""
    if n_tokens <= window:
        return [0]
    starts = list(range(0, n_tokens - window, stride))
    starts.append(n_tokens - window)
    return starts


def _word_start(
    word_ids: Sequence[int | None] | None, token: int, limit: int, forward: bool = False
) -> int:
    """``token`` moved to the first token of a word: back to its own word's start, or
    (``forward``) on to the next word's start, staying below ``limit``."""
    if word_ids is None:
        return token

    def inside(t: int) -> bool:
        return t > 0 and word_ids[t] is not None and word_ids[t - 1] == word_ids[t]

    if forward:
        while token < limit - 1 and inside(token):
            token += 1
        return token
    while inside(token):
        token -= 1
    return token


def _windows_of(
    text: str,
    offsets: Sequence[tuple[int, int]],
    word_ids: Sequence[int | None] | None,
    window: int,
    stride: int,
    max_tokens: int,
) -> tuple[list[str], list[int]]:
    n = min(len(offsets), max_tokens)
    if n <= window:
        # One window: the document itself (cut at max_tokens), so a short document is
        # scored exactly as without windows.
        return [text if n == len(offsets) else text[: offsets[n - 1][1]]], [n]
    texts: list[str] = []
    tokens: list[int] = []
    previous = -1
    starts = window_starts(n, window, stride)
    for k, start in enumerate(starts):
        # The last window moves forward (it must still reach the end), the others back.
        last = k == len(starts) - 1
        start = _word_start(word_ids, start, n, forward=last)
        if start <= previous:  # a very long word: keep moving forward
            start = previous + 1
        end = n if last else min(start + window, n)
        texts.append(text[offsets[start][0] : offsets[end - 1][1]])
        tokens.append(end - start)
        previous = start
    return texts, tokens


def plan_windows(
    tokenizer: Any,
    documents: Sequence[str],
    cfg: WindowConfig,
    window_tokens: int,
    max_tokens_per_doc: int | None = None,
) -> WindowPlan:
    """Split ``documents`` into windows of ``cfg.window_tokens`` (or ``window_tokens``,
    the room the scorer leaves beside the query) document tokens.

    ``max_tokens_per_doc`` (a request's own cap) lowers ``cfg.max_tokens_per_doc``, never
    raises it. With ``aggregation="first"`` every document is one window: the document
    itself, cut at the token cap only.
    """
    window = max(cfg.window_tokens or window_tokens, MIN_WINDOW_TOKENS)
    stride = min(cfg.stride_tokens or max(window // 2, 1), window)
    cap = min(cfg.max_tokens_per_doc, max_tokens_per_doc or cfg.max_tokens_per_doc)
    if cfg.aggregation == "first":
        window = cap  # one window holding everything under the cap
    texts: list[str] = []
    counts: list[int] = []
    tokens: list[int] = []
    if not documents:
        return WindowPlan(texts, counts, tokens)
    enc = tokenizer(list(documents), add_special_tokens=False, return_offsets_mapping=True)
    encodings = getattr(enc, "encodings", None)
    for i, text in enumerate(documents):
        word_ids = encodings[i].word_ids if encodings else None
        parts, sizes = _windows_of(text, enc["offset_mapping"][i], word_ids, window, stride, cap)
        texts.extend(parts)
        tokens.extend(sizes)
        counts.append(len(parts))
    return WindowPlan(texts, counts, tokens)


class WindowedScorer:
    """A :class:`rankdistill.scoring.Scorer` that scores long documents in windows.

    ``window_tokens``: a fixed window, or a function of the query giving the room the
    wrapped scorer leaves for the document (e.g. ``Reranker.document_room``).
    ``windows_scored`` counts the windows scored so far.
    """

    def __init__(
        self,
        scorer: Any,
        tokenizer: Any,
        cfg: WindowConfig,
        window_tokens: int | Callable[[str], int],
    ) -> None:
        self.scorer = scorer
        self.tokenizer = tokenizer
        self.cfg = cfg
        self._window = window_tokens
        self.name = f"{scorer.name}+windows[{cfg.aggregation}]"
        self.windows_scored = 0

    def score(self, query: str, documents: Sequence[str]) -> list[float]:
        if not documents:
            return []
        room = self._window(query) if callable(self._window) else self._window
        plan = plan_windows(self.tokenizer, documents, self.cfg, room)
        self.windows_scored += len(plan.texts)
        return plan.aggregate(self.scorer.score(query, plan.texts), self.cfg.aggregation)
