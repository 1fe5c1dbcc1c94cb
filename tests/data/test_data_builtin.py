"""The embedded demo collection: sizes, determinism, graded qrels, lexical distractors."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path
from statistics import median

import pytest

from rankdistill.data.builtin import _build, builtin_dataset
from rankdistill.data.records import RankingData


def _digest(data: RankingData) -> str:
    payload = {
        "queries": [[q.qid, q.text, q.frequency] for q in data.queries.values()],
        "corpus": [[d.docid, d.title, d.text] for d in data.corpus.values()],
        "qrels": data.qrels,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


@pytest.fixture(scope="module")
def train() -> RankingData:
    return builtin_dataset("train")


@pytest.fixture(scope="module")
def dev() -> RankingData:
    return builtin_dataset("dev")


def test_sizes(train: RankingData, dev: RankingData) -> None:
    assert len(train.queries) == 80 and len(dev.queries) == 40
    assert 1500 <= len(dev.corpus) <= 3000
    assert train.corpus == dev.corpus
    assert not set(train.queries) & set(dev.queries)
    assert train.candidates == {} and dev.candidates == {}
    assert len({q.text for q in [*train.queries.values(), *dev.queries.values()]}) == 120
    assert all(doc.text and doc.title for doc in dev.corpus.values())


def test_deterministic_across_builds_and_processes(dev: RankingData) -> None:
    expected = _digest(dev)
    _build.cache_clear()
    assert _digest(builtin_dataset("dev")) == expected
    repo = Path(__file__).resolve().parents[2]
    code = (
        f"import sys; sys.path[:0] = [{str(repo)!r}]\n"
        "from tests.data.test_data_builtin import _digest\n"
        "from rankdistill.data.builtin import builtin_dataset\n"
        "print(_digest(builtin_dataset('dev')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONHASHSEED": "12345", "PATH": ""},
    )
    assert out.stdout.strip() == expected


def test_each_call_returns_fresh_containers() -> None:
    first = builtin_dataset("dev")
    first.queries.clear()
    assert first.qrels is not None
    next(iter(first.qrels.values())).clear()
    again = builtin_dataset("dev")
    assert len(again.queries) == 40
    assert again.qrels is not None and all(len(j) == 17 for j in again.qrels.values())


@pytest.mark.parametrize("split", ["train", "dev"])
def test_graded_qrels_structure(split: str) -> None:
    data = builtin_dataset(split)  # type: ignore[arg-type]
    assert data.qrels is not None and set(data.qrels) == set(data.queries)
    for judged in data.qrels.values():
        grades = sorted(judged.values())
        assert grades.count(3) == 1 and grades.count(2) == 1
        assert grades.count(1) == 8 and grades.count(0) == 7
        assert all(docid in data.corpus for docid in judged)


def test_answer_passage_is_about_the_query_entity(dev: RankingData) -> None:
    assert dev.qrels is not None
    for qid, judged in dev.qrels.items():
        answer = next(d for d, g in judged.items() if g == 3)
        title = dev.corpus[answer].title or ""
        # The entity's name (title) appears in the query, case-insensitively.
        assert title.lower() in dev.queries[qid].text.lower(), (qid, title)


def test_train_and_dev_use_disjoint_entities(train: RankingData, dev: RankingData) -> None:
    assert train.qrels is not None and dev.qrels is not None
    relevant_train = {d for j in train.qrels.values() for d, g in j.items() if g >= 1}
    relevant_dev = {d for j in dev.qrels.values() for d, g in j.items() if g >= 1}
    assert not relevant_train & relevant_dev


def test_phrasings_and_zipf_frequencies(train: RankingData, dev: RankingData) -> None:
    for data in (train, dev):
        lengths = [len(q.text.split()) for q in data.queries.values()]
        assert min(lengths) <= 3 and max(lengths) >= 12
        assert sum(n <= 3 for n in lengths) >= len(lengths) // 5
        assert sum(n >= 9 for n in lengths) >= len(lengths) // 5
    queries = [*train.queries.values(), *dev.queries.values()]
    counts = sorted((q.frequency or 0 for q in queries), reverse=True)
    assert counts[-1] >= 1 and counts[0] >= 100 * counts[-1]
    assert counts[0] > 2 * counts[2]  # a steep head, as in a Zipf law
    short = [q.frequency or 0 for q in queries if len(q.text.split()) <= 3]
    wordy = [q.frequency or 0 for q in queries if len(q.text.split()) >= 9]
    assert median(short) > 2 * median(wordy)


def test_bm25_is_misled_by_lexical_distractors_on_questions(dev: RankingData) -> None:
    import bm25s
    import ir_measures
    import Stemmer

    assert dev.qrels is not None
    docids = list(dev.corpus)
    stemmer = Stemmer.Stemmer("english")
    retriever = bm25s.BM25()
    retriever.index(
        bm25s.tokenize(
            [dev.corpus[d].full_text for d in docids],
            stopwords="en",
            stemmer=stemmer,
            show_progress=False,
        ),
        show_progress=False,
    )
    qids = list(dev.queries)
    tokens = bm25s.tokenize(
        [dev.queries[q].text for q in qids], stopwords="en", stemmer=stemmer, show_progress=False
    )
    results, scores = retriever.retrieve(tokens, k=50, show_progress=False)
    run = {
        qid: {docids[i]: float(s) for i, s in zip(results[n], scores[n], strict=True)}
        for n, qid in enumerate(qids)
    }
    misled, questions, easy, keywords = 0, 0, 0, 0
    for qid in qids:
        ranked = sorted(run[qid], key=lambda d: -run[qid][d])
        judged = dev.qrels[qid]
        answer = next(d for d, g in judged.items() if g == 3)
        answer_rank = ranked.index(answer) if answer in ranked else len(ranked)
        distractor_above = any(judged.get(d) == 0 for d in ranked[:answer_rank])
        if len(dev.queries[qid].text.split()) >= 6:
            questions += 1
            misled += distractor_above
        elif len(dev.queries[qid].text.split()) <= 3:
            keywords += 1
            easy += answer_rank < 3
    assert questions >= 10 and misled / questions >= 0.6
    assert keywords >= 5 and easy / keywords >= 0.6
    ndcg = ir_measures.calc_aggregate([ir_measures.nDCG @ 10], dev.qrels, run)[
        ir_measures.nDCG @ 10
    ]
    assert 0.3 < ndcg < 0.75  # clearly imperfect, yet far from random
