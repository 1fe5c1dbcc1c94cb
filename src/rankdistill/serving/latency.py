"""Per-query latency and throughput of a re-ranker, as the pipeline and benchmarks report it."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np


class _Reranks(Protocol):
    def rerank(self, query: str, documents: Sequence[str]) -> Any: ...


def measure_latency(
    reranker: _Reranks, queries: Sequence[tuple[str, Sequence[str]]], *, warmup: bool = True
) -> dict[str, Any]:
    """Rerank each (query, documents) once; wall time per query, pairs per second, p50/p99.

    One warm-up call on the first query's first documents keeps lazy initialisation
    (graph optimisation, allocator growth) out of the measurement.
    """
    if not queries:
        raise ValueError("measure_latency needs at least one query")
    if warmup:
        reranker.rerank(queries[0][0], list(queries[0][1][:8]))
    latencies: list[float] = []
    pairs = 0
    for query, documents in queries:
        start = time.perf_counter()
        reranker.rerank(query, list(documents))
        latencies.append(time.perf_counter() - start)
        pairs += len(documents)
    total = sum(latencies)
    return {
        "queries": len(latencies),
        "pairs": pairs,
        "seconds": total,
        "pairs_per_second": pairs / total if total > 0 else float("inf"),
        "latency_ms_p50": float(np.percentile(latencies, 50) * 1000),
        "latency_ms_p99": float(np.percentile(latencies, 99) * 1000),
    }
