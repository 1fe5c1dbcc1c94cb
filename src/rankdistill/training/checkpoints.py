"""Saving a module's weights as safetensors, shared (tied) tensors included.

``safetensors.torch.save_file`` refuses tensors that share memory, as tied input/output
embeddings of decoder students do. We keep one name per shared tensor and record the
others as aliases in the file's metadata; loading with ``strict=False`` (what the HF
Trainer does when resuming) restores them, because the module itself ties them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import Tensor, nn


def _storage_key(tensor: Tensor) -> tuple[int, int, tuple[int, ...], tuple[int, ...]]:
    return (
        tensor.untyped_storage().data_ptr(),
        tensor.storage_offset(),
        tuple(tensor.shape),
        tuple(tensor.stride()),
    )


def deduplicate_shared(state: dict[str, Tensor]) -> tuple[dict[str, Tensor], dict[str, str]]:
    """(state without repeated views of one tensor, {dropped name: kept name})."""
    kept: dict[tuple[int, int, tuple[int, ...], tuple[int, ...]], str] = {}
    unique: dict[str, Tensor] = {}
    aliases: dict[str, str] = {}
    storages: set[int] = set()
    for name, tensor in state.items():
        key = _storage_key(tensor)
        if key in kept:
            aliases[name] = kept[key]
            continue
        kept[key] = name
        ptr = key[0]
        # Different views of one storage (rare) cannot both be saved as views: copy.
        unique[name] = tensor.detach().clone() if ptr in storages else tensor.detach()
        storages.add(ptr)
    return {k: v.contiguous().cpu() for k, v in unique.items()}, aliases


def save_state_dict(state: dict[str, Tensor], path: str | Path) -> Path:
    """Write ``state`` to a safetensors file, tied tensors once."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    unique, aliases = deduplicate_shared(state)
    save_file(unique, str(path), metadata={"format": "pt", "aliases": json.dumps(aliases)})
    return path


def load_state_dict(module: nn.Module, path: str | Path) -> None:
    """Load a file written by :func:`save_state_dict`; every module key must be covered."""
    from safetensors import safe_open

    state = load_file(str(path), device="cpu")
    with safe_open(str(path), "pt") as handle:
        aliases = json.loads((handle.metadata() or {}).get("aliases", "{}"))
    result = module.load_state_dict(state, strict=False)
    uncovered = [k for k in result.missing_keys if k not in aliases]
    if uncovered or result.unexpected_keys:
        raise RuntimeError(
            f"{path}: weights do not fit the model (missing {uncovered[:5]}, "
            f"unexpected {result.unexpected_keys[:5]})"
        )


def state_digest(module: nn.Module) -> str:
    """A SHA-256 over every parameter and buffer (names, shapes, bytes), to compare models."""
    import hashlib

    digest = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        digest.update(name.encode())
        data = tensor.detach().cpu().contiguous().reshape(-1)
        digest.update(str(tuple(data.shape)).encode())
        digest.update(data.view(torch.uint8).numpy().tobytes() if data.numel() else b"")
    return digest.hexdigest()


def saved_checkpoint_folder(args: Any, state: Any) -> Path | None:
    """In a Trainer callback's ``on_save``: the folder of the checkpoint just written, on
    the process that writes files (``None`` on the others)."""
    from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR

    folder = Path(args.output_dir) / f"{PREFIX_CHECKPOINT_DIR}-{state.global_step}"
    return folder if state.is_world_process_zero and folder.is_dir() else None
