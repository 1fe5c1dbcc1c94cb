"""The backend registry: names, lazy imports, and the vLLM extra's clear error."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest

from rankdistill.labeling.backends import BACKENDS, BackendNotInstalledError, build_backend
from rankdistill.labeling.config import BackendConfig


def test_registry_names_every_config_kind() -> None:
    assert set(BACKENDS) == {"transformers", "llama-cpp", "openai", "vllm"}
    for kind in BACKENDS:  # the config accepts exactly the registered kinds
        assert BackendConfig(kind=kind).kind == kind
    with pytest.raises(ValueError, match="unknown LLM backend 'nope'"):
        BackendConfig(kind="nope")


def test_importing_the_registry_stays_light() -> None:
    code = (
        "import sys, rankdistill.labeling.backends\n"
        "heavy = [m for m in ('torch', 'transformers', 'llama_cpp', 'httpx', 'vllm') "
        "if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == ""


def test_unknown_kind_is_rejected() -> None:
    cfg = BackendConfig.model_construct(kind="carrier-pigeon")
    with pytest.raises(ValueError, match="unknown LLM backend 'carrier-pigeon'"):
        build_backend(cfg)


@pytest.mark.skipif(importlib.util.find_spec("vllm") is not None, reason="vllm is installed")
def test_vllm_without_the_extra_says_what_to_install() -> None:
    with pytest.raises(BackendNotInstalledError, match=r"pip install rankdistill\[vllm\]"):
        build_backend(BackendConfig(kind="vllm", model="smollm2-135m"))
