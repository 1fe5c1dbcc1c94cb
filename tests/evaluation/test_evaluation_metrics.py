"""Metrics: ir-measures parity, trec_eval semantics, DL 2020 reference figures, PNR."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import ir_measures
import pytest
import pytrec_eval

from rankdistill.data.records import Qrels, Run
from rankdistill.evaluation.metrics import (
    EvalResult,
    PairCounts,
    UnknownMetricError,
    evaluate_run,
    parse_metrics,
    query_pair_counts,
    trec_order,
)


@pytest.fixture(scope="module")
def dl2020_run_qrels(dl2020: Path) -> tuple[Run, Qrels]:
    from rankdistill.data.qrels import read_qrels
    from rankdistill.data.rankllm import read_rankllm

    data = read_rankllm(dl2020 / "bm25-top100.json")
    return data.candidates, read_qrels(dl2020 / "qrels.json")


# --------------------------------------------------------------------------- DL 2020
@pytest.mark.shared_data
def test_dl2020_bm25_reproduces_reference_figures(dl2020_run_qrels: tuple[Run, Qrels]) -> None:
    run, qrels = dl2020_run_qrels
    result = evaluate_run(run, qrels, ["nDCG@10", "RR(rel=2)@10", "AP(rel=2)"])
    assert result.num_queries == 54
    assert round(result.aggregate["nDCG@10"], 4) == 0.4796
    assert round(result.aggregate["RR(rel=2)@10"], 4) == 0.6533
    assert round(result.aggregate["AP(rel=2)"], 4) == 0.2685


@pytest.mark.shared_data
def test_dl2020_per_query_values_equal_ir_measures(dl2020_run_qrels: tuple[Run, Qrels]) -> None:
    run, qrels = dl2020_run_qrels
    names = ["nDCG@10", "AP(rel=2)", "R@100", "P@5", "nDCG@5"]
    result = evaluate_run(run, qrels, names)
    expected = {
        (m.query_id, str(m.measure)): m.value
        for m in ir_measures.iter_calc([ir_measures.parse_measure(n) for n in names], qrels, run)
    }
    assert len(expected) == 54 * len(names)
    for name in names:
        for qid, value in result.per_query[name].items():
            assert value == pytest.approx(expected[(qid, name)], abs=1e-12), (name, qid)


@pytest.mark.shared_data
def test_dl2020_pnr_equals_brute_force_pair_loop(dl2020_run_qrels: tuple[Run, Qrels]) -> None:
    run, qrels = dl2020_run_qrels
    result = evaluate_run(run, qrels, ["PNR", "PNR@10"])
    for cutoff, name in ((None, "PNR"), (10, "PNR@10")):
        concordant = discordant = 0.0
        for qid, scores in run.items():
            ranked = sorted(scores, key=lambda d: (scores[d], d), reverse=True)
            ranked = ranked[:cutoff] if cutoff else ranked
            judged = [d for d in ranked if d in qrels.get(qid, {})]
            for x, y in itertools.combinations(judged, 2):
                gx, gy = qrels[qid][x], qrels[qid][y]
                if gx == gy:
                    continue
                hi, lo = (x, y) if gx > gy else (y, x)
                if scores[hi] > scores[lo]:
                    concordant += 1
                elif scores[hi] < scores[lo]:
                    discordant += 1
                else:
                    concordant, discordant = concordant + 0.5, discordant + 0.5
        assert result.aggregate[name] == pytest.approx(concordant / discordant)
    # BM25 orders graded pairs better than chance on DL 2020.
    assert result.aggregate["PNR"] > 1.2


# --------------------------------------------------------------------------- trec_eval semantics
def test_ties_are_broken_as_trec_eval_does_for_every_provider() -> None:
    # All scores tie: trec_eval ranks by descending docid, so "c" comes first.
    run = {"q": {"a": 1.0, "b": 1.0, "c": 1.0}}
    qrels = {"q": {"c": 1, "b": 0, "a": 0}}
    reference = pytrec_eval.RelevanceEvaluator(qrels, {"recip_rank", "P_1"}).evaluate(run)["q"]
    result = evaluate_run(run, qrels, ["RR@10", "RR", "P@1"])
    assert reference["recip_rank"] == 1.0
    # RR@10 comes from ir-measures' msmarco provider, which alone would give 1/3 here.
    assert result.aggregate["RR@10"] == reference["recip_rank"]
    assert result.aggregate["RR"] == reference["recip_rank"]
    assert result.aggregate["P@1"] == reference["P_1"]
    assert trec_order(run["q"]) == ["c", "b", "a"]


def test_queries_missing_from_run_follow_trec_eval_default_or_dash_c() -> None:
    qrels = {"q1": {"a": 1}, "q2": {"b": 1}, "q3": {"c": 1}}
    run = {"q1": {"a": 2.0, "x": 1.0}, "q2": {}, "q9": {"z": 1.0}}
    ignore = evaluate_run(run, qrels, ["P@1", "nDCG@10"])
    # q2 (empty ranking) and q3 (absent) are skipped; q9 (no qrels) too.
    assert ignore.qids == ["q1"] and ignore.num_queries == 1
    assert ignore.aggregate["P@1"] == 1.0
    zero = evaluate_run(run, qrels, ["P@1", "nDCG@10"], missing_queries="zero")
    assert zero.num_queries == 3
    assert zero.per_query["P@1"] == {"q1": 1.0, "q2": 0.0, "q3": 0.0}
    assert zero.aggregate["P@1"] == pytest.approx(1 / 3)
    assert zero.aggregate["P@1"] == pytest.approx(
        ir_measures.calc_aggregate([ir_measures.P @ 1], qrels, {"q1": run["q1"]})[ir_measures.P @ 1]
    )


def test_integer_ids_are_accepted_as_strings() -> None:
    run = {1: {2: 0.5, 3: 0.1}}
    qrels = {"1": {"2": 1}}
    assert evaluate_run(run, qrels, ["P@1"]).per_query["P@1"] == {"1": 1.0}  # type: ignore[arg-type]


def test_unknown_metric_raises_a_clear_error() -> None:
    with pytest.raises(UnknownMetricError, match="unknown metric 'NDGC@10'"):
        evaluate_run({"q": {"a": 1.0}}, {"q": {"a": 1}}, ["NDGC@10"])
    with pytest.raises(UnknownMetricError, match="cutoff"):
        parse_metrics(["PNR@0"])
    with pytest.raises(ValueError, match="pnr_ties"):
        evaluate_run({"q": {"a": 1.0}}, {"q": {"a": 1}}, ["PNR"], pnr_ties="both")  # type: ignore[arg-type]


def test_metrics_may_be_one_whitespace_separated_string() -> None:
    parsed = parse_metrics("nDCG@10 RR(rel=2)@10  PNR@5")
    assert list(parsed) == ["nDCG@10", "RR(rel=2)@10", "PNR@5"]


# --------------------------------------------------------------------------- PNR
GRADES = {"a": 2, "b": 1, "c": 0, "d": 0, "e": 0}
# Pairs with different grades: (a,b) tied; (a,c), (b,c) discordant; (a,d), (b,d), (a,e), (b,e)
# concordant; c, d, e share grade 0 and form no pair.
TIED_SCORES = {"a": 5.0, "b": 5.0, "c": 6.0, "d": 1.0, "e": 0.0}


def test_pair_counts_hand_computed() -> None:
    assert query_pair_counts(TIED_SCORES, GRADES) == PairCounts(concordant=4, discordant=2, tied=1)


@pytest.mark.parametrize(
    ("ties", "expected"),
    [("half", 4.5 / 2.5), ("ignore", 4 / 2), ("discordant", 4 / 3)],
)
def test_pnr_tie_modes(ties: str, expected: float) -> None:
    result = evaluate_run({"q": TIED_SCORES}, {"q": GRADES}, ["PNR"], pnr_ties=ties)  # type: ignore[arg-type]
    assert result.aggregate["PNR"] == pytest.approx(expected)
    assert result.per_query["PNR"]["q"] == pytest.approx(expected)


def test_pnr_ignores_unjudged_docs_in_run_and_judged_docs_absent_from_it() -> None:
    noisy_run = {"q": {**TIED_SCORES, "unjudged": 100.0, "other": -3.0}}
    noisy_qrels = {"q": {**GRADES, "not-retrieved": 3}}
    result = evaluate_run(noisy_run, noisy_qrels, ["PNR"])
    assert result.aggregate["PNR"] == pytest.approx(4.5 / 2.5)


def test_pnr_zero_discordant_convention_and_undefined_queries() -> None:
    perfect = {"a": 4.0, "b": 3.0, "c": 2.0, "d": 1.0}
    grades = {"a": 3, "b": 2, "c": 1, "d": 0}  # 6 concordant pairs, none discordant
    no_pairs = {"x": 1.0, "y": 2.0}  # both grade 1: no pair
    result = evaluate_run(
        {"q1": perfect, "q2": no_pairs}, {"q1": grades, "q2": {"x": 1, "y": 1}}, ["PNR"]
    )
    assert result.per_query["PNR"] == {"q1": 6.0}  # denominator floored at 1; q2 undefined
    assert result.aggregate["PNR"] == 6.0
    only_undefined = evaluate_run({"q2": no_pairs}, {"q2": {"x": 1, "y": 1}}, ["PNR"])
    assert math.isnan(only_undefined.aggregate["PNR"])
    assert only_undefined.per_query["PNR"] == {}


def test_pnr_aggregate_pools_pairs_over_queries() -> None:
    run = {"q1": {"a": 3.0, "b": 2.0, "c": 1.0}, "q2": {"a": 1.0, "b": 2.0, "c": 3.0}}
    qrels = {"q1": {"a": 2, "b": 1, "c": 0}, "q2": {"a": 1, "b": 0, "c": 0}}
    # q1: 3 concordant, 0 discordant; q2: 0 concordant, 2 discordant.
    result = evaluate_run(run, qrels, ["PNR"])
    assert result.aggregate["PNR"] == pytest.approx(3 / 2)  # not the mean of 3.0 and 0.0
    assert result.per_query["PNR"] == {"q1": 3.0, "q2": 0.0}


def test_pnr_at_k_uses_only_the_top_k_of_the_run() -> None:
    scores = {"a": 4.0, "b": 3.0, "c": 2.0, "d": 1.0}
    grades = {"a": 0, "b": 1, "c": 2, "d": 0}
    # Top-2 = a, b: one pair, discordant -> 0/1. Whole ranking: (a,b) d, (a,c) d, (b,c) d,
    # (b,d) c, (c,d) c -> 2/3.
    result = evaluate_run({"q": scores}, {"q": grades}, ["PNR@2", "PNR"])
    assert result.aggregate["PNR@2"] == 0.0
    assert result.aggregate["PNR"] == pytest.approx(2 / 3)
    # Cut-off ties follow trec_eval order (descending docid): the top-2 of a 3-way tie is
    # z, y, where only y is judged, so no pair (ascending order, x, y, would give one).
    tie_counts = query_pair_counts({"x": 1.0, "y": 1.0, "z": 1.0}, {"x": 1, "y": 0}, cutoff=2)
    assert tie_counts == PairCounts(0, 0, 0)
    whole = query_pair_counts({"x": 1.0, "y": 1.0, "z": 1.0}, {"x": 1, "y": 0})
    assert whole == PairCounts(0, 0, 1)


def test_eval_result_round_trips_through_dict() -> None:
    result = evaluate_run({"q": TIED_SCORES}, {"q": GRADES}, ["nDCG@3", "PNR", "PNR@3"])
    again = EvalResult.from_dict(result.to_dict())
    assert again == result
