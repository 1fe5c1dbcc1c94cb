"""The reading-length benchmark scores each length apart and merges calls into one JSON."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from rankdistill.data.records import Document, Query, RankingData
from tests.fixtures.benchmarks import load_benchmark


class FirstWordsScorer:
    """Counts the query's words among a document's first ``max_length`` words."""

    name = "first-words"

    def __init__(self) -> None:
        self.max_length = 512

    def score(self, query: str, documents: Sequence[str]) -> list[float]:
        words = set(query.split())
        return [float(sum(w in words for w in d.split()[: self.max_length])) for d in documents]


# The relevant document names the query's words only after its first four words; the
# other names one of them up front.
TOY = RankingData(
    {"q": Query("q", "statins cancer")},
    {
        "rel": Document("rel", "a long cohort study found statins lower cancer recurrence"),
        "other": Document("other", "statins are drugs"),
    },
    {"q": {"other": 2.0, "rel": 1.0}},
    {"q": {"rel": 1}},
)


def run_main(bench: object, monkeypatch: pytest.MonkeyPatch, out: Path, lengths: str) -> None:
    argv = ["read_length.py", "--scorers", "teacher", "--lengths", lengths, "--sets", "toy"]
    monkeypatch.setattr(sys, "argv", [*argv, "--out", str(out)])
    bench.main()  # type: ignore[attr-defined]


def test_each_length_is_scored_apart_and_later_calls_merge(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bench = load_benchmark("read_length")
    monkeypatch.setattr(bench, "SETS", {"toy": lambda: TOY})
    monkeypatch.setattr(bench, "build", lambda spec: FirstWordsScorer())
    out = tmp_path / "read_length.json"
    run_main(bench, monkeypatch, out, "4")
    run_main(bench, monkeypatch, out, "64")
    payload = json.loads(out.read_text(encoding="utf-8"))
    by_length = payload["results"]["teacher"]["toy"]
    # Four words read: the other document wins (rel at rank 2); all read: rel first.
    assert by_length["4"]["nDCG@10"] == pytest.approx(1 / 1.5849625, abs=1e-6)
    assert by_length["64"]["nDCG@10"] == pytest.approx(1.0)
    assert [r["command"].split("--lengths ")[1] for r in payload["runs"]] == [
        "4 --sets toy", "64 --sets toy",
    ]  # fmt: skip


def test_an_unknown_set_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bench = load_benchmark("read_length")
    monkeypatch.setattr(sys, "argv", ["read_length.py", "--sets", "dl20,msmarco"])
    with pytest.raises(SystemExit) as exit_info:
        bench.main()
    assert exit_info.value.code == 2
