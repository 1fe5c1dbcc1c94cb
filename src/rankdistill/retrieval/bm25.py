"""BM25 on bm25s: a first-stage retriever and a pre-ranking :class:`~rankdistill.scoring.Scorer`.

Tokenisation is bm25s's (lower-casing, the ``\\w\\w+`` regex), then stopword removal and
PyStemmer stemming as configured (:class:`~rankdistill.retrieval.config.RetrievalConfig`).
Documents are indexed by their ``full_text`` (title and body), the text every ranker sees.
Indexes are saved as bm25s's numpy arrays (loaded with ``allow_pickle=False``) plus JSON.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from rankdistill.data.records import Document, Query, Run
from rankdistill.retrieval.config import RetrievalConfig
from rankdistill.utils import atomic_write_json

META_FILE = "rankdistill_bm25.json"
FORMAT_VERSION = 1


def _stemmer(config: RetrievalConfig) -> Any:
    if not config.stemmer:
        return None
    import Stemmer

    try:
        return Stemmer.Stemmer(config.stemmer)
    except KeyError as exc:
        raise ValueError(
            f"retrieval.stemmer {config.stemmer!r} is not a PyStemmer language "
            f"(available: {', '.join(Stemmer.algorithms())})"
        ) from exc


def tokenize(
    texts: Sequence[str], config: RetrievalConfig, progress: bool = False
) -> list[list[str]]:
    """Token strings of each text, with the configured stopwords and stemmer."""
    import bm25s

    if not texts:
        return []
    return bm25s.tokenize(
        list(texts),
        stopwords=config.stopwords or [],
        stemmer=_stemmer(config),
        return_ids=False,
        show_progress=progress,
    )


def _new_bm25(config: RetrievalConfig) -> Any:
    import bm25s

    return bm25s.BM25(k1=config.k1, b=config.b, method=config.bm25_variant)


def _query_text(query: Query | str) -> str:
    return query.text if isinstance(query, Query) else str(query)


class BM25Retriever:
    """First-stage BM25 retrieval over a corpus.

    >>> run = BM25Retriever(RetrievalConfig(k=100)).index(corpus).retrieve(queries)

    Documents that share no term with a query (score 0) are not returned, as in Lucene, so
    a query may get fewer than ``k`` documents.
    """

    def __init__(
        self,
        config: RetrievalConfig | None = None,
        *,
        batch_size: int = 256,
        progress: bool = True,
    ) -> None:
        self.config = config or RetrievalConfig()
        self.batch_size = batch_size
        self.progress = progress
        self._bm25: Any = None
        self.docids: list[str] = []

    @property
    def num_docs(self) -> int:
        return len(self.docids)

    def _require_index(self) -> None:
        if self._bm25 is None:
            raise RuntimeError("BM25Retriever has no index: call .index(corpus) or .load(dir)")

    def index(self, corpus: Mapping[str, Document]) -> BM25Retriever:
        """Index every document's ``full_text``; returns ``self`` for chaining."""
        if not corpus:
            raise ValueError("cannot build a BM25 index over an empty corpus")
        self.docids = [str(d) for d in corpus]
        tokens = tokenize([doc.full_text for doc in corpus.values()], self.config, self.progress)
        self._bm25 = _new_bm25(self.config)
        self._bm25.index(tokens, show_progress=self.progress)
        return self

    def full_scores(self, query: Query | str) -> np.ndarray:
        """BM25 score of ``query`` against every indexed document, in index order."""
        self._require_index()
        tokens = tokenize([_query_text(query)], self.config)[0]
        if not tokens:
            return np.zeros(self.num_docs, dtype=np.float32)
        return self._bm25.get_scores(tokens)

    def retrieve(self, queries: Mapping[str, Query | str], k: int | None = None) -> Run:
        """Top-``k`` documents per query (default ``config.k``, capped at the corpus size)."""
        self._require_index()
        k = min(self.config.k if k is None else k, self.num_docs)
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        qids = list(queries)
        run: Run = {}
        batches = range(0, len(qids), self.batch_size)
        bar = tqdm(total=len(qids), desc="bm25 retrieve", unit="q", disable=not self.progress)
        with bar:
            for start in batches:
                batch = qids[start : start + self.batch_size]
                tokens = tokenize([_query_text(queries[q]) for q in batch], self.config)
                docs, scores = self._bm25.retrieve(tokens, k=k, show_progress=False, n_threads=0)
                for qid, indices, values in zip(batch, docs, scores, strict=True):
                    run[str(qid)] = {
                        self.docids[int(i)]: float(s)
                        for i, s in zip(indices, values, strict=True)
                        if s > 0
                    }
                bar.update(len(batch))
        return run

    def save(self, directory: str | Path) -> Path:
        """Write the index (numpy arrays + JSON, no pickle) and its settings and docids."""
        self._require_index()
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self._bm25.save(str(directory))
        atomic_write_json(
            directory / META_FILE,
            {
                "format_version": FORMAT_VERSION,
                "config": self.config.model_dump(mode="json"),
                "docids": self.docids,
            },
        )
        return directory

    @classmethod
    def load(cls, directory: str | Path, *, progress: bool = True) -> BM25Retriever:
        """Read an index written by :meth:`save`."""
        import bm25s

        directory = Path(directory)
        meta_path = directory / META_FILE
        if not meta_path.is_file():
            raise FileNotFoundError(f"{directory}: not a rankdistill BM25 index (no {META_FILE})")
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        if meta.get("format_version") != FORMAT_VERSION:
            raise ValueError(
                f"{meta_path}: unsupported format_version {meta.get('format_version')!r}"
            )
        retriever = cls(RetrievalConfig.model_validate(meta["config"]), progress=progress)
        retriever._bm25 = bm25s.BM25.load(str(directory), load_corpus=False, allow_pickle=False)
        retriever.docids = [str(d) for d in meta["docids"]]
        if retriever._bm25.scores["num_docs"] != len(retriever.docids):
            raise ValueError(f"{meta_path}: docids do not match the index's document count")
        return retriever


