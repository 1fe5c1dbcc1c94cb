"""Export a saved student to ONNX (fp32 or dynamic int8) for ONNX Runtime.

The exported directory is self-contained: ``model.onnx`` (inputs ``input_ids``,
``attention_mask`` and, when the tokenizer produces them, ``token_type_ids``, all int64
``[batch, sequence]`` with both axes dynamic; output ``scores`` float32 ``[batch]``), the
tokenizer files, the HF ``config.json`` (for reference and FLOP counts) and
``rankdistill.json`` with the ``backend`` it was exported for. ``Reranker.load`` serves it.

Which graph is exported depends on the manifest's ``kind`` (registry
:data:`rankdistill.serving.modules.SCORING_MODULES`): the cross-encoder logit (RRA-BERT
exports as a plain cross-encoder: TCL is not part of the saved model) or, for RRA-GPT,
decoder + ranking head on the last real token.

Dynamic int8 (``onnxruntime.quantization.quantize_dynamic``): weights of the ``MatMul``
and ``Gemm`` nodes whose second input is a constant, i.e. every linear layer (Q, K, V,
attention output, both feed-forward layers, the head), are stored as int8 (QInt8,
symmetric; per output channel when ``per_channel``); activations are quantised at run time
(``DynamicQuantizeLinear`` + ``MatMulInteger``). The attention products (Q·Kᵀ, A·V),
embeddings, LayerNorm and softmax stay fp32.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from pathlib import Path
from typing import Any

from rankdistill.serving.manifest import read_manifest, tokenizer_dir, write_manifest

logger = logging.getLogger(__name__)

ONNX_FILE = "model.onnx"
# Files copied next to the ONNX graph when they exist in the source directory.
_SIDE_FILES = (
    "config.json",
    "README.md",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "vocab.txt",
    "vocab.json",
    "merges.txt",
    "sentencepiece.bpe.model",
    "spiece.model",
    "tokenizer.model",
    "added_tokens.json",
    "chat_template.jinja",
)
QUANTIZED_OP_TYPES = ["MatMul", "Gemm"]


def _dummy_batch(input_names: list[str], vocab_size: int) -> tuple[Any, ...]:
    """Two rows of different real lengths, so tracing sees padding (values are arbitrary)."""
    import torch

    generator = torch.Generator().manual_seed(0)
    ids = torch.randint(5, min(vocab_size, 1000), (2, 12), generator=generator)
    mask = torch.ones(2, 12, dtype=torch.long)
    mask[1, 7:] = 0
    types = torch.zeros(2, 12, dtype=torch.long)
    types[:, 6:] = 1
    batch = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
    return tuple(batch[name] for name in input_names)


def _export_fp32(
    model_dir: str, onnx_path: Path, manifest: dict[str, Any], opset: int
) -> list[str]:
    """Trace the kind's scoring module to ``onnx_path``; returns the input names."""
    import torch
    from transformers import AutoTokenizer

    from rankdistill.serving.modules import load_scoring_module

    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir(model_dir))
    module = load_scoring_module(model_dir, manifest, tokenizer)
    names: list[str] = list(module.input_names)
    dynamic = {name: {0: "batch", 1: "sequence"} for name in names}
    dynamic["scores"] = {0: "batch"}
    module.eval()
    with torch.no_grad():
        # The TorchScript-based exporter: dynamic_axes, no onnxscript dependency.
        torch.onnx.export(
            module,
            _dummy_batch(names, len(tokenizer)),
            str(onnx_path),
            dynamo=False,
            input_names=names,
            output_names=["scores"],
            dynamic_axes=dynamic,
            opset_version=opset,
            do_constant_folding=True,
        )
    return names


