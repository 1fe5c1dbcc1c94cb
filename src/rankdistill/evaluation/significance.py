"""Paired significance tests between systems on per-query metric values (scipy).

Tests run on the queries both systems have a value for. ``mean_diff`` is mean(a - b):
for :func:`compare_runs` that is system minus baseline, so positive means better than the
baseline for every metric in this toolkit (all are higher-is-better).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np

from rankdistill.evaluation.metrics import EvalResult

TestMethod = Literal["ttest", "wilcoxon", "permutation"]
TEST_METHODS: tuple[str, ...] = ("ttest", "wilcoxon", "permutation")


@dataclass(frozen=True)
class TestResult:
    """Outcome of one paired test; ``nan`` statistic and p-value when n < 2."""

    __test__ = False  # not a pytest test class despite the name

    statistic: float
    p_value: float
    mean_diff: float
    n: int
    method: str = "ttest"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: nan and infinite values (not valid JSON) become ``None``."""
        return {
            k: (None if isinstance(v, float) and not math.isfinite(v) else v)
            for k, v in asdict(self).items()
        }


def paired_test(
    a: Mapping[str, float],
    b: Mapping[str, float],
    method: TestMethod = "ttest",
    seed: int = 0,
    n_resamples: int = 10_000,
) -> TestResult:
    """Two-sided paired test of a vs b over their common qids.

    ``ttest``: :func:`scipy.stats.ttest_rel`; ``wilcoxon``: :func:`scipy.stats.wilcoxon`;
    ``permutation``: :func:`scipy.stats.permutation_test` on the mean difference, swapping
    the two systems' values within each query (``n_resamples`` draws seeded with ``seed``).
    When every difference is zero the systems are indistinguishable: statistic 0, p 1.
    """
    from scipy import stats

    if method not in TEST_METHODS:
        raise ValueError(f"significance method must be one of {TEST_METHODS}, got {method!r}")
    qids = sorted(set(a) & set(b))
    x = np.array([a[q] for q in qids], dtype=np.float64)
    y = np.array([b[q] for q in qids], dtype=np.float64)
    n = len(qids)
    mean_diff = float(np.mean(x - y)) if n else math.nan
    if n < 2:
        return TestResult(math.nan, math.nan, mean_diff, n, method)
    if np.all(x == y):
        return TestResult(0.0, 1.0, 0.0, n, method)
    if method == "ttest" and np.ptp(x - y) == 0:
        # A constant non-zero difference has zero variance: t is infinite, p is 0
        # (scipy would return nan with a precision warning).
        return TestResult(math.copysign(math.inf, mean_diff), 0.0, mean_diff, n, method)
    if method == "ttest":
        res = stats.ttest_rel(x, y)
        statistic, p_value = res.statistic, res.pvalue
    elif method == "wilcoxon":
        res = stats.wilcoxon(x, y)
        statistic, p_value = res.statistic, res.pvalue
    else:
        res = stats.permutation_test(
            (x, y),
            _mean_difference,
            permutation_type="samples",
            vectorized=True,
            n_resamples=n_resamples,
            alternative="two-sided",
            rng=np.random.default_rng(seed),
        )
        statistic, p_value = res.statistic, res.pvalue
    return TestResult(float(statistic), float(p_value), mean_diff, n, method)


def _mean_difference(x: np.ndarray, y: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.mean(x - y, axis=axis)


def compare_runs(
    results: Mapping[str, EvalResult],
    baseline: str | None = None,
    metrics: Sequence[str] | None = None,
    method: TestMethod = "ttest",
    seed: int = 0,
) -> dict[str, dict[str, TestResult]]:
    """system -> metric -> test of that system against ``baseline`` (default: the first run).

    ``metrics`` defaults to the baseline's metrics; a metric a system lacks is skipped.
    """
    if not results:
        return {}
    names = list(results)
    baseline = names[0] if baseline is None else baseline
    if baseline not in results:
        raise KeyError(f"baseline {baseline!r} is not one of the runs: {', '.join(names)}")
    base = results[baseline]
    wanted = list(metrics) if metrics is not None else base.metrics
    comparisons: dict[str, dict[str, TestResult]] = {}
    for name in names:
        if name == baseline:
            continue
        system = results[name]
        comparisons[name] = {
            metric: paired_test(
                system.per_query[metric], base.per_query[metric], method=method, seed=seed
            )
            for metric in wanted
            if metric in system.per_query and metric in base.per_query
        }
    return comparisons
