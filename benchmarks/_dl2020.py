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
