"""Small helpers shared by every stage: devices, seeds, atomic writes, JSONL."""

from __future__ import annotations

import json
import os
import random
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from rankdistill.data.errors import DataFormatError


def resolve_device(device: str = "auto") -> str:
    """``auto`` -> ``cuda`` when a GPU is visible, else ``cpu``; anything else unchanged."""
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def supports_bf16(device: str) -> bool:
    """Whether ``device`` computes in bf16 natively. A CPU without AVX512-BF16 / AMX only
    emulates it: about 13x slower than fp32 on an AVX2 core (benchmarks/train_throughput.py),
    1.6x slower on an AVX-512 core (benchmarks/results/train_precision_128_no_native_bf16.json).
    oneDNN's own check counts plain AVX-512 as bf16 support, so the instruction sets are
    asked for by name."""
    import torch

    if device.startswith("cuda"):
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    return device == "cpu" and cpu_computes_bf16()


def cpu_computes_bf16() -> bool:
    """AVX512-BF16 or AMX tiles on this CPU (enabled by the OS), per torch's CPU probe."""
    import torch

    probes = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    found = [getattr(torch.cpu, name, None) for name in probes]
    if not all(found):  # a torch without the probes: oneDNN's check, the best there is
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    return any(probe() for probe in found)


def set_seed(seed: int) -> None:
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write via a temporary file and rename, so a killed run never leaves half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return path


def atomic_write_json(path: str | Path, obj: Any) -> Path:
    return atomic_write_text(path, json.dumps(obj, indent=2, ensure_ascii=False) + "\n")


def write_jsonl(path: str | Path, rows: Iterable[dict[str, Any]]) -> Path:
    return atomic_write_text(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))


def append_jsonl(path: str | Path, row: dict[str, Any]) -> None:
    """Append one line and flush it to disk: the unit of resumable progress."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(row, ensure_ascii=False) + "\n")
        fh.flush()
        os.fsync(fh.fileno())


def iter_jsonl(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line_number, object)``; a bad line raises :class:`DataFormatError` (a
    ``ValueError``) naming the file and line.

    A final line without its newline is a write cut short by a kill: it is skipped, so a
    resumed run redoes that item instead of failing.
    """
    path = Path(path)
    with path.open(encoding="utf-8") as fh:
        lines = fh.readlines()
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            if lineno == len(lines) and not line.endswith("\n"):
                return
            raise DataFormatError(path, f"invalid JSON: {exc.msg}", line=lineno) from exc
        if not isinstance(obj, dict):
            raise DataFormatError(
                path, f"expected a JSON object, got {type(obj).__name__}", line=lineno
            )
        yield lineno, obj
