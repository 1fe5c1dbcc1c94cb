"""Long documents score alike through every output of a student trained at 128 tokens:
the torch engine, the ONNX export, the sentence-transformers export and the service started
by ``rankdistill serve`` with its defaults (the length comes from the student's manifest).

Serving at any other length (256 was the old default) changes these scores, which the last
test shows, so the parity assertions fail on that mismatch.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from rankdistill.scoring_windows import WindowConfig
from rankdistill.serving.engine import Reranker
from rankdistill.serving.export import export_onnx, export_sentence_transformers
from tests.fixtures.service import free_port, running_service
from tests.fixtures.students import DOCUMENTS, QUERIES, TRAINED_LENGTH, reference_scores

TOL = 1e-4
QUERY = QUERIES[2]
# Four different documents of about 300 tokens: far past the trained 128.
LONG_DOCUMENTS = [" ".join(DOCUMENTS[(i + j) % 8] for j in range(8)) * 2 for i in range(4)]


@pytest.fixture(scope="module")
def exports(student_dir: Path) -> dict[str, Path]:
    out = student_dir.parent / f"{student_dir.name}-exports"
    paths = {"onnx": out / "onnx", "sentence-transformers": out / "sentence-transformers"}
    if not (paths["onnx"] / "rankdistill.json").is_file():
        export_onnx(student_dir, paths["onnx"])
    if not (paths["sentence-transformers"] / "rankdistill.json").is_file():
        export_sentence_transformers(student_dir, paths["sentence-transformers"])
    return paths


@pytest.fixture(scope="module")
def st_scores(exports: dict[str, Path]) -> np.ndarray:
    """The sentence-transformers export, loaded as users load it (no length given)."""
    from sentence_transformers import CrossEncoder

    model = CrossEncoder(str(exports["sentence-transformers"]), device="cpu")
    # save_for_inference sets the identity activation: predict returns the logit.
    return np.asarray(model.predict([(QUERY, d) for d in LONG_DOCUMENTS])).reshape(-1)


def _serve_cli(model_dir: Path, *options: str) -> subprocess.Popen[bytes]:
    port = free_port()
    cmd = [
        sys.executable,
        "-c",
        "from rankdistill.cli.main import app; app()",
        "serve",
        str(model_dir),
        "--port",
        str(port),
        "--threads",
        "1",
        *options,
    ]
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    proc.url = f"http://127.0.0.1:{port}"  # type: ignore[attr-defined]
    return proc


def _wait_healthy(proc: subprocess.Popen[bytes]) -> str:
    url: str = proc.url  # type: ignore[attr-defined]
    deadline = time.monotonic() + 180
    while True:
        assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return url
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "rankdistill serve did not come up"
        time.sleep(0.25)


@pytest.fixture(scope="module")
def cli_service(exports: dict[str, Path]) -> Iterator[str]:
    """``rankdistill serve`` on the ONNX export, defaults but whole-document truncation
    (``--aggregation first``) and raw logits, to compare with the exports one to one."""
    proc = _serve_cli(
        exports["onnx"], "--backend", "onnx", "--aggregation", "first", "--raw-scores"
    )
    try:
        yield _wait_healthy(proc)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _service_scores(url: str, route: str = "/v2/rerank") -> tuple[np.ndarray, dict[str, Any]]:
    body = {"model": "student", "query": QUERY, "documents": LONG_DOCUMENTS}
    response = httpx.post(f"{url}{route}", json=body, timeout=120)
    assert response.status_code == 200, response.text
    answer = response.json()
    scores = np.empty(len(LONG_DOCUMENTS))
    for result in answer["results"]:
        scores[result["index"]] = result["relevance_score"]
    return scores, answer


def test_sentence_transformers_export_scores_at_the_trained_length(
    student_dir: Path, st_scores: np.ndarray
) -> None:
    pairs = [(QUERY, d) for d in LONG_DOCUMENTS]
    reference = np.array(reference_scores(student_dir, pairs, max_length=TRAINED_LENGTH))
    assert np.abs(st_scores - reference).max() <= TOL


def test_torch_and_onnx_engines_match_the_sentence_transformers_export(
    student_engine: Reranker, exports: dict[str, Path], st_scores: np.ndarray
) -> None:
    onnx = Reranker.load(exports["onnx"], backend="onnx", threads=1)
    assert student_engine.max_length == onnx.max_length == TRAINED_LENGTH
    assert np.abs(np.array(student_engine.score(QUERY, LONG_DOCUMENTS)) - st_scores).max() <= TOL
    assert np.abs(np.array(onnx.score(QUERY, LONG_DOCUMENTS)) - st_scores).max() <= TOL


def test_rankdistill_serve_defaults_match_the_exports(
    cli_service: str, st_scores: np.ndarray
) -> None:
    served, answer = _service_scores(cli_service)
    assert answer["meta"]["max_length"] == TRAINED_LENGTH
    assert answer["meta"]["score"] == "logit"
    assert answer["meta"]["windows_scored"] == len(LONG_DOCUMENTS)  # one per document
    assert np.abs(served - st_scores).max() <= TOL


def test_windows_score_each_window_like_the_export(
    student_engine: Reranker,
    exports: dict[str, Path],
) -> None:
    """With the default windows (max), a long document's score is the best of its windows,
    each scored as the sentence-transformers export scores that text."""
    from sentence_transformers import CrossEncoder

    with running_service(student_engine, raw_scores=True) as url:
        served, answer = _service_scores(url, "/v1/rerank")
    plan = student_engine.plan_windows(QUERY, LONG_DOCUMENTS, WindowConfig())
    assert answer["meta"]["windows_scored"] == len(plan.texts) > len(LONG_DOCUMENTS)
    model = CrossEncoder(str(exports["sentence-transformers"]), device="cpu")
    window_scores = np.asarray(model.predict([(QUERY, t) for t in plan.texts])).reshape(-1)
    best = [float(window_scores[start : start + n].max()) for start, n in _spans(plan.counts)]
    assert np.abs(served - np.array(best)).max() <= TOL


def _spans(counts: list[int]) -> Iterator[tuple[int, int]]:
    start = 0
    for n in counts:
        yield start, n
        start += n


def test_another_length_would_break_parity(student_dir: Path, st_scores: np.ndarray) -> None:
    """The check above can fail: at 256 tokens the same documents score differently."""
    at_256 = Reranker.load(student_dir, backend="torch", threads=1, max_length=256)
    assert np.abs(np.array(at_256.score(QUERY, LONG_DOCUMENTS)) - st_scores).max() > 100 * TOL
