"""Per-segment tables: means of per-query values, pooled PNR, length buckets."""

from __future__ import annotations

import math

import pytest

from rankdistill.data.records import Query
from rankdistill.evaluation.metrics import evaluate_run
from rankdistill.evaluation.segments import (
    NUM_QUERIES_KEY,
    length_segments,
    order_segments,
    per_segment,
    segments_from_queries,
)

QRELS = {
    "h1": {"a": 1, "b": 0},
    "h2": {"a": 1, "b": 0},
    "t1": {"a": 2, "b": 1, "c": 0},
    "t2": {"a": 1, "b": 0},
}
RUN = {
    "h1": {"a": 2.0, "b": 1.0},  # P@1 1, PNR pairs: 1 concordant
    "h2": {"a": 1.0, "b": 2.0},  # P@1 0, 1 discordant
    "t1": {"a": 3.0, "b": 2.0, "c": 1.0},  # P@1 1, 3 concordant
    "t2": {"a": 1.0, "b": 2.0},  # P@1 0, 1 discordant
}


def test_per_segment_means_and_pooled_pnr() -> None:
    result = evaluate_run(RUN, QRELS, ["P@1", "PNR"])
    table = per_segment(result, {"h1": "head", "h2": "head", "t1": "tail", "t2": "tail"})
    assert list(table) == ["head", "tail"]
    assert table["head"][NUM_QUERIES_KEY] == 2
    assert table["head"]["P@1"] == 0.5
    assert table["tail"]["P@1"] == 0.5
    assert table["head"]["PNR"] == 1.0  # 1 / 1
    assert table["tail"]["PNR"] == 3.0  # (3 + 0) / (0 + 1), pooled, not mean of 3.0 and 0.0


def test_unassigned_queries_are_skipped_or_grouped() -> None:
    result = evaluate_run(RUN, QRELS, ["P@1"])
    assert set(per_segment(result, {"h1": "head"})) == {"head"}
    grouped = per_segment(result, {"h1": "head"}, unassigned="other")
    assert grouped["other"][NUM_QUERIES_KEY] == 3
    assert grouped["other"]["P@1"] == pytest.approx(1 / 3)


def test_segment_without_pnr_pairs_is_nan() -> None:
    result = evaluate_run({"q": {"a": 1.0}}, {"q": {"a": 1}}, ["PNR"])
    assert math.isnan(per_segment(result, {"q": "tail"})["tail"]["PNR"])


def test_segment_order_and_length_buckets() -> None:
    assert order_segments({"tail", "x", "head", "torso"}) == ["head", "torso", "tail", "x"]
    assert order_segments({"9+", "4-5", "1-3", "6-8"}) == ["1-3", "4-5", "6-8", "9+"]
    queries = {
        "a": Query("a", "cheap flights", segment="head"),
        "b": "how do i fix a leaking kitchen tap without tools",
        "c": Query("c", "what is a kidney stone"),
    }
    assert length_segments(queries, [3, 5, 8]) == {"a": "1-3", "b": "9+", "c": "4-5"}
    assert segments_from_queries({"a": queries["a"], "c": queries["c"]}) == {"a": "head"}
