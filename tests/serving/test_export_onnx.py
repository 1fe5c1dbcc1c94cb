"""ONNX export: parity with PyTorch (fp32 within 1e-4 abs; int8 within 0.25 abs on scores of
unit spread, same top document on most queries), graph layout, RRA-GPT, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import spearmanr

from rankdistill.data.errors import DataFormatError
from rankdistill.serving.engine import Reranker
from tests.fixtures.students import (
    DOCUMENTS,
    QUERIES,
    build_cross_encoder_dir,
    build_once,
    build_tiny_rra_gpt_dir,
    export_once,
    reference_scores,
)

FP32_TOL = 1e-4
INT8_TOL = 0.25  # on scores scaled to unit standard deviation across documents


def _models(factory: pytest.TempPathFactory) -> Path:
    # The session's base temp folder: every test module reuses what another built.
    return factory.getbasetemp() / "serving-models"


@pytest.fixture(scope="module")
def student(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_once(_models(tmp_path_factory) / "cross-encoder", build_cross_encoder_dir)


@pytest.fixture(scope="module")
def fp32_dir(tmp_path_factory: pytest.TempPathFactory, student: Path) -> Path:
    return export_once(student, _models(tmp_path_factory) / "cross-encoder-onnx", "onnx")


@pytest.fixture(scope="module")
def int8_dir(tmp_path_factory: pytest.TempPathFactory, student: Path) -> Path:
    return export_once(student, _models(tmp_path_factory) / "cross-encoder-int8", "onnx-int8")


def _all_scores(reranker: Reranker) -> np.ndarray:
    return np.array([reranker.score(q, DOCUMENTS) for q in QUERIES])


def test_fp32_export_matches_torch_and_independent_reference(student: Path, fp32_dir: Path) -> None:
    onnx_scores = _all_scores(Reranker.load(fp32_dir, backend="onnx", threads=1))
    torch_scores = _all_scores(Reranker.load(student, backend="torch", threads=1))
    pairs = [(q, d) for q in QUERIES[:2] for d in DOCUMENTS]
    reference = np.array(reference_scores(student, pairs)).reshape(2, -1)
    assert np.abs(onnx_scores - torch_scores).max() <= FP32_TOL
    assert np.abs(onnx_scores[:2] - reference).max() <= FP32_TOL
    assert onnx_scores.std() > 0.5  # the scores really vary, so the comparison means something


def test_export_layout_dynamic_axes_and_manifest(student: Path, fp32_dir: Path) -> None:
    import onnx

    manifest = json.loads((fp32_dir / "rankdistill.json").read_text())
    assert manifest["backend"] == "onnx"
    assert manifest["kind"] == "cross-encoder"
    assert manifest["onnx_inputs"] == ["input_ids", "attention_mask", "token_type_ids"]
    assert manifest["opset"] == 17
    graph = onnx.load(str(fp32_dir / "model.onnx"), load_external_data=False).graph
    for tensor in graph.input:
        dims = [d.dim_param or d.dim_value for d in tensor.type.tensor_type.shape.dim]
        assert dims == ["batch", "sequence"], tensor.name
    (output,) = graph.output
    assert output.name == "scores"
    assert [d.dim_param for d in output.type.tensor_type.shape.dim] == ["batch"]
    for name in ("tokenizer.json", "tokenizer_config.json", "config.json", "README.md"):
        assert (fp32_dir / name).is_file(), name
    # Batch sizes and lengths the trace never saw.
    engine = Reranker.load(fp32_dir, backend="onnx", batch_size=3)
    long_doc = "word " * 400
    scores = engine.score(QUERIES[0], [*DOCUMENTS, long_doc])
    assert len(scores) == len(DOCUMENTS) + 1 and all(np.isfinite(scores))


def test_int8_export_quantises_weights_and_keeps_rankings(
    student: Path, fp32_dir: Path, int8_dir: Path
) -> None:
    import onnx

    manifest = json.loads((int8_dir / "rankdistill.json").read_text())
    assert manifest["backend"] == "onnx-int8"
    assert manifest["quantization"]["op_types"] == ["MatMul", "Gemm"]
    ops = {n.op_type for n in onnx.load(str(int8_dir / "model.onnx")).graph.node}
    assert {"DynamicQuantizeLinear", "MatMulInteger"} <= ops
    # The linear layers shrink 4x; the fp32 word embeddings (47 MB of 91) stay as they are.
    assert (int8_dir / "model.onnx").stat().st_size < 0.7 * (fp32_dir / "model.onnx").stat().st_size

    fp32 = _all_scores(Reranker.load(fp32_dir, backend="onnx", threads=1))
    int8 = _all_scores(Reranker.load(int8_dir, backend="onnx-int8", threads=1))
    assert np.abs(fp32 - int8).max() <= INT8_TOL
    assert np.abs(fp32 - int8).max() > 0  # it really is a different (quantised) graph
    same_top = np.mean(fp32.argmax(axis=1) == int8.argmax(axis=1))
    assert same_top >= 0.8
    rank_agreement = np.mean([spearmanr(a, b)[0] for a, b in zip(fp32, int8, strict=True)])
    assert rank_agreement >= 0.9


@pytest.mark.parametrize("head", ["mlp", "linear"])
def test_rra_gpt_export_matches_the_student(
    tmp_path_factory: pytest.TempPathFactory, head: str
) -> None:
    from rankdistill.students.rra_gpt import RraGptStudent

    models = _models(tmp_path_factory)
    model_dir = build_once(models / f"rra-gpt-{head}", build_tiny_rra_gpt_dir, head=head)
    exported = export_once(model_dir, models / f"rra-gpt-{head}-onnx", "onnx")
    manifest = json.loads((exported / "rankdistill.json").read_text())
    assert manifest["kind"] == "rra-gpt"
    assert manifest["onnx_inputs"] == ["input_ids", "attention_mask"]
    docs = [*DOCUMENTS, "long " * 200]  # the last one is cut to fit max_length (96)
    # Independent reference: the student's own tokenisation and forward, one pair at a time.
    student = RraGptStudent.load(model_dir)
    reference = np.array([student.score(QUERIES[0], [d])[0] for d in docs])
    torch_scores = np.array(Reranker.load(model_dir, backend="torch").score(QUERIES[0], docs))
    onnx_scores = np.array(
        Reranker.load(exported, backend="onnx", batch_size=4).score(QUERIES[0], docs)
    )
    assert np.abs(torch_scores - reference).max() <= FP32_TOL
    assert np.abs(onnx_scores - reference).max() <= FP32_TOL
    assert np.ptp(reference) > 1e-3  # the documents really get different scores


def test_bad_model_dirs_raise_data_format_errors(tmp_path: Path, fp32_dir: Path) -> None:
    from rankdistill.serving.export import export_onnx

    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataFormatError, match=r"rankdistill\.json"):
        export_onnx(empty, tmp_path / "out")
    bad_kind = tmp_path / "bad-kind"
    bad_kind.mkdir()
    (bad_kind / "rankdistill.json").write_text('{"kind": "mystery"}')
    with pytest.raises(DataFormatError, match="field 'kind'"):
        Reranker.load(bad_kind, backend="torch")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "rankdistill.json").write_text('{"kind": "cross-encoder",\n "max_length": }')
    with pytest.raises(DataFormatError, match=r"rankdistill.json:2"):
        Reranker.load(broken)
    with pytest.raises(ValueError, match="ONNX export"):
        Reranker.load(fp32_dir, backend="torch")
