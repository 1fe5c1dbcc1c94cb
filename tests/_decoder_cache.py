"""Load the packaged SmolLM2-135M once per test session (shared by the teacher and RRA-GPT tests).

Dequantising the GGUF takes ~25 s on 2 cores, so the model is loaded once, saved as a
plain safetensors folder in a temporary directory (``local_smollm_dir``: what the
training entry points load by path, in ~2 s) and handed out as deep copies.
"""

from __future__ import annotations

import atexit
import copy
import shutil
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Any

import torch

torch.set_num_threads(1)


@lru_cache(maxsize=1)
def _base() -> tuple[Any, Any]:
    from rankdistill.students.decoder import load_decoder

    model, tokenizer = load_decoder("smollm2-135m")
    return model.eval(), tokenizer


def causal_lm() -> tuple[Any, Any]:
    """A fresh copy of the causal LM (with its LM head) and the tokenizer."""
    model, tokenizer = _base()
    return copy.deepcopy(model), tokenizer


def decoder_body() -> tuple[Any, Any]:
    """A fresh copy of the decoder body (no LM head) and the tokenizer."""
    model, tokenizer = _base()
    return copy.deepcopy(model.get_decoder()), tokenizer


@lru_cache(maxsize=1)
def local_smollm_dir() -> str:
    """The dequantised model + tokenizer as a local HF folder (removed at exit)."""
    model, tokenizer = _base()
    folder = Path(tempfile.mkdtemp(prefix="rankdistill-smollm-"))
    atexit.register(shutil.rmtree, folder, True)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return str(folder)
