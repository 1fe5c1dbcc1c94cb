"""Teacher scoring: one LabelRecord per query, resumable after an interruption, sharded."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from rankdistill.data.records import Document, Query, RankingData
from rankdistill.labeling.store import read_labels
from rankdistill.retrieval.bm25 import BM25Scorer
from rankdistill.teachers.scoring import (
    merge_shards,
    parse_shard,
    score_pairs,
    shard_of,
    shard_path,
)

WORDS = ["cat", "dog", "tower", "paris", "meat", "bark", "river", "bridge", "tea", "rain"]


def _data(n_queries: int = 8, n_docs: int = 5) -> RankingData:
    corpus, queries, candidates = {}, {}, {}
    for q in range(n_queries):
        qid = f"q{q}"
        queries[qid] = Query(qid, f"{WORDS[q % 10]} {WORDS[(q + 3) % 10]}")
        candidates[qid] = {}
        for d in range(n_docs):
            docid = f"{qid}d{d}"
            text = " ".join(WORDS[(q + d + i) % 10] for i in range(4 + d))
            corpus[docid] = Document(docid, text)
            candidates[qid][docid] = float(n_docs - d)
    return RankingData(queries, corpus, candidates)


class InterruptingScorer:
    """A real BM25 scorer that raises (like Ctrl-C) when asked to score a given query."""

    def __init__(self, stop_at_call: int) -> None:
        self.inner = BM25Scorer()
        self.name = self.inner.name
        self.calls = 0
        self.stop_at_call = stop_at_call

    def score(self, query: str, documents: Sequence[str]) -> list[float]:
        self.calls += 1
        if self.calls == self.stop_at_call:
            raise KeyboardInterrupt
        return self.inner.score(query, documents)


def test_scores_match_the_scorer_and_respect_k(tmp_path: Path) -> None:
    data = _data(3)
    out = score_pairs(BM25Scorer(), data, tmp_path / "t.jsonl", k=3, batch_size=2, progress=False)
    records = read_labels(out)
    assert [r.qid for r in records] == ["q0", "q1", "q2"]
    for record in records:
        docids = data.candidate_list(record.qid, 3).docids
        assert record.docids == docids and record.method == "llm-teacher"
        assert record.teacher == "bm25"
        texts = [data.corpus[d].full_text for d in docids]
        # batch_size=2 splits a list of 3: BM25 on the fly sees each chunk alone.
        expected = BM25Scorer().score(record.query, texts[:2]) + BM25Scorer().score(
            record.query, texts[2:]
        )
        assert [record.scores[d] for d in docids] == pytest.approx(expected)


def test_interrupted_run_resumes_without_duplicates_or_loss(tmp_path: Path) -> None:
    data = _data(8)
    path = tmp_path / "teacher.jsonl"
    with pytest.raises(KeyboardInterrupt):
        score_pairs(InterruptingScorer(stop_at_call=4), data, path, progress=False)
    assert [r.qid for r in read_labels(path)] == ["q0", "q1", "q2"]
    # A kill in the middle of a write leaves half a line: it is dropped and redone.
    with path.open("a", encoding="utf-8") as fh:
        fh.write('{"qid": "q3", "query": "half a li')
    resumed = InterruptingScorer(stop_at_call=-1)
    score_pairs(resumed, data, path, progress=False)
    assert resumed.calls == 5  # q3..q7 only: finished queries are not rescored
    records = read_labels(path)  # raises on a duplicated qid
    assert [r.qid for r in records] == [f"q{i}" for i in range(8)]
    reference = read_labels(score_pairs(BM25Scorer(), data, tmp_path / "ref.jsonl", progress=False))
    assert [r.scores for r in records] == [r.scores for r in reference]


def test_killed_process_loses_nothing_finished(tmp_path: Path) -> None:
    """SIGKILL a real scoring process mid-run, then finish the job in this one."""
    path = tmp_path / "killed.jsonl"
    script = f"""
import time
from rankdistill.retrieval.bm25 import BM25Scorer
from rankdistill.teachers.scoring import score_pairs
from tests.teachers.test_teacher_scoring import _data

class Slow(BM25Scorer):
    def score(self, query, documents):
        time.sleep(0.4)
        return super().score(query, documents)

score_pairs(Slow(), _data(12), {str(path)!r}, progress=False)
"""
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=root)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if path.is_file() and path.read_text().count("\n") >= 2:
                break
            time.sleep(0.1)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    done_before = [r.qid for r in read_labels(path)]
    assert 2 <= len(done_before) < 12
    score_pairs(BM25Scorer(), _data(12), path, progress=False)
    assert sorted(r.qid for r in read_labels(path)) == sorted(f"q{i}" for i in range(12))
    assert [r.qid for r in read_labels(path)][: len(done_before)] == done_before


def test_shards_partition_the_queries_and_merge(tmp_path: Path) -> None:
    data = _data(10)
    out = tmp_path / "scores.jsonl"
    written = [score_pairs(BM25Scorer(), data, out, shard=(i, 3), progress=False) for i in range(3)]
    assert written == [shard_path(out, i, 3) for i in range(3)]
    assert written[1].name == "scores.shard-1-of-3.jsonl"
    per_shard = [{r.qid for r in read_labels(p)} for p in written]
    for i, qids in enumerate(per_shard):
        assert all(shard_of(q, 3) == i for q in qids)
    assert sum(len(s) for s in per_shard) == 10
    merged = read_labels(merge_shards(out, 3))
    assert sorted(r.qid for r in merged) == sorted(data.queries)
    # Stable across processes: a hash of the qid, not Python's salted hash().
    assert shard_of("q1", 3) == shard_of("q1", 3) and shard_of("1037496", 7) == 2


def test_shard_argument_validation(tmp_path: Path) -> None:
    assert parse_shard("1/4") == (1, 4)
    for bad in ("4/4", "x/2", "1"):
        with pytest.raises(ValueError):
            parse_shard(bad)
    with pytest.raises(FileNotFoundError, match="shard 1/2"):
        score_pairs(BM25Scorer(), _data(2), tmp_path / "a.jsonl", shard=(0, 2), progress=False)
        merge_shards(tmp_path / "a.jsonl", 2)
