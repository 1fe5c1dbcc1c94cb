"""Long-tail query selection (RRADistill) and deterministic query splits.

Segments (SPEC 1, thresholds reconstructed and configurable in :class:`SelectionConfig`):

- **by frequency** (a query log exists): a query's *percentile rank* in the frequency
  distribution of the given queries (ties share the mid rank, so a block of equal counts is
  never split) decides: ``>= head_percentile`` is head, ``< tail_percentile`` is tail, the
  rest torso; with ``long_queries_are_tail`` a query of ``tail_min_words`` words or more is
  tail whatever its count ("rare, long or complexly phrased").
- **by length** (no log): ``<= head_max_words`` words is head, ``>= tail_min_words`` tail.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable
from itertools import pairwise

from rankdistill.data.config import SelectionConfig
from rankdistill.data.records import Query, Segment


def word_count(text: str) -> int:
    return len(text.split())


def length_bucket(text: str, edges: list[int]) -> str:
    """The word-count bucket of ``text``: edges ``[3, 5, 8]`` give "1-3", "4-5", "6-8", "9+"."""
    if any(b <= a for a, b in pairwise(edges)) or (edges and edges[0] < 1):
        raise ValueError(f"bucket edges must be positive and strictly increasing, got {edges}")
    words = word_count(text)
    low = 1
    for edge in edges:
        if words <= edge:
            return f"{low}-{edge}" if low != edge else str(edge)
        low = edge + 1
    return f"{low}+"


def segmentation_mode(queries: dict[str, Query], cfg: SelectionConfig) -> str:
    """``"frequency"`` or ``"length"``: auto uses frequencies when every query has one."""
    have_frequency = all(q.frequency is not None for q in queries.values())
    if cfg.by == "frequency" and not have_frequency:
        missing = [q.qid for q in queries.values() if q.frequency is None]
        raise ValueError(
            f"selection.by=frequency but {len(missing)} queries have no frequency "
            f"(e.g. {missing[:5]}); set data.*.query_log or use by=length"
        )
    if cfg.by == "length" or not queries:
        return "length"
    return "frequency" if have_frequency else "length"


def percentile_ranks(values: Iterable[int]) -> dict[int, float]:
    """Each distinct value's percentile rank: 100 * (count below + half the count equal) / n."""
    counts = Counter(values)
    total = sum(counts.values())
    ranks: dict[int, float] = {}
    below = 0
    for value in sorted(counts):
        ranks[value] = 100.0 * (below + 0.5 * counts[value]) / total
        below += counts[value]
    return ranks


def _segment_by_length(text: str, cfg: SelectionConfig) -> Segment:
    words = word_count(text)
    if words >= cfg.tail_min_words:
        return "tail"
    if words <= cfg.head_max_words:
        return "head"
    return "torso"


def _segment_by_frequency(rank: float, text: str, cfg: SelectionConfig) -> Segment:
    if rank < cfg.tail_percentile:
        return "tail"
    if cfg.long_queries_are_tail and word_count(text) >= cfg.tail_min_words:
        return "tail"
    if rank >= cfg.head_percentile:
        return "head"
    return "torso"


def assign_segments(queries: dict[str, Query], cfg: SelectionConfig) -> dict[str, Segment]:
    """Head / torso / tail for every query (see the module docstring for the rules)."""
    if cfg.tail_percentile > cfg.head_percentile:
        raise ValueError("selection.tail_percentile must not exceed selection.head_percentile")
    if cfg.head_max_words >= cfg.tail_min_words:
        raise ValueError("selection.head_max_words must be below selection.tail_min_words")
    if segmentation_mode(queries, cfg) == "length":
        return {qid: _segment_by_length(q.text, cfg) for qid, q in queries.items()}
    ranks = percentile_ranks(int(q.frequency or 0) for q in queries.values())
    return {
        qid: _segment_by_frequency(ranks[int(q.frequency or 0)], q.text, cfg)
        for qid, q in queries.items()
    }


def select_queries(queries: dict[str, Query], cfg: SelectionConfig) -> dict[str, Query]:
    """Queries of ``cfg.keep_segments``, each with its ``segment`` set.

    With ``cfg.enabled`` false every query is kept (segments are still set, for reports).
    """
    segments = assign_segments(queries, cfg)
    keep = set(cfg.keep_segments) if cfg.enabled else {"head", "torso", "tail"}
    return {
        qid: Query(q.qid, q.text, q.frequency, segments[qid])
        for qid, q in queries.items()
        if segments[qid] in keep
    }


def _hash_key(seed: int, qid: str) -> str:
    return hashlib.sha256(f"{seed}\x00{qid}".encode()).hexdigest()


def _split_sizes(total: int, fractions: dict[str, float]) -> dict[str, int]:
    """Largest-remainder rounding: sizes sum to ``total`` exactly."""
    exact = {name: total * frac for name, frac in fractions.items()}
    sizes = {name: int(value) for name, value in exact.items()}
    leftover = total - sum(sizes.values())
    order = list(fractions)
    by_remainder = sorted(order, key=lambda n: (-(exact[n] - sizes[n]), order.index(n)))
    for name in by_remainder[:leftover]:
        sizes[name] += 1
    return sizes


def split_qids(qids: Iterable[str], fractions: dict[str, float], seed: int) -> dict[str, list[str]]:
    """Split query ids into named parts by ``fractions`` (summing to 1).

    Queries are ordered by a hash of ``(seed, qid)`` and cut into consecutive blocks of the
    rounded sizes, so the result depends only on the set of ids and the seed, never on the
    input order, and no id lands in two parts. Each part lists its ids in hash order.
    """
    ids = list(qids)
    duplicates = [q for q, n in Counter(ids).items() if n > 1]
    if duplicates:
        raise ValueError(f"duplicate query ids cannot be split: {duplicates[:5]}")
    if not fractions or any(f < 0 for f in fractions.values()):
        raise ValueError(f"fractions must be non-empty and non-negative, got {fractions}")
    if abs(sum(fractions.values()) - 1.0) > 1e-6:
        raise ValueError(f"fractions must sum to 1, got {sum(fractions.values())}")
    ordered = sorted(ids, key=lambda q: _hash_key(seed, q))
    parts: dict[str, list[str]] = {}
    start = 0
    for name, size in _split_sizes(len(ordered), fractions).items():
        parts[name] = ordered[start : start + size]
        start += size
    return parts
