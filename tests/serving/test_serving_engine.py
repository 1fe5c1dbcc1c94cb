"""The Reranker engine: scores equal an independent reference, permutation, stable ties,
top_n, length-sorted batching, truncation rules, threads, the Scorer interface."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

from rankdistill.scoring import Scorer
from rankdistill.serving.engine import Reranker, length_batches, rank_indices
from tests.fixtures.students import (
    DOCUMENTS,
    QUERIES,
    build_cross_encoder_dir,
    build_once,
    reference_scores,
)


@pytest.fixture(scope="module")
def student(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_once(
        tmp_path_factory.getbasetemp() / "serving-models" / "cross-encoder",
        build_cross_encoder_dir,
    )


@pytest.fixture(scope="module")
def engine(student: Path) -> Reranker:
    return Reranker.load(student, backend="torch", threads=1, batch_size=4)


def test_scores_match_per_pair_reference_and_sentence_transformers(
    student: Path, engine: Reranker
) -> None:
    from sentence_transformers import CrossEncoder

    docs = DOCUMENTS[:8]
    ours = np.array(engine.score(QUERIES[0], docs))
    reference = np.array(reference_scores(student, [(QUERIES[0], d) for d in docs]))
    assert np.abs(ours - reference).max() <= 1e-4
    baseline = CrossEncoder(str(student), max_length=256, device="cpu")
    # CrossEncoder applies a sigmoid to a one-logit model's output.
    st_scores = np.asarray(baseline.predict([(QUERIES[0], d) for d in docs])).reshape(-1)
    assert np.abs(1 / (1 + np.exp(-ours)) - st_scores).max() <= 1e-4
    assert isinstance(engine, Scorer) and engine.name == "cross-encoder[torch]"


def test_rerank_is_a_sorted_permutation_and_top_n_cuts_it(engine: Reranker) -> None:
    results = engine.rerank(QUERIES[1], DOCUMENTS)
    assert sorted(r.index for r in results) == list(range(len(DOCUMENTS)))
    scores = [r.score for r in results]
    assert scores == sorted(scores, reverse=True)
    assert all(r.document == DOCUMENTS[r.index] for r in results)
    top3 = engine.rerank(QUERIES[1], DOCUMENTS, top_n=3)
    assert [r.index for r in top3] == [r.index for r in results[:3]]
    assert engine.rerank(QUERIES[1], DOCUMENTS, top_n=100) == results
    assert engine.rerank(QUERIES[1], []) == []
    assert engine.score(QUERIES[1], []) == []
    with pytest.raises(ValueError, match="top_n"):
        engine.rerank(QUERIES[1], DOCUMENTS, top_n=-1)


def test_ties_keep_input_order() -> None:
    assert rank_indices([0.5, 0.9, 0.5, 0.9, 0.1]) == [1, 3, 0, 2, 4]
    assert rank_indices([float("nan"), 1.0, 0.0]) == [1, 2, 0]
    assert rank_indices([]) == []


def test_duplicate_documents_tie_and_keep_order(engine: Reranker) -> None:
    docs = ["same passage about vitamin d", "other text", "same passage about vitamin d"]
    scores = engine.score(QUERIES[5], docs)
    assert scores[0] == scores[2]
    order = [r.index for r in engine.rerank(QUERIES[5], docs)]
    assert order.index(0) < order.index(2)


def test_length_sorted_batching_restores_input_order(student: Path, engine: Reranker) -> None:
    docs = list(DOCUMENTS)
    random.Random(3).shuffle(docs)
    one_by_one = Reranker.load(student, backend="torch", batch_size=1)
    expected = np.array(one_by_one.score(QUERIES[2], docs))
    engine.stats.reset()
    got = np.array(engine.score(QUERIES[2], docs))
    assert np.abs(got - expected).max() <= 1e-4
    # Sorting by length pads far less than batching in input order would.
    lengths = sorted(len(engine.encoder.encode([QUERIES[2]], [d])["input_ids"][0]) for d in docs)
    in_order = [len(engine.encoder.encode([QUERIES[2]], [d])["input_ids"][0]) for d in docs]
    naive = sum(max(in_order[i : i + 4]) * len(in_order[i : i + 4]) for i in range(0, 10, 4))
    sorted_cost = sum(max(lengths[i : i + 4]) * len(lengths[i : i + 4]) for i in range(0, 10, 4))
    assert engine.stats.padded_tokens == sorted_cost <= naive
    assert engine.stats.real_tokens == sum(lengths)


def test_truncation_keeps_the_query_and_cuts_the_document(student: Path) -> None:
    short = Reranker.load(student, backend="torch", max_length=32)
    query = "vitamin d deficiency symptoms"
    doc = "Fatigue and bone pain can signal a lack of vitamin D. " * 10
    ids = short.encoder.encode([query], [doc])["input_ids"][0]
    assert len(ids) == 32
    q_ids = short.tokenizer(query, add_special_tokens=False)["input_ids"]
    assert ids[1 : 1 + len(q_ids)] == q_ids  # the whole query survives
    # Text beyond the cut cannot change the score.
    assert short.score(query, [doc])[0] == pytest.approx(
        short.score(query, [doc + " completely different words here"])[0], abs=1e-6
    )
    long_query = "why " * 100
    ids = short.encoder.encode([long_query], [doc])["input_ids"][0]
    assert len(ids) == 32 and ids.count(short.tokenizer.sep_token_id) == 2
    assert len(short.score(long_query, [doc, ""])) == 2


def test_threads_setting_and_bad_arguments(student: Path) -> None:
    import torch

    Reranker.load(student, backend="torch", threads=1)
    assert torch.get_num_threads() == 1
    with pytest.raises(ValueError, match="unknown backend"):
        Reranker.load(student, backend="tensorflow")
    with pytest.raises(ValueError, match="batch_size"):
        Reranker.load(student, backend="torch", batch_size=0)


def test_length_batches_cut_where_padding_would_exceed_the_slack() -> None:
    lengths = [10, 10, 11, 30, 31, 100]
    order = list(range(len(lengths)))
    assert length_batches(order, lengths, 4, None) == [[0, 1, 2, 3], [4, 5]]
    batches = length_batches(order, lengths, 4, 0.1)
    assert batches == [[0, 1, 2], [3, 4], [5]]
    for batch in batches:
        longest = max(lengths[i] for i in batch)
        assert longest * len(batch) <= 1.1 * sum(lengths[i] for i in batch)
    assert length_batches(order, lengths, 2, 10.0) == [[0, 1], [2, 3], [4, 5]]  # size still caps


def test_padding_slack_changes_batches_not_scores(student: Path, engine: Reranker) -> None:
    tight = Reranker.load(student, backend="torch", threads=1, batch_size=4, padding_slack=0.1)
    expected = np.array(engine.score(QUERIES[4], DOCUMENTS))
    engine.stats.reset()
    engine.score(QUERIES[4], DOCUMENTS)
    got = np.array(tight.score(QUERIES[4], DOCUMENTS))
    assert np.abs(got - expected).max() <= 1e-4
    assert tight.stats.padded_tokens < engine.stats.padded_tokens
    assert tight.stats.real_tokens == engine.stats.real_tokens
