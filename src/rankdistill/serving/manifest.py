"""``rankdistill.json``: the small manifest every saved or exported model directory carries.

A student directory written by ``save_for_inference`` holds
``{"kind": "cross-encoder" | "rra-gpt", "max_length": 256, "backbone": ...}``; an ONNX
export adds ``backend`` (``onnx`` / ``onnx-int8``), ``onnx_file``, ``onnx_inputs``,
``opset`` and, for int8, ``quantization``. A directory without a manifest that looks like
a Hugging Face sequence-classification model is read as a cross-encoder, so any
``sentence_transformers.CrossEncoder`` directory (or hub id) can be served too.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rankdistill.data.errors import DataFormatError

MANIFEST_NAME = "rankdistill.json"
DEFAULT_MAX_LENGTH = 256


def read_manifest(model_dir: str | Path) -> dict[str, Any]:
    """The manifest of ``model_dir`` (validated), or a cross-encoder default without one."""
    model_dir = Path(model_dir)
    path = model_dir / MANIFEST_NAME
    if not path.is_file():
        if (model_dir / "config.json").is_file() or not model_dir.exists():
            # A plain HF cross-encoder folder, or a hub id: the only kind without a manifest.
            return {"kind": "cross-encoder", "max_length": DEFAULT_MAX_LENGTH}
        raise DataFormatError(
            path, "missing: not a rankdistill model directory (no rankdistill.json or config.json)"
        )
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DataFormatError(path, f"invalid JSON: {exc.msg}", line=exc.lineno) from exc
    if not isinstance(manifest, dict):
        raise DataFormatError(path, f"expected a JSON object, got {type(manifest).__name__}")
    kind = manifest.get("kind")
    if not isinstance(kind, str):
        raise DataFormatError(path, "must be a string such as 'cross-encoder'", field="kind")
    max_length = manifest.setdefault("max_length", DEFAULT_MAX_LENGTH)
    if not isinstance(max_length, int) or isinstance(max_length, bool) or max_length < 8:
        raise DataFormatError(
            path, f"must be an integer >= 8, got {max_length!r}", field="max_length"
        )
    return manifest


def tokenizer_dir(model_dir: str | Path) -> str:
    """Where the tokenizer lives: ``decoder/`` for RRA-GPT student folders, else the root."""
    decoder = Path(model_dir) / "decoder"
    if (decoder / "tokenizer_config.json").is_file():
        return str(decoder)
    return str(model_dir)


def write_manifest(model_dir: str | Path, manifest: dict[str, Any]) -> Path:
    path = Path(model_dir) / MANIFEST_NAME
    path.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def served_model_name(manifest: dict[str, Any]) -> str:
    """The student's name for API responses: the manifest's ``name``, else its kind and
    backbone (an ONNX export keeps the student's manifest, so it reports the same name)."""
    name = manifest.get("name")
    if isinstance(name, str) and name:
        return name
    kind = str(manifest.get("trained_as") or manifest["kind"])
    backbone = manifest.get("backbone")
    if not backbone:
        return kind
    # A local path names the backbone by its last part; a hub id keeps its owner.
    label = str(backbone)
    return f"{kind}-{Path(label).name if Path(label).is_absolute() else label}"
