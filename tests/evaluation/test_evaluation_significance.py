"""Paired significance tests against scipy on constructed per-query values."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from rankdistill.evaluation.metrics import evaluate_run
from rankdistill.evaluation.significance import compare_runs, paired_test


def _values(
    seed: int, n: int = 30, shift: float = 0.0
) -> tuple[dict[str, float], dict[str, float]]:
    rng = np.random.default_rng(seed)
    base = rng.uniform(0, 1, n)
    other = np.clip(base + shift + rng.normal(0, 0.1, n), 0, 1)
    return (
        {f"q{i}": float(v) for i, v in enumerate(other)},
        {f"q{i}": float(v) for i, v in enumerate(base)},
    )


def test_ttest_matches_scipy_on_common_queries() -> None:
    a, b = _values(0, shift=0.05)
    a["only-in-a"] = 1.0
    b["only-in-b"] = 0.0
    result = paired_test(a, b, method="ttest")
    qids = sorted(set(a) & set(b))
    expected = stats.ttest_rel([a[q] for q in qids], [b[q] for q in qids])
    assert result.n == 30
    assert result.statistic == pytest.approx(expected.statistic)
    assert result.p_value == pytest.approx(expected.pvalue)
    assert result.mean_diff == pytest.approx(np.mean([a[q] - b[q] for q in qids]))
    assert result.mean_diff > 0 and result.p_value < 0.05


def test_wilcoxon_matches_scipy() -> None:
    a, b = _values(1, shift=0.02)
    qids = sorted(a)
    expected = stats.wilcoxon([a[q] for q in qids], [b[q] for q in qids])
    result = paired_test(a, b, method="wilcoxon")
    assert result.statistic == pytest.approx(expected.statistic)
    assert result.p_value == pytest.approx(expected.pvalue)


def test_permutation_matches_scipy_and_is_seeded() -> None:
    a, b = _values(2, n=12, shift=0.03)
    qids = sorted(a)
    x = np.array([a[q] for q in qids])
    y = np.array([b[q] for q in qids])
    expected = stats.permutation_test(
        (x, y),
        lambda u, v, axis: np.mean(u - v, axis=axis),
        permutation_type="samples",
        vectorized=True,
        n_resamples=2000,
        rng=np.random.default_rng(7),
    )
    result = paired_test(a, b, method="permutation", seed=7, n_resamples=2000)
    assert result.p_value == pytest.approx(expected.pvalue)
    assert result.statistic == pytest.approx(np.mean(x - y))
    again = paired_test(a, b, method="permutation", seed=7, n_resamples=2000)
    assert again == result


def test_degenerate_inputs() -> None:
    same = {"q1": 0.5, "q2": 0.7, "q3": 0.1}
    identical = paired_test(same, dict(same), method="wilcoxon")
    assert (identical.statistic, identical.p_value, identical.n) == (0.0, 1.0, 3)
    tiny = paired_test({"q1": 1.0}, {"q1": 0.0})
    assert tiny.n == 1 and math.isnan(tiny.p_value) and tiny.mean_diff == 1.0
    with pytest.raises(ValueError, match="significance method"):
        paired_test(same, same, method="sign")  # type: ignore[arg-type]


def test_compare_runs_tests_each_system_against_the_baseline() -> None:
    qrels = {f"q{i}": {"good": 1, "bad": 0} for i in range(8)}
    good_run = {q: {"good": 2.0, "bad": 1.0} for q in qrels}
    bad_run = {q: {"good": 1.0, "bad": 2.0} for q in qrels}
    results = {
        "worse": evaluate_run(bad_run, qrels, ["P@1", "PNR"]),
        "better": evaluate_run(good_run, qrels, ["P@1", "PNR"]),
    }
    comparisons = compare_runs(results)  # baseline: the first run
    assert list(comparisons) == ["better"]
    assert set(comparisons["better"]) == {"P@1", "PNR"}
    assert comparisons["better"]["P@1"].mean_diff == 1.0  # system minus baseline
    assert comparisons["better"]["P@1"].n == 8
    # Every query improves by exactly 1: zero variance, so t is infinite and p is 0.
    assert comparisons["better"]["P@1"].p_value == 0.0
    with pytest.raises(KeyError, match="baseline"):
        compare_runs(results, baseline="missing")
