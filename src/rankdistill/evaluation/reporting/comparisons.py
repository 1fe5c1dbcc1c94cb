"""Paired comparisons of every system with the baseline, each metric by its own definition.

A standard measure's aggregate is a mean over queries, so its difference is the mean
per-query difference and its test is :func:`rankdistill.evaluation.significance.compare_runs`'
paired test. PNR's aggregate is *pooled* (total concordant over total discordant pairs of
all queries, :mod:`rankdistill.evaluation.metrics`), so a mean of per-query ratios would
answer a different question: its difference is the pooled PNR of the system minus the
pooled PNR of the baseline over the queries both were evaluated on, and its p-value comes
from a paired permutation test that swaps the two systems' pair counts within each query.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping

import numpy as np

from rankdistill.evaluation.metrics import PNR_MIN_DISCORDANT, EvalResult
from rankdistill.evaluation.significance import TestMethod, TestResult, compare_runs

POOLED_TEST = "permutation"
DEFAULT_RESAMPLES = 10_000
# Resamples drawn per step, so a run with many queries never holds every draw at once.
_RESAMPLE_CHUNK = 1_000


def is_pooled(metric: str, results: Mapping[str, EvalResult]) -> bool:
    """Whether ``metric`` is a PNR metric (pooled over queries) in any of ``results``."""
    return any(metric in result.pnr_counts for result in results.values())


def compare_with_baseline(
    results: Mapping[str, EvalResult],
    baseline: str | None = None,
    method: TestMethod = "ttest",
    seed: int = 0,
    n_resamples: int = DEFAULT_RESAMPLES,
) -> dict[str, dict[str, TestResult]]:
    """system -> metric -> test against ``baseline`` (default: the first system): ``method``
    on per-query values for mean metrics, :func:`pooled_pnr_test` for PNR."""
    comparisons = compare_runs(results, baseline=baseline, method=method, seed=seed)
    base = results[baseline if baseline is not None else next(iter(results))] if results else None
    for name, tests in comparisons.items():
        system = results[name]
        for metric in tests:
            if base is not None and metric in system.pnr_counts and metric in base.pnr_counts:
                tests[metric] = pooled_pnr_test(system, base, metric, seed, n_resamples)
    return comparisons


def _effective_counts(result: EvalResult, metric: str, qids: list[str]) -> np.ndarray:
    """(queries, 2): each query's concordant and discordant pairs after the tie convention."""
    counts = result.pnr_counts[metric]
    return np.array([counts[q].effective(result.pnr_ties) for q in qids], dtype=np.float64)


def _pooled(concordant: np.ndarray, discordant: np.ndarray) -> np.ndarray:
    """:func:`rankdistill.evaluation.metrics.pnr_ratio` over arrays of pooled counts."""
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = concordant / np.maximum(discordant, PNR_MIN_DISCORDANT)
    return np.where(concordant + discordant == 0, np.nan, ratio)


def _differences(a: np.ndarray, b: np.ndarray, swap: np.ndarray) -> np.ndarray:
    """Pooled PNR difference a - b for each row of ``swap`` (True: that query's counts of
    the two systems are exchanged)."""
    mine = np.where(swap[..., None], b, a).sum(axis=-2)
    theirs = np.where(swap[..., None], a, b).sum(axis=-2)
    return _pooled(mine[..., 0], mine[..., 1]) - _pooled(theirs[..., 0], theirs[..., 1])


def _swap_patterns(n: int, n_resamples: int, seed: int) -> tuple[list[np.ndarray], bool]:
    """Every swap pattern when there are at most ``n_resamples`` (exact test), else random
    draws in chunks; and whether the test is exact."""
    if 2**n <= n_resamples:
        return [np.array(list(itertools.product((False, True), repeat=n)), dtype=bool)], True
    rng = np.random.default_rng(seed)
    sizes = [_RESAMPLE_CHUNK] * (n_resamples // _RESAMPLE_CHUNK)
    if n_resamples % _RESAMPLE_CHUNK:
        sizes.append(n_resamples % _RESAMPLE_CHUNK)
    return [rng.random((size, n)) < 0.5 for size in sizes], False


def pooled_pnr_test(
    system: EvalResult,
    baseline: EvalResult,
    metric: str,
    seed: int = 0,
    n_resamples: int = DEFAULT_RESAMPLES,
) -> TestResult:
    """Pooled PNR of ``system`` minus ``baseline``'s over their common queries, with a
    two-sided paired permutation test (exact when 2^queries <= ``n_resamples``)."""
    common = sorted(set(system.pnr_counts[metric]) & set(baseline.pnr_counts[metric]))
    a = _effective_counts(system, metric, common)
    b = _effective_counts(baseline, metric, common)
    n = len(common)
    observed = float(_differences(a, b, np.zeros((n,), dtype=bool))) if n else math.nan
    if n < 2 or math.isnan(observed):
        return TestResult(math.nan, math.nan, observed, n, POOLED_TEST)
    if np.array_equal(a, b):
        return TestResult(0.0, 1.0, 0.0, n, POOLED_TEST)
    # Equal up to rounding counts as "at least as extreme" (the observed pattern itself).
    threshold = abs(observed) * (1 - 1e-12)
    extreme, total = 0, 0
    patterns, exact = _swap_patterns(n, n_resamples, seed)
    for swaps in patterns:
        diffs = np.abs(_differences(a, b, swaps))
        extreme += int(np.sum(diffs >= threshold))
        total += len(swaps)
    p_value = extreme / total if exact else (extreme + 1) / (total + 1)
    return TestResult(observed, min(p_value, 1.0), observed, n, POOLED_TEST)
