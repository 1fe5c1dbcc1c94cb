"""Faster exported graphs: ONNX Runtime's transformer fusions, then int8 quantisation.

:func:`optimize_export` turns the traced fp32 graph into the one served:

1. **Fusion** (:func:`fuse_graph`): ``onnxruntime.transformers.optimizer`` with the model
   type of the student's HF config, when ONNX Runtime has fusions for it (its
   ``MODEL_TYPES`` registry; BERT-style encoders such as MiniLM are ``bert``). Each
   layer's Q/K/V MatMuls, mask and softmax become one ``Attention`` op, residual + LayerNorm
   ``SkipLayerNormalization``, bias + GELU ``BiasGelu``, and the embeddings
   ``EmbedLayerNormalization``. The fused graph is kept only if it scores a probe batch
   like the traced one (:data:`FUSION_TOLERANCE`); otherwise, or for a model type ONNX
   Runtime has no fusions for, the traced graph is served as it is.
2. **int8** (:func:`quantize_int8`), for the ``onnx-int8`` export: dynamic quantisation
   (``onnxruntime.quantization.quantize_dynamic``) with the settings of one of
   :data:`INT8_VARIANTS`. Weights are int8 (or uint8) constants; activations are
   quantised to uint8 at run time.

``benchmarks/inference.py`` records each variant's speed and TREC DL 2020 nDCG@10 and
names the fastest within 0.01 of fp32 torch: :data:`DEFAULT_INT8_VARIANT` should be it
(the comment there says how it was chosen so far).
"""

from __future__ import annotations

import logging
import shutil
from collections import Counter
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

# Largest |fused - traced| score on the probe batch for the fused graph to be kept: fused
# kernels reorder float sums (observed ~1e-5 on MiniLM); a broken fusion is off by O(1).
FUSION_TOLERANCE = 1e-3
# Ops the fusions produce, counted in the export's manifest.
FUSED_OPS = (
    "Attention",
    "MultiHeadAttention",
    "SkipLayerNormalization",
    "EmbedLayerNormalization",
    "BiasGelu",
    "FastGelu",
    "Gelu",
)


@dataclass(frozen=True)
class Int8Variant:
    """Settings of one dynamic-int8 quantisation.

    ``fuse``: quantise the fused graph (step 1) rather than the traced one.
    ``weight_type``: ``QInt8`` (uint8 x int8 kernels, "u8s8") or ``QUInt8`` ("u8u8").
    ``per_channel``: one scale per output channel of each weight.
    ``reduce_range``: 7-bit weights, which avoids the 16-bit saturation of the u8s8
    AVX2 kernels (``vpmaddubsw``) on CPUs without VNNI.
    ``op_types``: ops whose constant weights are quantised (``Attention`` is the fused
    attention's QKV projection).
    """

    description: str
    fuse: bool
    weight_type: str = "QInt8"
    per_channel: bool = True
    reduce_range: bool = False
    op_types: tuple[str, ...] = ("MatMul", "Gemm")


INT8_VARIANTS: dict[str, Int8Variant] = {
    "traced-s8": Int8Variant("traced graph, int8 weights per channel", fuse=False),
    "fused-s8": Int8Variant(
        "fused graph, int8 weights per channel, QKV projection in fp32", fuse=True
    ),
    "fused-s8-qattention": Int8Variant(
        "fused graph, int8 weights per channel, QKV projection int8 (QAttention)",
        fuse=True,
        op_types=("MatMul", "Gemm", "Attention"),
    ),
    "fused-s8-reduce-range": Int8Variant(
        "fused graph, 7-bit int8 weights per channel, QKV projection int8",
        fuse=True,
        reduce_range=True,
        op_types=("MatMul", "Gemm", "Attention"),
    ),
    "fused-u8-qattention": Int8Variant(
        "fused graph, uint8 weights per channel (u8u8 kernels), QKV projection int8",
        fuse=True,
        weight_type="QUInt8",
        op_types=("MatMul", "Gemm", "Attention"),
    ),
}
# The traced graph with int8 weights: on DL 2020 (tests/test_export_int8_dl2020.py) it
# stays within 0.006 nDCG@10 of fp32 and quantises every weight. Of the fused variants the
# int8 QKV projection (QAttention) lost 0.018 with int8 weights and moved 0.024 with 7-bit
# ones, and none was measurably faster on a busy AVX2 machine (single-thread CPU time).
# benchmarks/inference.py's ``fastest_int8_at_parity`` on idle cores is the one to keep.
DEFAULT_INT8_VARIANT = "traced-s8"


def op_counts(path: Path) -> dict[str, int]:
    """How many nodes of each op type the graph at ``path`` has."""
    import onnx

    graph = onnx.load(str(path), load_external_data=False).graph
    return dict(Counter(node.op_type for node in graph.node))


