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
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rankdistill.quiet import quiet_onnx_export
from rankdistill.registry import Registry
from rankdistill.serving.manifest import read_manifest, tokenizer_dir, write_manifest
from rankdistill.serving.onnx_optimize import optimize_export

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
QUANTIZED_OP_TYPES = ("MatMul", "Gemm")


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
        "op_types": list(QUANTIZED_OP_TYPES),
        "constant_weights_only": True,
        "per_channel": per_channel,
    }
    quantize_dynamic(
        str(fp32_path),
        str(int8_path),
        weight_type=QuantType.QInt8,
        # A copy: onnxruntime appends to the list it is given.
        op_types_to_quantize=list(QUANTIZED_OP_TYPES),
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
    int8_variant: str | None = None,
) -> Path:
    """Export the student in ``model_dir`` to ``out_dir`` (created); returns ``out_dir``.

    The graph is fused and quantised by :func:`rankdistill.serving.onnx_optimize.optimize_export`
    (``int8_variant``: one of its ``INT8_VARIANTS``, default the fastest at parity).

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
    # quiet: tracer and quantiser warnings about third-party code the user cannot change.
    with tempfile.TemporaryDirectory(prefix="rankdistill-export-") as tmp, quiet_onnx_export():
        fp32_path = Path(tmp) / ONNX_FILE
        logger.info("exporting %s (%s) to ONNX", source, manifest["kind"])
        names = _export_fp32(str(source), fp32_path, manifest, opset)
        # Fused (and quantised) as benchmarks/inference.py measured fastest at parity.
        graph = optimize_export(
            fp32_path,
            out / ONNX_FILE,
            source,
            int8=quantize_int8,
            variant=int8_variant,
            per_channel=per_channel,
        )
        quantization = graph.pop("quantization", None)
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
    manifest["graph_optimization"] = graph
    write_manifest(out, manifest)
    return out


def export_sentence_transformers(model_dir: str | Path, out_dir: str | Path) -> Path:
    """Copy a cross-encoder student as the folder ``sentence_transformers.CrossEncoder`` loads."""
    source = Path(model_dir)
    manifest = read_manifest(source)
    if not _is_cross_encoder(manifest["kind"]):
        raise ValueError(
            f"{source}: kind {manifest['kind']!r} is not a cross-encoder; "
            "only cross-encoders export to sentence-transformers"
        )
    shutil.copytree(source, out_dir, dirs_exist_ok=True)
    return Path(out_dir)


@dataclass(frozen=True)
class ExportFormat:
    """A registered export format.

    ``export(model_dir, out_dir, opset)`` writes it; ``supports(kind)`` says whether a
    student kind can be exported so (checked when a config is loaded);
    ``serving_backend`` is the :class:`~rankdistill.serving.engine.Reranker` backend that
    serves the exported folder (``None``: not served by rankdistill, e.g. a folder for
    another library).
    """

    description: str
    export: Callable[[Path, Path, int], Path]
    supports: Callable[[str], bool]
    serving_backend: str | None = None


EXPORT_FORMATS: Registry[ExportFormat] = Registry("export format")


def register_export_format(name: str, fmt: ExportFormat) -> None:
    """Make ``export.formats: [NAME]`` (and ``--format NAME``) write ``fmt``."""
    EXPORT_FORMATS.register(name, fmt)


def _is_cross_encoder(kind: str) -> bool:
    """A student saved in the Hugging Face sequence-classification layout."""
    from rankdistill.students import STUDENTS, CrossEncoderStudent

    return kind in STUDENTS and issubclass(STUDENTS[kind], CrossEncoderStudent)


def _has_scoring_module(kind: str) -> bool:
    from rankdistill.serving.modules import SCORING_MODULES

    return kind in SCORING_MODULES


def _onnx_writer(quantize_int8: bool) -> Callable[[Path, Path, int], Path]:
    def write(src: Path, out: Path, opset: int) -> Path:
        return export_onnx(src, out, quantize_int8=quantize_int8, opset=opset)

    return write


# Each ONNX variant is served by the Reranker backend of the same name.
for _name, _description, _int8 in (
    ("onnx", "fp32 ONNX graph (ONNX Runtime)", False),
    ("onnx-int8", "ONNX graph with dynamic int8 weights (ONNX Runtime)", True),
):
    register_export_format(
        _name,
        ExportFormat(_description, _onnx_writer(_int8), _has_scoring_module, serving_backend=_name),
    )
register_export_format(
    "sentence-transformers",
    ExportFormat(
        "folder loadable by sentence_transformers.CrossEncoder",
        lambda src, out, opset: export_sentence_transformers(src, out),
        _is_cross_encoder,
    ),
)


def unsupported_formats(kind: str, formats: Iterable[str]) -> list[str]:
    """The formats of ``formats`` a student of ``kind`` cannot be exported to."""
    return [f for f in formats if f in EXPORT_FORMATS and not EXPORT_FORMATS[f].supports(kind)]


def export_model(model_dir: str | Path, out_dir: str | Path, fmt: str, opset: int = 17) -> Path:
    """Export to one of :data:`EXPORT_FORMATS`."""
    return EXPORT_FORMATS.require(fmt).export(Path(model_dir), Path(out_dir), opset)