def quantize_dynamic_int8(
    fp32_path: Path, int8_path: Path, per_channel: bool = True
) -> dict[str, Any]:
    """Dynamic int8 quantisation of the weight MatMul/Gemm nodes; returns its settings."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    settings = {
        "method": "onnxruntime.quantization.quantize_dynamic",
        "weight_type": "QInt8",
        "op_types": QUANTIZED_OP_TYPES,
        "constant_weights_only": True,
        "per_channel": per_channel,
    }
    quantize_dynamic(
        str(fp32_path),
        str(int8_path),
        weight_type=QuantType.QInt8,
        op_types_to_quantize=QUANTIZED_OP_TYPES,
        per_channel=per_channel,
        extra_options={"MatMulConstBOnly": True},
    )
    return settings


def _copy_side_files(model_dir: Path, out_dir: Path) -> None:
    for name in _SIDE_FILES:
        if (model_dir / name).is_file():
            shutil.copy2(model_dir / name, out_dir / name)


def export_onnx(
    model_dir: str | Path,
    out_dir: str | Path,
    *,
    quantize_int8: bool = False,
    opset: int = 17,
    per_channel: bool = True,
) -> Path:
    """Export the student in ``model_dir`` to ``out_dir`` (created); returns ``out_dir``.

    ``quantize_int8`` writes the dynamic-int8 graph instead of fp32 (see the module
    docstring for what is quantised). ``per_channel`` scales each output channel of a
    weight separately: on MiniLM it cuts the int8-vs-fp32 score error about 3x (0.33 ->
    0.11 on scores of unit spread) at the same speed, hence the default. The manifest
    records ``backend``: ``onnx`` or ``onnx-int8``.
    """
    from rankdistill.serving.modules import require_known_kind

    source = Path(model_dir)
    manifest = read_manifest(source)
    require_known_kind(source, manifest)
    if "backend" in manifest and manifest["backend"] != "torch":
        raise ValueError(f"{source} is already an ONNX export ({manifest['backend']})")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="rankdistill-export-") as tmp:
        fp32_path = Path(tmp) / ONNX_FILE
        logger.info("exporting %s (%s) to ONNX", source, manifest["kind"])
        names = _export_fp32(str(source), fp32_path, manifest, opset)
        quantization = None
        if quantize_int8:
            quantization = quantize_dynamic_int8(fp32_path, out / ONNX_FILE, per_channel)
        else:
            shutil.move(str(fp32_path), out / ONNX_FILE)
    _copy_side_files(source, out)
    if (source / "decoder").is_dir():  # RRA-GPT keeps its decoder config and tokenizer there
        _copy_side_files(source / "decoder", out)
    from transformers import AutoConfig, AutoTokenizer

    if not (out / "config.json").is_file():
        AutoConfig.from_pretrained(str(source)).save_pretrained(str(out))

    # Saved through the tokenizer as well, so hub ids and odd layouts export completely.
    AutoTokenizer.from_pretrained(tokenizer_dir(source)).save_pretrained(str(out))
    manifest.update(
        backend="onnx-int8" if quantize_int8 else "onnx",
        onnx_file=ONNX_FILE,
        onnx_inputs=names,
        onnx_output="scores",
        opset=opset,
        source=str(source),
    )
    if quantization is not None:
        manifest["quantization"] = quantization
    write_manifest(out, manifest)
    return out


def export_sentence_transformers(model_dir: str | Path, out_dir: str | Path) -> Path:
    """Copy a cross-encoder student as the folder ``sentence_transformers.CrossEncoder`` loads."""
    source = Path(model_dir)
    manifest = read_manifest(source)
    if manifest["kind"] not in {"cross-encoder", "rra-bert"}:
        raise ValueError(
            f"{source}: kind {manifest['kind']!r} is not a cross-encoder; "
            "only cross-encoders export to sentence-transformers"
        )
    shutil.copytree(source, out_dir, dirs_exist_ok=True)
    return Path(out_dir)


EXPORT_FORMATS: dict[str, str] = {
    "onnx": "fp32 ONNX graph (ONNX Runtime)",
    "onnx-int8": "ONNX graph with dynamic int8 weights (ONNX Runtime)",
    "sentence-transformers": "folder loadable by sentence_transformers.CrossEncoder",
}


def export_model(model_dir: str | Path, out_dir: str | Path, fmt: str, opset: int = 17) -> Path:
    """Export to one of :data:`EXPORT_FORMATS`."""
    if fmt == "onnx":
        return export_onnx(model_dir, out_dir, quantize_int8=False, opset=opset)
    if fmt == "onnx-int8":
        return export_onnx(model_dir, out_dir, quantize_int8=True, opset=opset)
    if fmt == "sentence-transformers":
        return export_sentence_transformers(model_dir, out_dir)
    raise ValueError(f"unknown export format {fmt!r} (known: {', '.join(EXPORT_FORMATS)})")
