"""Plumbing of the speed benchmarks: the peak GEMM graphs compute the products they are
timed for, each backend is compared with the peak of its own number type, and the
training benchmark's teacher scores are z-scored per query."""

from __future__ import annotations

import statistics
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from tests.fixtures.benchmarks import load_benchmark

ROOT = Path(__file__).resolve().parents[2]


def _load(name: str) -> ModuleType:
    return load_benchmark(name)


@pytest.mark.parametrize("kind", ["fp32", "u8s8", "u8u8"])
def test_peak_gemm_graph_computes_the_product(kind: str) -> None:
    inference = _load("inference")
    from onnx import numpy_helper

    model, a = inference.gemm_graph(kind, 48)
    session = inference._ort_session(model, threads=1)
    b = numpy_helper.to_array(model.graph.initializer[0])
    if kind == "fp32":
        (got,) = session.run(None, {"A": a})
        np.testing.assert_allclose(got, a @ b, rtol=1e-4, atol=1e-3)
        return
    assert b.dtype == (np.int8 if kind == "u8s8" else np.uint8)
    # 7-bit activations: exact on every kernel (u8 x s8 on AVX2 without VNNI sums pairs
    # of products in 16 bits, which full-range uint8 x int8 can overflow).
    a = a // 2
    (got,) = session.run(None, {"A": a})
    assert got.dtype == np.int32
    assert np.array_equal(got, a.astype(np.int64) @ b.astype(np.int64))


def test_each_backend_is_measured_against_its_own_peak() -> None:
    inference = _load("inference")
    assert inference.peak_key("sentence-transformers", None) == "torch-fp32"
    assert inference.peak_key("torch", None) == "torch-fp32"
    assert inference.peak_key("onnx", None) == "onnxruntime-fp32"
    assert inference.peak_key("onnx-int8", {"weight_type": "QInt8"}) == "onnxruntime-u8s8"
    assert inference.peak_key("onnx-int8", {"weight_type": "QUInt8"}) == "onnxruntime-u8u8"


def test_teacher_scores_are_z_scored_per_query() -> None:
    from rankdistill.data.records import Document, Query, RankingData

    throughput = _load("train_throughput")
    data = RankingData(
        queries={"q1": Query("q1", "a"), "q2": Query("q2", "b")},
        corpus={d: Document(d, d) for d in ("d1", "d2", "d3")},
        candidates={"q1": {"d1": 12.0, "d2": 9.0, "d3": 3.0}, "q2": {"d1": 5.0, "d3": 5.0}},
    )
    records = {r.qid: r for r in throughput.z_scored_labels(data)}
    q1 = list(records["q1"].scores.values())
    assert statistics.fmean(q1) == pytest.approx(0.0, abs=1e-12)
    assert statistics.pstdev(q1) == pytest.approx(1.0)
    assert records["q1"].scores["d1"] > records["q1"].scores["d2"] > records["q1"].scores["d3"]
    assert records["q2"].scores == {"d1": 0.0, "d3": 0.0}  # no spread: no division by 0


def test_serve_batch_size_default_is_the_fastest_measured() -> None:
    """The engine's default batch size is the one the recorded inference benchmark found
    fastest for the default (int8) backend, so re-measuring on other hardware flags it."""
    import json

    from rankdistill.serving.config import DEFAULT_BATCH_SIZE, ServeConfig

    results = Path(__file__).resolve().parents[2] / "benchmarks" / "results" / "inference.json"
    table = json.loads(results.read_text())["onnx_int8_pairs_per_second_by_batch_size"]
    fastest = max(table, key=table.get)
    assert int(fastest) == DEFAULT_BATCH_SIZE == ServeConfig().batch_size
    assert ServeConfig().backend == "onnx-int8"
