"""The teacher-choice benchmark's merging of cascades measured by earlier calls."""

from __future__ import annotations

from typing import Any

from tests.fixtures.benchmarks import load_benchmark

SETUP = {
    "pre_ranker": "bi-encoder:minilm-l6",
    "queries": ["1", "2"],
    "top_k": 10,
    "candidates": 100,
    "max_doc_words": 100,
}


def _cascade(**teachers: float) -> dict[str, Any]:
    return {**SETUP, "teachers": {n: {"nDCG@10": v} for n, v in teachers.items()}}


def test_an_earlier_cascade_this_call_did_not_run_is_kept_and_marked() -> None:
    bench = load_benchmark("teacher_choice")
    earlier = {
        "command": "python teacher_choice.py --cascade-llms big",
        "cascade": _cascade(big=0.5, small=0.1),
    }
    merged = bench.keep_earlier_cascades(_cascade(small=0.3), earlier)
    assert merged["teachers"]["small"] == {"nDCG@10": 0.3}  # this call's own figure wins
    assert merged["teachers"]["big"] == {
        "nDCG@10": 0.5,
        "kept_from": "python teacher_choice.py --cascade-llms big",
    }
    # Kept twice, it still names the command that measured it.
    again = bench.keep_earlier_cascades(
        _cascade(small=0.3), {"command": "later", "cascade": merged}
    )
    assert again["teachers"]["big"]["kept_from"] == "python teacher_choice.py --cascade-llms big"


def test_a_cascade_over_other_queries_is_not_kept() -> None:
    bench = load_benchmark("teacher_choice")
    earlier = {"command": "c", "cascade": {**_cascade(big=0.5), "queries": ["1", "3"]}}
    assert bench.keep_earlier_cascades(_cascade(small=0.3), earlier)["teachers"] == {
        "small": {"nDCG@10": 0.3}
    }


def test_a_call_without_cascades_keeps_the_earlier_section_whole() -> None:
    bench = load_benchmark("teacher_choice")
    earlier = {"command": "c", "cascade": _cascade(big=0.5)}
    kept = bench.keep_earlier_cascades({}, earlier)
    assert {k: kept[k] for k in SETUP} == SETUP
    assert kept["kept_from"] == "c"
    assert kept["teachers"] == {"big": {"nDCG@10": 0.5, "kept_from": "c"}}
    assert bench.keep_earlier_cascades({}, {"command": "c"}) == {}
