"""Each query filter against hand-computed expectations (and a brute-force reference)."""

from __future__ import annotations

import itertools
import random

import pytest

from rankdistill.data.records import Document
from rankdistill.generation.config import GenerationConfig, RoundTripFilterConfig
from rankdistill.generation.filters import (
    apply_budget,
    apply_filters,
    drop_near_duplicates,
    filter_by_logprob,
    filter_round_trip,
    jaccard,
    query_tokens,
)
from rankdistill.generation.records import GeneratedQuery
from rankdistill.retrieval.config import RetrievalConfig


def _q(qid: str, text: str, source: str = "d1", logprob: float | None = None) -> GeneratedQuery:
    return GeneratedQuery(qid, text, source, "test", logprob)


# --------------------------------------------------------------------------- near duplicates
def test_near_duplicates_hand_computed() -> None:
    queries = [
        _q("a", "What is the capital of France?"),
        _q("b", "what is the capital of france"),  # same normalised text as a
        _q("c", "capital of France, what is the"),  # same token set: Jaccard 1
        _q("d", "what is the capital city of france"),  # 6 shared of 7 words: 0.857
        _q("e", "capital of spain"),  # {capital, of} of {..., spain, ...}: 2/7
    ]
    kept, report = drop_near_duplicates(queries, threshold=0.8)
    assert [q.qid for q in kept] == ["a", "e"]
    assert (report.input, report.kept, report.dropped) == (5, 2, 3)
    assert report.details["exact_duplicates"] == 1
    assert report.details["near_duplicates"] == 2
    # 6/7 = 0.857 is below 0.9: "d" survives a stricter threshold.
    kept, report = drop_near_duplicates(queries, threshold=0.9)
    assert [q.qid for q in kept] == ["a", "d", "e"]
    assert report.kept == 3


def test_jaccard_values() -> None:
    a = query_tokens("what is the capital of france")
    assert jaccard(a, query_tokens("what is the capital city of france")) == pytest.approx(6 / 7)
    assert jaccard(a, query_tokens("capital of spain")) == pytest.approx(2 / 7)
    assert jaccard(frozenset(), frozenset()) == 1.0


def _brute_force(texts: list[str], threshold: float) -> list[int]:
    """Greedy reference: keep a query unless it matches an earlier kept one (all pairs)."""
    kept: list[int] = []
    for i, text in enumerate(texts):
        tokens = query_tokens(text)
        if not any(jaccard(tokens, query_tokens(texts[j])) >= threshold for j in kept):
            kept.append(i)
    return kept


@pytest.mark.parametrize("threshold", [0.5, 0.6, 0.75, 0.8, 1.0])
def test_near_duplicates_match_all_pairs_reference(threshold: float) -> None:
    # Prefix filtering must find every pair the quadratic comparison finds.
    rng = random.Random(threshold)
    vocabulary = [f"w{i}" for i in range(12)]
    texts = [" ".join(rng.sample(vocabulary, rng.randint(1, 6))) for _ in range(300)]
    queries = [_q(str(i), t) for i, t in enumerate(texts)]
    kept, report = drop_near_duplicates(queries, threshold)
    assert [int(q.qid) for q in kept] == _brute_force(texts, threshold)
    assert report.kept == len(kept)


# --------------------------------------------------------------------------- log-probability
LOGPROB_QUERIES = [
    _q("q0", "alpha", logprob=-0.5),
    _q("q1", "beta", logprob=-2.0),
    _q("q2", "gamma", logprob=-1.0),
    _q("q3", "delta", logprob=None),
    _q("q4", "epsilon", logprob=-3.0),
]


def test_logprob_keep_fraction() -> None:
    # 4 scored queries, half of them kept: -0.5 and -1.0; the unscored q3 is kept too.
    kept, report = filter_by_logprob(LOGPROB_QUERIES, keep_fraction=0.5)
    assert [q.qid for q in kept] == ["q0", "q2", "q3"]
    assert (report.input, report.kept) == (5, 3)
    assert report.details["scored"] == 4
    assert report.details["unscored_kept"] == 1


def test_logprob_threshold_and_both() -> None:
    kept, _ = filter_by_logprob(LOGPROB_QUERIES, min_logprob=-2.0)
    assert [q.qid for q in kept] == ["q0", "q1", "q2", "q3"]
    # ceil(0.75 * 4) = 3 best (-0.5, -1.0, -2.0), of which -2.0 fails min -1.5.
    kept, report = filter_by_logprob(LOGPROB_QUERIES, keep_fraction=0.75, min_logprob=-1.5)
    assert [q.qid for q in kept] == ["q0", "q2", "q3"]
    assert report.kept == 3


