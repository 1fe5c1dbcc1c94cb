"""Bi-encoder scorer on the packaged all-MiniLM-L6-v2 weights."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest

from rankdistill.resources import resolve_model
from rankdistill.retrieval.dense import BiEncoderScorer
from rankdistill.scoring import Scorer

DOCS = [
    "Bananas are yellow fruit rich in potassium.",
    "Paris is the capital and largest city of France.",
    "The Eiffel Tower is a landmark in Paris.",
]


@pytest.fixture(scope="module")
def scorer() -> BiEncoderScorer:
    import torch

    torch.set_num_threads(1)
    return BiEncoderScorer("minilm-l6", device="cpu", batch_size=8)


def test_scores_are_cosine_similarities(scorer: BiEncoderScorer) -> None:
    from sentence_transformers import SentenceTransformer

    assert isinstance(scorer, Scorer) and scorer.name == "bi-encoder:minilm-l6"
    query = "what is the capital of france"
    scores = scorer.score(query, DOCS)
    reference = SentenceTransformer(resolve_model("minilm-l6").path, device="cpu")
    q = reference.encode([query])[0]
    d = reference.encode(DOCS)
    cosine = d @ q / (np.linalg.norm(d, axis=1) * np.linalg.norm(q))
    assert scores == pytest.approx(cosine.tolist(), abs=1e-5)
    assert int(np.argmax(scores)) == 1 and scores[0] < 0.2
    assert scorer.score(query, []) == []


def test_unnormalised_scores_are_dot_products(scorer: BiEncoderScorer) -> None:
    dot = copy.copy(scorer)  # shares the loaded model
    dot.normalize = False
    query = "capital of france"
    raw_q = scorer.model.encode([query])[0]
    raw_d = scorer.model.encode(DOCS)
    assert dot.score(query, DOCS) == pytest.approx((raw_d @ raw_q).tolist(), rel=1e-4)


@pytest.mark.slow
@pytest.mark.shared_data
def test_minilm_reranks_dl2020_above_bm25(dl2020: Path, scorer: BiEncoderScorer) -> None:
    from rankdistill.data.qrels import read_qrels
    from rankdistill.data.rankllm import read_rankllm
    from rankdistill.evaluation.metrics import evaluate_run
    from rankdistill.scoring import rerank_run

    data = read_rankllm(dl2020 / "bm25-top100.json")
    run = rerank_run(scorer, data, k=100, progress=False)
    ndcg = evaluate_run(run, read_qrels(dl2020 / "qrels.json"), ["nDCG@10"]).aggregate["nDCG@10"]
    assert ndcg > 0.55  # MODELS.md measured 0.61; BM25 is 0.48


def test_document_cache_encodes_each_text_once_and_changes_no_score(
    scorer: BiEncoderScorer,
) -> None:
    cached = copy.copy(scorer)
    cached._doc_cache = type(scorer._doc_cache)()
    seen: list[str] = []
    encode_document = scorer.model.encode_document

    class _Counting:
        def __getattr__(self, name: str):  # everything else from the real model
            return getattr(scorer.model, name)

        def encode_document(self, texts: list[str], **kwargs):
            seen.extend(texts)
            return encode_document(texts, **kwargs)

    cached.model = _Counting()
    first = cached.score("capital of france", [DOCS[1], DOCS[2], DOCS[1]])
    second = cached.score("yellow fruit", DOCS)
    assert seen == [DOCS[1], DOCS[2], DOCS[0]]  # duplicates and repeats are not re-encoded
    uncached = copy.copy(scorer)
    uncached._doc_cache = type(scorer._doc_cache)()
    uncached.cache_size = 0
    assert first == pytest.approx(uncached.score("capital of france", [DOCS[1], DOCS[2], DOCS[1]]))
    assert second == pytest.approx(uncached.score("yellow fruit", DOCS), abs=1e-6)
    assert len(uncached._doc_cache) == 0

    small = copy.copy(scorer)
    small._doc_cache = type(scorer._doc_cache)()
    small.cache_size = 2
    small.score("q", DOCS)
    assert list(small._doc_cache) == DOCS[1:]  # oldest evicted first


def test_a_shorter_reading_length_cuts_long_documents_and_drops_their_cached_embeddings() -> None:
    from sentence_transformers import SentenceTransformer

    scorer = BiEncoderScorer("minilm-l6", device="cpu", batch_size=8)
    query = "capital of france"
    long_doc = DOCS[1] + " " + " ".join(["Bananas grow in tropical plantations."] * 20)
    full = scorer.score(query, [DOCS[1], long_doc])
    scorer.max_length = 16
    assert scorer.max_length == 16 == scorer.model.max_seq_length
    cut = scorer.score(query, [DOCS[1], long_doc])
    # The sentence fits 16 tokens; of the long document only its opening about Paris does.
    assert cut[0] == pytest.approx(full[0], abs=1e-5)
    assert cut[1] > full[1] + 0.1
    reference = SentenceTransformer(resolve_model("minilm-l6").path, device="cpu")
    reference.max_seq_length = 16
    q, d = reference.encode([query, long_doc], normalize_embeddings=True)
    assert cut[1] == pytest.approx(float(d @ q), abs=1e-5)
