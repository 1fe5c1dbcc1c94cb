"""Loading TREC DL 2020 for the benchmarks that evaluate on it (exits clearly when absent)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DL2020 = ROOT.parent / "shared" / "data" / "trec-dl-2020"
RESULTS = ROOT / "benchmarks" / "results"


def load_dl2020() -> tuple[Any, Any]:
    """(RankingData of the BM25 top-100, qrels); exits when ../shared/data is missing."""
    if not (DL2020 / "bm25-top100.json").is_file():
        sys.exit(f"TREC DL 2020 not found at {DL2020}: this benchmark needs ../shared/data")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from rankdistill.data.qrels import read_qrels
    from rankdistill.data.rankllm import read_rankllm

    return read_rankllm(DL2020 / "bm25-top100.json"), read_qrels(DL2020 / "qrels.json")


def judged_dl2020() -> Any:
    """RankingData of the BM25 top-100 of the judged queries only, qrels included."""
    from rankdistill.data.records import RankingData

    data, qrels = load_dl2020()
    judged = {q: r for q, r in data.queries.items() if q in qrels and q in data.candidates}
    return RankingData(judged, data.corpus, data.candidates, qrels)
