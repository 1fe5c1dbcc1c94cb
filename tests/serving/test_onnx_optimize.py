"""The default exports are the optimised graphs (fused fp32; fused int8 of the default
variant) and score like the torch model: fp32 within 1e-4 of an independent one-pair-at-a-
time reference, int8 within 0.25 on scores of unit spread with the same ranking."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import spearmanr

from rankdistill.serving.engine import Reranker
from rankdistill.serving.onnx_optimize import (
    DEFAULT_INT8_VARIANT,
    INT8_VARIANTS,
    op_counts,
    optimize_export,
)
from tests.fixtures.students import (
    DOCUMENTS,
    QUERIES,
    build_cross_encoder_dir,
    build_once,
    export_once,
    reference_scores,
)

FP32_TOL = 1e-4
INT8_TOL = 0.25
LAYERS = 6  # all-MiniLM-L6-v2


def _models(factory: pytest.TempPathFactory) -> Path:
    return factory.getbasetemp() / "serving-models"  # shared with the other export tests


@pytest.fixture(scope="module")
def student(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_once(_models(tmp_path_factory) / "cross-encoder", build_cross_encoder_dir)


@pytest.fixture(scope="module")
def reference(student: Path) -> np.ndarray:
    pairs = [(q, d) for q in QUERIES for d in DOCUMENTS]
    return np.array(reference_scores(student, pairs)).reshape(len(QUERIES), -1)


def _scores(path: Path, backend: str) -> np.ndarray:
    engine = Reranker.load(path, backend=backend, threads=1, batch_size=4)
    return np.array([engine.score(q, DOCUMENTS) for q in QUERIES])


def test_fp32_export_is_fused_and_scores_like_the_model(
    tmp_path_factory: pytest.TempPathFactory, student: Path, reference: np.ndarray
) -> None:
    exported = export_once(student, _models(tmp_path_factory) / "cross-encoder-onnx", "onnx")
    fusion = json.loads((exported / "rankdistill.json").read_text())["graph_optimization"]
    assert fusion["fusion"]["fused"] is True
    counts = op_counts(exported / "model.onnx")
    assert counts.get("Attention") == LAYERS
    assert counts.get("SkipLayerNormalization") == 2 * LAYERS
    assert counts.get("EmbedLayerNormalization") == 1
    assert "Softmax" not in counts  # the attention really is the fused op
    scores = _scores(exported, "onnx")
    assert np.abs(scores - reference).max() <= FP32_TOL
    assert reference.std() > 0.5  # the scores vary, so the comparison means something


def test_int8_export_is_the_default_variant_and_ranks_like_the_model(
    tmp_path_factory: pytest.TempPathFactory, student: Path, reference: np.ndarray
) -> None:
    exported = export_once(student, _models(tmp_path_factory) / "cross-encoder-int8", "onnx-int8")
    manifest = json.loads((exported / "rankdistill.json").read_text())
    variant = INT8_VARIANTS[DEFAULT_INT8_VARIANT]
    assert manifest["graph_optimization"]["int8_variant"]["name"] == DEFAULT_INT8_VARIANT
    assert manifest["quantization"]["op_types"] == list(variant.op_types)
    counts = op_counts(exported / "model.onnx")
    assert counts.get("MatMulInteger", 0) >= 2 * LAYERS  # the two feed-forward layers
    if "Attention" in variant.op_types:
        assert counts.get("QAttention") == LAYERS
    scores = _scores(exported, "onnx-int8")
    assert 0 < np.abs(scores - reference).max() <= INT8_TOL
    agreement = np.mean([spearmanr(a, b)[0] for a, b in zip(scores, reference, strict=True)])
    assert agreement >= 0.9
    assert np.mean(scores.argmax(axis=1) == reference.argmax(axis=1)) >= 0.8


def test_unknown_variant_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown int8 variant 'int3'"):
        optimize_export(
            tmp_path / "a.onnx", tmp_path / "b.onnx", tmp_path, int8=True, variant="int3"
        )
