"""The interface every LLM backend implements (transformers, llama.cpp, OpenAI HTTP, vLLM).

Prompts are chat messages; a backend applies the model's chat template itself (local
backends) or sends the messages as they are (HTTP). Every call reports its token counts,
so labelling cost is measured the same way on every backend.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from rankdistill.registry import Registry

ChatMessages = list[dict[str, str]]  # [{"role": "system"|"user"|"assistant", "content": ...}]


@dataclass
class Generation:
    """One completion and what it cost."""

    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str | None = None
    cached: bool = False
    # Summed log-probability of the completion's tokens, when the backend reports it.
    logprob: float | None = None


@dataclass
class TokenScores:
    """Log-probabilities of candidate answer strings as the next token(s) after a prompt."""

    logprobs: dict[str, float]
    prompt_tokens: int
    cached: bool = False
    extra: dict[str, float] = field(default_factory=dict)


@runtime_checkable
class LLMBackend(Protocol):
    """What labelling needs from an LLM."""

    # A stable identifier of the model (and quantisation), part of every cache key.
    model_id: str

    def generate(
        self, prompts: Sequence[ChatMessages], max_new_tokens: int, temperature: float = 0.0
    ) -> list[Generation]: ...

    def next_token_logprobs(
        self, prompts: Sequence[ChatMessages], candidates: Sequence[str]
    ) -> list[TokenScores]: ...

    def count_tokens(self, messages: ChatMessages) -> int: ...

    def close(self) -> None: ...


# kind -> factory(BackendConfig) -> LLMBackend. A factory imports its backend's library
# only when called, so importing the registry stays light.
BACKENDS: Registry[Callable[[Any], LLMBackend]] = Registry("LLM backend")


def register_backend(kind: str, factory: Callable[[Any], LLMBackend]) -> None:
    """Make ``labeling.backend.kind: KIND`` (and ``--backend KIND``) build with ``factory``."""
    BACKENDS.register(kind, factory)