class BM25Scorer:
    """BM25 as a :class:`~rankdistill.scoring.Scorer` for pre-ranking candidate lists.

    - **Built with a corpus** (``BM25Scorer(corpus=data.corpus)``): the whole corpus is
      indexed once and documents are scored with corpus-wide statistics (idf, average
      length). A text is found by exact match on a document's ``full_text``; a text that is
      not in the corpus raises ``KeyError`` (mixing statistics would make scores of one
      list incomparable).
    - **Built without a corpus**: each call indexes just the given documents, so idf and
      average length come from that candidate list alone.
    """

    name = "bm25"

    def __init__(
        self,
        config: RetrievalConfig | None = None,
        corpus: Mapping[str, Document] | None = None,
        *,
        progress: bool = False,
    ) -> None:
        self.config = config or RetrievalConfig()
        self._retriever: BM25Retriever | None = None
        self._position: dict[str, int] = {}
        if corpus is not None:
            self._retriever = BM25Retriever(self.config, progress=progress).index(corpus)
            for i, doc in enumerate(corpus.values()):
                # Identical texts score identically, so the first position serves all.
                self._position.setdefault(doc.full_text, i)

    @property
    def uses_corpus_statistics(self) -> bool:
        return self._retriever is not None

    def score(self, query: str, documents: Sequence[str]) -> list[float]:
        """BM25 score of each document for ``query`` (higher is more relevant)."""
        if not documents:
            return []
        if self._retriever is not None:
            return self._score_in_corpus(query, documents)
        return self._score_on_the_fly(query, documents)

    def _score_in_corpus(self, query: str, documents: Sequence[str]) -> list[float]:
        assert self._retriever is not None
        positions = []
        for text in documents:
            if text not in self._position:
                raise KeyError(
                    f"BM25Scorer (corpus statistics) got a text that is not in its corpus: "
                    f"{text[:80]!r}; build BM25Scorer() without a corpus to score arbitrary texts"
                )
            positions.append(self._position[text])
        scores = self._retriever.full_scores(query)
        return [float(scores[i]) for i in positions]

    def _score_on_the_fly(self, query: str, documents: Sequence[str]) -> list[float]:
        query_tokens = tokenize([query], self.config)[0]
        if not query_tokens:
            return [0.0] * len(documents)
        bm25 = _new_bm25(self.config)
        bm25.index(tokenize(list(documents), self.config), show_progress=False)
        return [float(s) for s in bm25.get_scores(query_tokens)]