def test_logprob_disabled_keeps_everything() -> None:
    kept, report = filter_by_logprob(LOGPROB_QUERIES)
    assert kept == LOGPROB_QUERIES
    assert report.details == {"skipped": "disabled"}


# --------------------------------------------------------------------------- round trip
CORPUS = {
    "d1": Document("d1", "apple banana"),
    "d2": Document("d2", "apple cherry"),
    "d3": Document("d3", "grape melon"),
    "d4": Document("d4", "kiwi lemon"),
}
PLAIN = RetrievalConfig(method="bm25", stemmer=None, stopwords=None)


def test_round_trip_hand_computed() -> None:
    queries = [
        _q("own", "grape", "d3"),  # only d3 has grape: rank 1
        _q("elsewhere", "kiwi", "d3"),  # d3 has no kiwi: BM25 never returns it
        _q("second", "apple banana", "d2"),  # d1 matches both words, d2 one: d2 is rank 2
    ]
    kept, report = filter_round_trip(queries, CORPUS, RoundTripFilterConfig(k=1, retrieval=PLAIN))
    assert [q.qid for q in kept] == ["own"]
    assert (report.input, report.kept, report.details["k"]) == (3, 1, 1)
    kept, report = filter_round_trip(queries, CORPUS, RoundTripFilterConfig(k=2, retrieval=PLAIN))
    assert [q.qid for q in kept] == ["own", "second"]
    assert report.kept == 2


def test_round_trip_disabled() -> None:
    queries = [_q("x", "kiwi", "d3")]
    kept, report = filter_round_trip(queries, CORPUS, RoundTripFilterConfig(enabled=False))
    assert kept == queries
    assert report.details == {"skipped": "disabled"}


# --------------------------------------------------------------------------- budget
def test_budget_is_a_seeded_sample_in_input_order() -> None:
    queries = [_q(f"q{i}", f"text {i}") for i in range(10)]
    kept, report = apply_budget(queries, 4, seed=7)
    expected = sorted(random.Random(7).sample(range(10), 4))
    assert [q.qid for q in kept] == [f"q{i}" for i in expected]
    assert (report.input, report.kept) == (10, 4)
    again, _ = apply_budget(queries, 4, seed=7)
    assert again == kept
    others = {tuple(q.qid for q in apply_budget(queries, 4, seed=s)[0]) for s in range(20)}
    assert len(others) > 1  # the seed matters
    under, report = apply_budget(queries, 20, seed=7)
    assert under == queries and report.kept == 10


# --------------------------------------------------------------------------- all together
def test_apply_filters_order_and_reports() -> None:
    queries = [
        _q("a", "grape melon", "d3", -0.1),
        _q("b", "melon grape", "d3", -0.2),  # duplicate of a
        _q("c", "kiwi", "d3", -0.3),  # fails the round trip
        _q("d", "apple cherry", "d2", -5.0),  # fails the log-probability filter
        _q("e", "kiwi lemon", "d4", -0.4),
        _q("f", "banana", "d1", -0.5),
    ]
    cfg = GenerationConfig.model_validate(
        {
            "max_queries": 2,
            "filters": {
                "logprob": {"min_logprob": -1.0},
                "round_trip": {"k": 1, "retrieval": PLAIN.model_dump()},
            },
        }
    )
    kept, reports = apply_filters(queries, CORPUS, cfg)
    counts = [(r.name, r.input, r.kept) for r in reports]
    assert counts == [
        ("near_duplicates", 6, 5),
        ("logprob", 5, 4),
        ("round_trip", 4, 3),
        ("max_queries", 3, 2),
    ]
    survivors = ["a", "e", "f"]
    chosen = sorted(random.Random(cfg.seed).sample(range(3), 2))
    assert [q.qid for q in kept] == [survivors[i] for i in chosen]


def test_logprob_filter_asks_the_backend_for_logprobs() -> None:
    assert GenerationConfig().backend.generation_logprobs is False
    cfg = GenerationConfig.model_validate({"filters": {"logprob": {"keep_fraction": 0.5}}})
    assert cfg.backend.generation_logprobs is True


def test_no_pairs_are_missed_for_small_sets() -> None:
    # Every pair of distinct 1-3 word sets over 4 words at t=0.5 (exhaustive).
    words = ["a1", "b2", "c3", "d4"]
    sets = [" ".join(c) for r in (1, 2, 3) for c in itertools.combinations(words, r)]
    for first, second in itertools.permutations(sets, 2):
        queries = [_q("x", first), _q("y", second)]
        kept, _ = drop_near_duplicates(queries, 0.5)
        similar = jaccard(query_tokens(first), query_tokens(second)) >= 0.5
        assert len(kept) == (1 if similar else 2), (first, second)
