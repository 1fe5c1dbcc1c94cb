"""Shared test fixtures.

Tests never reach the Hugging Face hub (HF_HUB_OFFLINE=1): a mistake fails fast instead
of hanging. Real TREC DL data is read from ../shared/data and the tests that need it skip
with a clear message when it is absent.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("RANKDISTILL_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The ../shared/data folder, or a skip naming what is missing."""
    if not (SHARED_DATA / "trec-dl-2020" / "bm25-top100.json").is_file():
        pytest.skip(
            f"real TREC DL data not found at {SHARED_DATA} "
            "(set RANKDISTILL_SHARED_DATA to the shared/data folder)"
        )
    return SHARED_DATA


@pytest.fixture(scope="session")
def dl2020(shared_data: Path) -> Path:
    return shared_data / "trec-dl-2020"
