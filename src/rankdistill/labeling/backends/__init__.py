"""LLM backends behind one protocol (:class:`~.base.LLMBackend`), chosen by name.

The registry (:data:`~.base.BACKENDS`) maps a
:class:`~rankdistill.labeling.config.BackendConfig` ``kind`` to a factory; a new backend
is one module plus one :func:`register_backend` call. Each factory imports its backend
module (and so torch, llama.cpp, httpx or vLLM) only when called, so importing this
package stays cheap.

    >>> backend = build_backend(BackendConfig(kind="llama-cpp", model="smollm2-135m"))
    >>> backend = build_backend(cfg, cache_path=Path("work/llm_cache.sqlite"))  # cached
"""

from __future__ import annotations

from pathlib import Path

from rankdistill.labeling.backends.base import (
    BACKENDS,
    ChatMessages,
    Generation,
    LLMBackend,
    TokenScores,
    register_backend,
)
from rankdistill.labeling.backends.errors import BackendError, BackendNotInstalledError
from rankdistill.labeling.config import BackendConfig


def _build_transformers(cfg: BackendConfig) -> LLMBackend:
    from rankdistill.labeling.backends.transformers_backend import TransformersBackend

    return TransformersBackend(cfg)


def _build_llamacpp(cfg: BackendConfig) -> LLMBackend:
    from rankdistill.labeling.backends.llamacpp_backend import LlamaCppBackend

    return LlamaCppBackend(cfg)


def _build_openai(cfg: BackendConfig) -> LLMBackend:
    from rankdistill.labeling.backends.openai_backend import OpenAIBackend

    return OpenAIBackend(cfg)


def _build_vllm(cfg: BackendConfig) -> LLMBackend:
    from rankdistill.labeling.backends.vllm_backend import VLLMBackend

    return VLLMBackend(cfg)


register_backend("transformers", _build_transformers)
register_backend("llama-cpp", _build_llamacpp)
register_backend("openai", _build_openai)
register_backend("vllm", _build_vllm)


def build_backend(cfg: BackendConfig, cache_path: str | Path | None = None) -> LLMBackend:
    """Instantiate the backend named by ``cfg.kind``.

    With ``cache_path`` the backend is wrapped in a
    :class:`~rankdistill.labeling.cache.CachedBackend` on that SQLite file, so repeated
    and resumed runs never pay for the same call twice.
    """
    backend = BACKENDS.require(cfg.kind)(cfg)
    if cache_path is None:
        return backend
    from rankdistill.labeling.cache import CachedBackend

    return CachedBackend(backend, Path(cache_path))


__all__ = [
    "BACKENDS",
    "BackendConfig",
    "BackendError",
    "BackendNotInstalledError",
    "ChatMessages",
    "Generation",
    "LLMBackend",
    "TokenScores",
    "build_backend",
    "register_backend",
]
