"""Prometheus metrics of the rerank service, in the text exposition format (version 0.0.4).

Hand-written (a counter and a histogram are a few lines) so the service needs no extra
dependency; the output parses with any Prometheus scraper.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)


def _labels(pairs: Sequence[tuple[str, str]]) -> str:
    if not pairs:
        return ""
    inner = ",".join(
        f'{k}="{v.replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34))}"'
        for k, v in pairs
    )
    return "{" + inner + "}"


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


class Counter:
    def __init__(self, name: str, help_text: str, label_names: Sequence[str]) -> None:
        self.name, self.help, self.label_names = name, help_text, tuple(label_names)
        self._values: dict[tuple[str, ...], float] = {}
        self._lock = threading.Lock()

    def inc(self, *labels: str, amount: float = 1.0) -> None:
        with self._lock:
            self._values[labels] = self._values.get(labels, 0.0) + amount

    def value(self, *labels: str) -> float:
        return self._values.get(labels, 0.0)

    def render(self) -> list[str]:
        lines = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} counter"]
        with self._lock:
            for labels, value in sorted(self._values.items()):
                tag = _labels(list(zip(self.label_names, labels, strict=True)))
                lines.append(f"{self.name}{tag} {_number(value)}")
        return lines


class Histogram:
    def __init__(self, name: str, help_text: str, buckets: Sequence[float]) -> None:
        self.name, self.help, self.buckets = name, help_text, tuple(buckets)
        self._counts = [0] * len(self.buckets)
        self._sum = 0.0
        self._count = 0
        self._lock = threading.Lock()

    def observe(self, value: float) -> None:
        with self._lock:
            self._sum += value
            self._count += 1
            for i, bound in enumerate(self.buckets):
                if value <= bound:
                    self._counts[i] += 1

    @property
    def count(self) -> int:
        return self._count

    def render(self) -> list[str]:
        lines = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} histogram"]
        with self._lock:
            for bound, count in zip(self.buckets, self._counts, strict=True):
                lines.append(f'{self.name}_bucket{{le="{_number(bound)}"}} {count}')
            lines.append(f'{self.name}_bucket{{le="+Inf"}} {self._count}')
            lines.append(f"{self.name}_sum {_number(self._sum)}")
            lines.append(f"{self.name}_count {self._count}")
        return lines


class ServiceMetrics:
    """The service's counters and histograms."""

    def __init__(self) -> None:
        self.requests = Counter(
            "rankdistill_requests_total",
            "HTTP requests by endpoint and status code.",
            ("endpoint", "status"),
        )
        self.latency = Histogram(
            "rankdistill_request_latency_seconds",
            "Latency of /rerank requests.",
            LATENCY_BUCKETS,
        )
        self.batch_pairs = Histogram(
            "rankdistill_batch_pairs",
            "Pairs per model call of the micro-batcher.",
            BATCH_BUCKETS,
        )
        self.pairs = Counter("rankdistill_pairs_scored_total", "Query-document pairs scored.", ())

    def render(self) -> str:
        lines: list[str] = []
        for metric in (self.requests, self.latency, self.batch_pairs, self.pairs):
            lines.extend(metric.render())
        return "\n".join(lines) + "\n"
