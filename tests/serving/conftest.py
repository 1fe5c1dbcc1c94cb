"""Fixtures of the serving tests: a student folder exactly as training writes it (trained
at 128 tokens) and its torch engine; the service itself is
``tests.fixtures.service.running_service``."""

from __future__ import annotations

from pathlib import Path

import pytest

from rankdistill.serving.engine import Reranker
from tests.fixtures.students import TRAINED_LENGTH, build_once, build_student_dir


@pytest.fixture(scope="session")
def student_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A MiniLM cross-encoder saved by ``CrossEncoderStudent.save_for_inference``."""
    path = tmp_path_factory.getbasetemp() / "serving-models" / f"student-{TRAINED_LENGTH}"
    return build_once(path, build_student_dir, max_length=TRAINED_LENGTH)


@pytest.fixture(scope="session")
def student_engine(student_dir: Path) -> Reranker:
    """The torch engine at the student's own length (no max_length given)."""
    return Reranker.load(student_dir, backend="torch", threads=1)
