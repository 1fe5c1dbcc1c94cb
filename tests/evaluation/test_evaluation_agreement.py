"""Teacher-student agreement: Kendall tau against scipy, top-k overlap by hand."""

from __future__ import annotations

import math

import pytest
from scipy import stats

from rankdistill.evaluation.agreement import kendall_tau, topk_overlap


def test_kendall_tau_matches_scipy_over_common_docs() -> None:
    run_a = {
        "q1": {"a": 4.0, "b": 3.0, "c": 2.0, "d": 1.0, "only-a": 9.0},
        "q2": {"a": 1.0, "b": 2.0, "c": 3.0},
        "q3": {"a": 1.0},
        "q4": {"a": 1.0, "b": 1.0},  # constant: tau undefined
    }
    run_b = {
        "q1": {"a": 3.0, "b": 4.0, "c": 1.0, "d": 2.0, "only-b": 0.0},
        "q2": {"a": 1.0, "b": 2.0, "c": 2.0},
        "q3": {"a": 5.0, "b": 1.0},
        "q4": {"a": 0.0, "b": 1.0},
        "q5": {"a": 1.0, "b": 2.0},
    }
    result = kendall_tau(run_a, run_b)
    expected_q1 = stats.kendalltau([4, 3, 2, 1], [3, 4, 1, 2]).statistic
    expected_q2 = stats.kendalltau([1, 2, 3], [1, 2, 2]).statistic
    assert set(result["per_query"]) == {"q1", "q2"}
    assert result["per_query"]["q1"] == pytest.approx(expected_q1)
    assert result["per_query"]["q2"] == pytest.approx(expected_q2)
    assert result["mean"] == pytest.approx((expected_q1 + expected_q2) / 2)
    assert result["num_queries"] == 2
    assert kendall_tau({"q1": run_a["q1"]}, {"q1": run_a["q1"]})["mean"] == pytest.approx(1.0)


def test_topk_overlap_hand_computed() -> None:
    run_a = {"q1": {"a": 5.0, "b": 4.0, "c": 3.0, "d": 2.0}, "q2": {"x": 1.0, "y": 0.5}}
    run_b = {"q1": {"d": 5.0, "a": 4.0, "e": 3.0, "b": 2.0}, "q2": {"y": 1.0, "x": 0.5}}
    result = topk_overlap(run_a, run_b, k=2)
    # q1: top-2 {a, b} vs {d, a} -> 1/2; q2: fewer than k docs, same set -> 1.0
    assert result["per_query"] == {"q1": 0.5, "q2": 1.0}
    assert result["mean"] == pytest.approx(0.75)
    # top-3 {a, b, c} vs {d, a, e} -> 1/3
    assert topk_overlap(run_a, run_b, k=3)["per_query"]["q1"] == pytest.approx(1 / 3)
    assert math.isnan(topk_overlap({}, run_b)["mean"])
    with pytest.raises(ValueError):
        topk_overlap(run_a, run_b, k=0)
