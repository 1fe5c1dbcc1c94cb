"""Filters that keep the good generated queries; each reports how many it kept.

:func:`apply_filters` runs them in a fixed order, cheapest first: near-duplicate removal,
the generation log-probability (InPars), round-trip consistency (Promptagator) and last
the ``max_queries`` budget, so the budget is spent on queries that passed every filter.
Every filter keeps the input order of the queries it keeps.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rankdistill.data.corpus import normalise_query
from rankdistill.data.records import Document
from rankdistill.generation.config import GenerationConfig, RoundTripFilterConfig
from rankdistill.generation.records import GeneratedQuery


@dataclass
class FilterReport:
    """``kept`` of ``input`` queries survived ``name``; ``details`` says why the rest did not."""

    name: str
    input: int
    kept: int
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def dropped(self) -> int:
        return self.input - self.kept


def _skipped(name: str, queries: Sequence[GeneratedQuery], why: str) -> FilterReport:
    return FilterReport(name, len(queries), len(queries), {"skipped": why})


# --------------------------------------------------------------------------- near duplicates
def query_tokens(text: str) -> frozenset[str]:
    """The set of lower-cased words of a query (what near-duplicate detection compares)."""
    return frozenset(normalise_query(text).split())


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


def _prefix_length(size: int, threshold: float) -> int:
    # Prefix filtering (Bayardo et al., 2007): two sets with Jaccard >= t share a token
    # among the first |X| - ceil(t * |X|) + 1 tokens of each, under one global token order.
    # The epsilon keeps 0.8 * 5 = 4.000000001 from rounding up to 5.
    return size - math.ceil(threshold * size - 1e-9) + 1


def drop_near_duplicates(
    queries: Sequence[GeneratedQuery], threshold: float = 0.8
) -> tuple[list[GeneratedQuery], FilterReport]:
    """Keep the first of each group of queries whose normalised text is equal or whose
    token sets have a Jaccard similarity of at least ``threshold``."""
    sets = [query_tokens(q.text) for q in queries]
    frequency = Counter(token for s in sets for token in s)
    seen_texts: set[str] = set()
    index: dict[str, list[int]] = {}
    kept: list[GeneratedQuery] = []
    exact = near = 0
    for i, (query, tokens) in enumerate(zip(queries, sets, strict=True)):
        text = normalise_query(query.text)
        if text in seen_texts:
            exact += 1
            continue
        ordered = sorted(tokens, key=lambda t: (frequency[t], t))
        prefix = ordered[: _prefix_length(len(ordered), threshold)] if ordered else []
        candidates = {j for token in prefix for j in index.get(token, ())}
        if any(jaccard(tokens, sets[j]) >= threshold for j in candidates):
            near += 1
            continue
        seen_texts.add(text)
        for token in prefix:
            index.setdefault(token, []).append(i)
        kept.append(query)
    report = FilterReport(
        "near_duplicates",
        len(queries),
        len(kept),
        {"exact_duplicates": exact, "near_duplicates": near, "jaccard": threshold},
    )
    return kept, report


# --------------------------------------------------------------------------- log-probability
def filter_by_logprob(
    queries: Sequence[GeneratedQuery],
    keep_fraction: float | None = None,
    min_logprob: float | None = None,
) -> tuple[list[GeneratedQuery], FilterReport]:
    """InPars: keep the best ``keep_fraction`` of the scored queries and/or those whose
    mean token log-probability is at least ``min_logprob``.

    A query without a log-probability cannot be judged and is kept (counted as unscored).
    Ties at the cut keep the earlier query.
    """
    name = "logprob"
    if keep_fraction is None and min_logprob is None:
        return list(queries), _skipped(name, queries, "disabled")
    scored = [i for i, q in enumerate(queries) if q.logprob is not None]
    passing = set(scored)
    if min_logprob is not None:
        passing = {i for i in passing if queries[i].logprob >= min_logprob}  # type: ignore[operator]
    if keep_fraction is not None:
        best_first = sorted(scored, key=lambda i: (-queries[i].logprob, i))  # type: ignore[operator]
        passing &= set(best_first[: math.ceil(keep_fraction * len(scored))])
    unscored = len(queries) - len(scored)
    kept = [q for i, q in enumerate(queries) if i in passing or q.logprob is None]
    details: dict[str, Any] = {
        "scored": len(scored),
        "unscored_kept": unscored,
        "keep_fraction": keep_fraction,
        "min_logprob": min_logprob,
    }
    return kept, FilterReport(name, len(queries), len(kept), details)


# --------------------------------------------------------------------------- round trip
def filter_round_trip(
    queries: Sequence[GeneratedQuery],
    corpus: Mapping[str, Document],
    cfg: RoundTripFilterConfig | None = None,
    progress: bool = False,
) -> tuple[list[GeneratedQuery], FilterReport]:
    """Promptagator: keep a query only if BM25 over ``corpus`` ranks its source passage
    within the top ``cfg.k``."""
    from rankdistill.retrieval.bm25 import BM25Retriever

    cfg = cfg or RoundTripFilterConfig()
    name = "round_trip"
    if not cfg.enabled:
        return list(queries), _skipped(name, queries, "disabled")
    if not queries:
        return [], FilterReport(name, 0, 0, {"k": cfg.k})
    retriever = BM25Retriever(cfg.retrieval, progress=progress).index(corpus)
    k = min(cfg.k, retriever.num_docs)
    run = retriever.retrieve({q.qid: q.text for q in queries}, k=k)
    kept = [q for q in queries if q.source_docid in run.get(q.qid, {})]
    return kept, FilterReport(name, len(queries), len(kept), {"k": cfg.k})


# --------------------------------------------------------------------------- budget
def apply_budget(
    queries: Sequence[GeneratedQuery], max_queries: int | None, seed: int
) -> tuple[list[GeneratedQuery], FilterReport]:
    """At most ``max_queries`` queries: a sample drawn with ``seed``, in input order."""
    name = "max_queries"
    if max_queries is None or len(queries) <= max_queries:
        details = {"max_queries": max_queries}
        return list(queries), FilterReport(name, len(queries), len(queries), details)
    chosen = sorted(random.Random(seed).sample(range(len(queries)), max_queries))
    kept = [queries[i] for i in chosen]
    return kept, FilterReport(name, len(queries), len(kept), {"max_queries": max_queries})


def apply_filters(
    queries: Sequence[GeneratedQuery],
    corpus: Mapping[str, Document],
    cfg: GenerationConfig,
    progress: bool = False,
) -> tuple[list[GeneratedQuery], list[FilterReport]]:
    """Every configured filter in order; the survivors and one report per filter."""
    filters = cfg.filters
    reports: list[FilterReport] = []
    current = list(queries)
    if filters.near_duplicates.enabled:
        current, report = drop_near_duplicates(current, filters.near_duplicates.jaccard)
    else:
        report = _skipped("near_duplicates", current, "disabled")
    reports.append(report)
    current, report = filter_by_logprob(
        current, filters.logprob.keep_fraction, filters.logprob.min_logprob
    )
    reports.append(report)
    current, report = filter_round_trip(current, corpus, filters.round_trip, progress)
    reports.append(report)
    current, report = apply_budget(current, cfg.max_queries, cfg.seed)
    reports.append(report)
    return current, reports
