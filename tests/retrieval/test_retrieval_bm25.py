"""BM25 (bm25s) first stage and BM25 scorer."""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path

import pytest

from rankdistill.data.records import Document, Query
from rankdistill.retrieval.bm25 import META_FILE, BM25Retriever, BM25Scorer, tokenize
from rankdistill.retrieval.config import RetrievalConfig
from rankdistill.scoring import Scorer

CORPUS = {
    "d1": Document("d1", "The cat sat on the mat in the sun."),
    "d2": Document("d2", "Dogs are running in the park every morning."),
    "d3": Document("d3", "Volcanic eruptions release ash and sulfur dioxide into the atmosphere."),
    "d4": Document("d4", "A dog ran after a cat.", title="Pets"),
    "d5": Document("d5", "Stock markets fell sharply after the announcement."),
    "d6": Document("d6", "Ash trees are common in European forests."),
}
QUERIES = {
    "q1": Query("q1", "volcanic ash atmosphere"),
    "q2": Query("q2", "running dogs"),
    "q3": Query("q3", "zzzz qqqq"),  # no known term
}


def lucene_bm25(query: str, texts: list[str], config: RetrievalConfig) -> list[float]:
    """An independent implementation of Lucene's BM25 over the same tokens."""
    docs = [Counter(t) for t in tokenize(texts, config)]
    lengths = [sum(d.values()) for d in docs]
    avgdl = sum(lengths) / len(docs)
    scores = []
    for doc, length in zip(docs, lengths, strict=True):
        total = 0.0
        for term in tokenize([query], config)[0]:
            df = sum(1 for d in docs if term in d)
            if not df or term not in doc:
                continue
            idf = math.log(1 + (len(docs) - df + 0.5) / (df + 0.5))
            tf = doc[term]
            total += idf * tf / (tf + config.k1 * (1 - config.b + config.b * length / avgdl))
        scores.append(total)
    return scores


def test_doc_with_the_exact_query_terms_ranks_first() -> None:
    run = BM25Retriever(RetrievalConfig(), progress=False).index(CORPUS).retrieve(QUERIES, k=3)
    assert next(iter(run["q1"])) == "d3"
    # Stemming: "running dogs" matches "running"/"Dogs" (d2) and "dog" (d4).
    assert list(run["q2"])[:2] == ["d2", "d4"]
    # Documents sharing no term are not returned (as in Lucene).
    assert run["q3"] == {}
    assert set(run["q1"]) == {"d3", "d6"}


def test_scores_equal_an_independent_lucene_bm25() -> None:
    config = RetrievalConfig(k1=1.2, b=0.75)
    retriever = BM25Retriever(config, progress=False).index(CORPUS)
    texts = [d.full_text for d in CORPUS.values()]
    for query in QUERIES.values():
        expected = lucene_bm25(query.text, texts, config)
        assert list(retriever.full_scores(query)) == pytest.approx(expected, rel=1e-5)


def test_k_is_capped_at_corpus_size_and_defaults_to_config() -> None:
    retriever = BM25Retriever(RetrievalConfig(k=2), progress=False).index(CORPUS)
    assert len(retriever.retrieve({"q": "the cat dog ash markets running"})["q"]) == 2
    everything = retriever.retrieve({"q": "cat dog ash markets running"}, k=1000)["q"]
    assert len(everything) == 6  # every document matches a term; k capped at 6
    assert list(everything.values()) == sorted(everything.values(), reverse=True)


def test_stopwords_and_stemmer_are_configurable() -> None:
    stemmed = tokenize(["The dogs are running"], RetrievalConfig())[0]
    assert stemmed == ["dog", "run"]
    raw = tokenize(["The dogs are running"], RetrievalConfig(stemmer=None, stopwords=None))[0]
    assert raw == ["the", "dogs", "are", "running"]
    custom = tokenize(["The dogs are running"], RetrievalConfig(stemmer=None, stopwords=["dogs"]))
    assert custom[0] == ["the", "are", "running"]
    with pytest.raises(ValueError, match="PyStemmer"):
        tokenize(["x"], RetrievalConfig(stemmer="klingon"))


def test_save_load_round_trip(tmp_path: Path) -> None:
    config = RetrievalConfig(k1=1.1, b=0.6, stemmer="english", stopwords="en")
    retriever = BM25Retriever(config, progress=False).index(CORPUS)
    retriever.save(tmp_path / "index")
    assert (tmp_path / "index" / META_FILE).is_file()
    loaded = BM25Retriever.load(tmp_path / "index", progress=False)
    assert loaded.config == config
    assert loaded.docids == list(CORPUS)
    assert loaded.retrieve(QUERIES, k=6) == retriever.retrieve(QUERIES, k=6)
    with pytest.raises(FileNotFoundError, match="not a rankdistill BM25 index"):
        BM25Retriever.load(tmp_path)


def test_empty_corpus_and_unindexed_retriever_raise() -> None:
    with pytest.raises(ValueError, match="empty corpus"):
        BM25Retriever(progress=False).index({})
    with pytest.raises(RuntimeError, match="no index"):
        BM25Retriever(progress=False).retrieve(QUERIES)


def test_scorer_with_corpus_uses_corpus_statistics() -> None:
    scorer = BM25Scorer(corpus=CORPUS)
    assert isinstance(scorer, Scorer) and scorer.uses_corpus_statistics
    texts = [CORPUS["d6"].full_text, CORPUS["d3"].full_text]
    all_texts = [d.full_text for d in CORPUS.values()]
    full = lucene_bm25("volcanic ash", all_texts, scorer.config)
    assert scorer.score("volcanic ash", texts) == pytest.approx([full[5], full[2]], rel=1e-5)
    with pytest.raises(KeyError, match="not in its corpus"):
        scorer.score("ash", ["a text that is not in the corpus"])


def test_scorer_without_corpus_indexes_the_given_documents() -> None:
    scorer = BM25Scorer()
    assert not scorer.uses_corpus_statistics
    texts = [CORPUS["d6"].full_text, CORPUS["d3"].full_text, CORPUS["d1"].full_text]
    scores = scorer.score("volcanic ash", texts)
    assert scores == pytest.approx(lucene_bm25("volcanic ash", texts, scorer.config), rel=1e-5)
    assert scores[1] > scores[0] > scores[2] == 0.0
    assert scorer.score("the", texts) == [0.0, 0.0, 0.0]  # only a stopword
    assert scorer.score("ash", []) == []


@pytest.mark.shared_data
def test_bm25_on_dl2020_passages_reaches_a_sensible_ndcg(dl2020: Path) -> None:
    from rankdistill.data.qrels import read_qrels
    from rankdistill.data.rankllm import read_rankllm
    from rankdistill.evaluation.metrics import evaluate_run

    data = read_rankllm(dl2020 / "bm25-top100.json")
    qrels = read_qrels(dl2020 / "qrels.json")
    run = (
        BM25Retriever(RetrievalConfig(), progress=False)
        .index(data.corpus)
        .retrieve(data.queries, k=100)
    )
    assert len(run) == 54 and all(len(docs) == 100 for docs in run.values())
    ndcg = evaluate_run(run, qrels, ["nDCG@10"]).aggregate["nDCG@10"]
    # Indexing only the pooled passages shifts idf a little from the full MS MARCO index
    # (0.4796), so the value is near, not equal to, the reference.
    assert 0.35 < ndcg < 0.6
