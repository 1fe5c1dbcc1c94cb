"""Loading NFCorpus test, the out-of-domain set, with BM25's top 100 over its own corpus as
the candidates every benchmark re-ranks (exits clearly when absent)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

NFCORPUS_TEST = Path(__file__).resolve().parents[2] / "shared" / "data" / "nfcorpus" / "test"


def read_nfcorpus_test() -> Any:
    """The BEIR data of NFCorpus test; exits when ../shared/data is missing."""
    if not (NFCORPUS_TEST / "corpus.jsonl").is_file():
        sys.exit(f"NFCorpus test not found at {NFCORPUS_TEST}: this benchmark needs ../shared/data")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from rankdistill.data.beir import read_beir

    return read_beir(NFCORPUS_TEST, "test")


def bm25_top100(beir: Any) -> Any:
    """BM25's top 100 over the collection's corpus for each of its queries."""
    from rankdistill.retrieval.bm25 import BM25Retriever
    from rankdistill.retrieval.config import RetrievalConfig

    return BM25Retriever(RetrievalConfig(k=100)).index(beir.corpus).retrieve(beir.queries, 100)


def nfcorpus_test() -> Any:
    """RankingData of NFCorpus test: its queries, corpus and qrels, BM25's top 100."""
    from rankdistill.data.records import RankingData

    beir = read_nfcorpus_test()
    return RankingData(beir.queries, beir.corpus, bm25_top100(beir), beir.qrels)
