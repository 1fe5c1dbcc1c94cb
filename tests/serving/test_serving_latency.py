"""measure_latency counts what it timed; speed itself is measured only in benchmarks/."""

from __future__ import annotations

import pytest

from rankdistill.serving.latency import measure_latency


class _Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []

    def rerank(self, query: str, documents: list[str]) -> list[int]:
        self.calls.append((query, len(documents)))
        return list(range(len(documents)))


def test_counts_queries_pairs_and_warmup() -> None:
    rec = _Recorder()
    queries = [("a", ["x"] * 10), ("b", ["y"] * 5), ("c", ["z"] * 3)]
    out = measure_latency(rec, queries)
    assert rec.calls == [("a", 8), ("a", 10), ("b", 5), ("c", 3)]  # warm-up first
    assert out["queries"] == 3 and out["pairs"] == 18
    assert out["latency_ms_p50"] <= out["latency_ms_p99"]
    assert out["pairs_per_second"] > 0


def test_without_warmup_and_empty_input() -> None:
    rec = _Recorder()
    measure_latency(rec, [("q", ["d", "e"])], warmup=False)
    assert rec.calls == [("q", 2)]
    with pytest.raises(ValueError, match="at least one query"):
        measure_latency(rec, [])