def _fusion_model_type(model_dir: Path) -> tuple[str, int, int] | None:
    """(ONNX Runtime model type, heads, hidden size) of the student, if it has fusions."""
    from onnxruntime.transformers.optimizer import MODEL_TYPES
    from transformers import AutoConfig

    if not (model_dir / "config.json").is_file():  # e.g. RRA-GPT keeps its decoder apart
        return None
    config = AutoConfig.from_pretrained(str(model_dir))
    model_type = getattr(config, "model_type", None)
    if model_type not in MODEL_TYPES:
        return None
    return model_type, int(config.num_attention_heads), int(config.hidden_size)


def _probe_batch(path: Path) -> dict[str, Any]:
    """Two right-padded rows of arbitrary token ids for every input of the graph."""
    import numpy as np
    import onnx

    graph = onnx.load(str(path), load_external_data=False).graph
    rng = np.random.default_rng(0)
    mask = np.ones((2, 24), dtype=np.int64)
    mask[1, 15:] = 0
    values = {
        "input_ids": rng.integers(1000, 2000, size=(2, 24), dtype=np.int64),
        "attention_mask": mask,
        "token_type_ids": (np.arange(24)[None, :] >= 10).astype(np.int64).repeat(2, 0),
    }
    return {i.name: values[i.name] for i in graph.input}


def _scores(path: Path, batch: dict[str, Any]) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    return session.run(None, batch)[0]


def fuse_graph(traced: Path, out: Path, model_dir: Path) -> dict[str, Any]:
    """Write the fused graph of ``traced`` to ``out`` (module docstring, step 1).

    Returns what happened: ``fused`` (bool), the model type and the fused op counts, or
    the reason the traced graph was kept.
    """
    import numpy as np

    target = _fusion_model_type(Path(model_dir))
    if target is None:
        shutil.copyfile(traced, out)
        return {"fused": False, "reason": "ONNX Runtime has no fusions for this model type"}
    probe = _probe_batch(traced)
    from onnxruntime.transformers.optimizer import optimize_model

    model_type, heads, hidden = target
    optimized = optimize_model(
        str(traced), model_type=model_type, num_heads=heads, hidden_size=hidden
    )
    optimized.save_model_to_file(str(out))
    difference = float(np.abs(_scores(out, probe) - _scores(traced, probe)).max())
    if not difference <= FUSION_TOLERANCE:
        logger.warning(
            "fused graph scores differ by %.3g from the traced one: serving it unfused",
            difference,
        )
        shutil.copyfile(traced, out)
        return {"fused": False, "reason": f"fused scores differed by {difference:.3g}"}
    counts = op_counts(out)
    return {
        "fused": True,
        "model_type": model_type,
        "fused_ops": {op: counts[op] for op in FUSED_OPS if counts.get(op)},
        "max_abs_score_difference_on_probe": difference,
    }


def quantize_int8(source: Path, out: Path, variant: Int8Variant) -> dict[str, Any]:
    """Dynamic int8 quantisation of ``source`` with ``variant``; returns its settings."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(
        str(source),
        str(out),
        weight_type=QuantType[variant.weight_type],
        op_types_to_quantize=list(variant.op_types),
        per_channel=variant.per_channel,
        reduce_range=variant.reduce_range,
        # Fused ops are outside ONNX's shape inference: their outputs are fp32.
        extra_options={"MatMulConstBOnly": True, "DefaultTensorType": onnx.TensorProto.FLOAT},
    )
    return {
        "method": "onnxruntime.quantization.quantize_dynamic",
        "weight_type": variant.weight_type,
        "op_types": list(variant.op_types),
        "constant_weights_only": True,
        "per_channel": variant.per_channel,
        "reduce_range": variant.reduce_range,
    }


def optimize_export(
    traced: Path,
    out: Path,
    model_dir: Path,
    *,
    int8: bool,
    variant: str | None = None,
    per_channel: bool = True,
) -> dict[str, Any]:
    """The served graph of the traced fp32 graph ``traced``, written to ``out``.

    fp32: the fused graph (or the traced one, see :func:`fuse_graph`). int8: ``variant``
    of :data:`INT8_VARIANTS` (default :data:`DEFAULT_INT8_VARIANT`) on top;
    ``per_channel=False`` gives its weights one scale per tensor instead. Returns the
    record for the export's manifest (``quantization``: the int8 settings).
    """
    variant = variant or DEFAULT_INT8_VARIANT
    if variant not in INT8_VARIANTS:
        raise ValueError(f"unknown int8 variant {variant!r} (known: {', '.join(INT8_VARIANTS)})")
    settings = INT8_VARIANTS[variant]
    if not per_channel:
        settings = replace(settings, per_channel=False)
    record: dict[str, Any] = {}
    fused = out.with_name(out.stem + ".fused.onnx")
    try:
        if not int8 or settings.fuse:
            record["fusion"] = fuse_graph(traced, fused, model_dir)
            source = fused
        else:
            source = traced
        if int8:
            record["int8_variant"] = {"name": variant, **asdict(settings)}
            record["quantization"] = quantize_int8(source, out, settings)
        else:
            shutil.move(str(source), out)
    finally:
        fused.unlink(missing_ok=True)
    return record
