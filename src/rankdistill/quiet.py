"""Silence third-party output a user cannot act on, around the one call that emits it.

Each context manager here covers one known message of one library and nothing else, so
the library's other warnings, and every warning of this project, still show:

- :func:`quiet_transformers` lowers transformers' log verbosity to errors for a call
  (its weight-load report lists a head created on purpose as ``MISSING``; the caller
  checks the load itself, see ``rankdistill.students.cross_encoder``).
- :func:`quiet_onnx_export` hides the TorchScript tracer's warnings about Hugging Face
  modelling code, the exporter's note on how it lowers advanced indexing, and
  onnxruntime's advice to pre-process a graph before quantising it (the export's parity
  check verifies the graph instead).
"""

from __future__ import annotations

import logging
import re
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

# onnxruntime.quantization logs this through the root logger before every quantisation.
ORT_PREPROCESS_ADVICE = "Please consider to run pre-processing before quantization"
# torch.onnx's note on lowering aten::index, a correct rewrite it merely describes.
ONNX_INDEX_NOTE = "Exporting aten::index operator of advanced indexing"


class _DropMessage(logging.Filter):
    """Drops log records whose message starts with ``prefix``."""

    def __init__(self, prefix: str) -> None:
        super().__init__()
        self.prefix = prefix

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(self.prefix)


@contextmanager
def quiet_transformers() -> Iterator[None]:
    """transformers logs only errors inside the block; its verbosity is restored after."""
    from transformers.utils import logging as hf_logging

    previous = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        yield
    finally:
        hf_logging.set_verbosity(previous)


@contextmanager
def quiet_onnx_export() -> Iterator[None]:
    """Tracing, exporting and quantising without the warnings listed in the module doc."""
    from torch.jit import TracerWarning

    root = logging.getLogger()
    advice = _DropMessage(ORT_PREPROCESS_ADVICE)
    root.addFilter(advice)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=TracerWarning)
            warnings.filterwarnings(
                "ignore", message=re.escape(ONNX_INDEX_NOTE), category=UserWarning
            )
            yield
    finally:
        root.removeFilter(advice)
