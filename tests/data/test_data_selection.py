"""Long-tail selection (by frequency and by length), length buckets, deterministic splits."""

from __future__ import annotations

import random

import pytest

from rankdistill.data.config import SelectionConfig
from rankdistill.data.records import Query
from rankdistill.data.selection import (
    assign_segments,
    length_bucket,
    percentile_ranks,
    select_queries,
    split_qids,
)


def _queries(specs: list[tuple[str, int | None]]) -> dict[str, Query]:
    return {f"q{i}": Query(f"q{i}", text, freq) for i, (text, freq) in enumerate(specs)}


@pytest.mark.parametrize(
    ("text", "bucket"),
    [
        ("bm25", "1-3"),
        ("one two three", "1-3"),
        ("a b c d", "4-5"),
        ("a b c d e f", "6-8"),
        ("a b c d e f g h", "6-8"),
        ("a b c d e f g h i", "9+"),
        ("  spaced   out  words ", "1-3"),
    ],
)
def test_length_bucket(text: str, bucket: str) -> None:
    assert length_bucket(text, [3, 5, 8]) == bucket


def test_length_bucket_other_edges_and_validation() -> None:
    assert length_bucket("a", [1, 4]) == "1"
    assert length_bucket("a b", [1, 4]) == "2-4"
    assert length_bucket("a b c d e", [1, 4]) == "5+"
    with pytest.raises(ValueError, match="strictly increasing"):
        length_bucket("a", [3, 3])


def test_segments_by_length_without_frequencies() -> None:
    queries = _queries(
        [
            ("cheap flights", None),
            ("cheap flights to rome", None),
            ("cheapest way to fly to rome in may", None),
        ]
    )
    segments = assign_segments(queries, SelectionConfig())
    assert segments == {"q0": "head", "q1": "torso", "q2": "tail"}


def test_percentile_ranks_share_mid_rank_for_ties() -> None:
    assert percentile_ranks([0, 0, 0, 10]) == {0: 37.5, 10: 87.5}
    assert percentile_ranks([1, 2, 3, 4]) == {1: 12.5, 2: 37.5, 3: 62.5, 4: 87.5}


def test_segments_by_frequency_percentiles() -> None:
    # 10 two-word queries with counts 1..10: percentile ranks 5, 15, ..., 95.
    queries = _queries([(f"query {i}", i) for i in range(1, 11)])
    cfg = SelectionConfig(head_percentile=80.0, tail_percentile=40.0)
    segments = assign_segments(queries, cfg)
    assert [segments[f"q{i}"] for i in range(10)] == (["tail"] * 4 + ["torso"] * 4 + ["head"] * 2)


def test_ties_in_frequency_never_split_a_block() -> None:
    queries = _queries([("a b", 0)] * 6 + [("c d", 5), ("e f", 100)])
    segments = assign_segments(queries, SelectionConfig())
    assert {segments[f"q{i}"] for i in range(6)} == {"tail"}
    assert segments["q7"] == "head"


def test_long_frequent_query_is_tail_unless_disabled() -> None:
    queries = _queries(
        [(f"short {i}", i) for i in range(9)]
        + [("a very long and frequent natural question", 1000)]
    )
    assert assign_segments(queries, SelectionConfig())["q9"] == "tail"
    cfg = SelectionConfig(long_queries_are_tail=False)
    assert assign_segments(queries, cfg)["q9"] == "head"  # percentile rank 95


def test_auto_uses_length_when_some_frequencies_are_missing() -> None:
    queries = _queries([("cheap flights", 1000), ("a b c d e f g", None)])
    assert assign_segments(queries, SelectionConfig()) == {"q0": "head", "q1": "tail"}
    with pytest.raises(ValueError, match="have no frequency"):
        assign_segments(queries, SelectionConfig(by="frequency"))


def test_by_length_ignores_frequencies() -> None:
    queries = _queries([("cheap flights", 1), ("x", 2), ("y", 3), ("z", 4)])
    segments = assign_segments(queries, SelectionConfig(by="length"))
    assert set(segments.values()) == {"head"}


def test_select_queries_keeps_segments_and_sets_them() -> None:
    queries = _queries(
        [
            ("cheap flights", None),
            ("cheap flights to rome", None),
            ("cheapest way to fly to rome in may", None),
        ]
    )
    tail = select_queries(queries, SelectionConfig(keep_segments=["tail"]))
    assert tail == {"q2": Query("q2", "cheapest way to fly to rome in may", None, "tail")}
    everything = select_queries(queries, SelectionConfig(enabled=False, keep_segments=["tail"]))
    assert [q.segment for q in everything.values()] == ["head", "torso", "tail"]


def test_inconsistent_thresholds_are_rejected() -> None:
    with pytest.raises(ValueError, match="tail_percentile"):
        assign_segments(
            _queries([("a", 1)]), SelectionConfig(head_percentile=40, tail_percentile=60)
        )
    with pytest.raises(ValueError, match="head_max_words"):
        assign_segments(_queries([("a", 1)]), SelectionConfig(head_max_words=6, tail_min_words=6))


# ---------------------------------------------------------------- splits


def test_split_is_independent_of_input_order_and_never_leaks() -> None:
    qids = [f"query-{i}" for i in range(103)]
    fractions = {"train": 0.8, "dev": 0.1, "test": 0.1}
    first = split_qids(qids, fractions, seed=13)
    shuffled = qids[:]
    random.Random(0).shuffle(shuffled)
    assert split_qids(shuffled, fractions, seed=13) == first
    assert split_qids(iter(reversed(qids)), fractions, seed=13) == first
    parts = [set(v) for v in first.values()]
    assert sum(len(p) for p in parts) == len(qids)
    assert set().union(*parts) == set(qids)
    assert all(not (a & b) for i, a in enumerate(parts) for b in parts[i + 1 :])
    # 82.4 / 10.3 / 10.3: largest remainder gives the spare query to train.
    assert {k: len(v) for k, v in first.items()} == {"train": 83, "dev": 10, "test": 10}


def test_split_sizes_follow_fractions_and_seed_matters() -> None:
    qids = [str(i) for i in range(50)]
    parts = split_qids(qids, {"a": 0.5, "b": 0.3, "c": 0.2}, seed=1)
    assert {k: len(v) for k, v in parts.items()} == {"a": 25, "b": 15, "c": 10}
    other = split_qids(qids, {"a": 0.5, "b": 0.3, "c": 0.2}, seed=2)
    assert other["a"] != parts["a"]


def test_split_validation() -> None:
    with pytest.raises(ValueError, match="sum to 1"):
        split_qids(["a", "b"], {"x": 0.5, "y": 0.2}, seed=0)
    with pytest.raises(ValueError, match="duplicate"):
        split_qids(["a", "a"], {"x": 1.0}, seed=0)
    with pytest.raises(ValueError, match="non-negative"):
        split_qids(["a"], {"x": 1.5, "y": -0.5}, seed=0)
