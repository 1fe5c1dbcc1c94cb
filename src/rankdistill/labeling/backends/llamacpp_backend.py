"""Local GGUF models through llama-cpp-python: fast on CPU, one prompt at a time.

Generation uses ``create_chat_completion`` with the chat template stored in the GGUF
(forced, so llama.cpp never substitutes a built-in format it guessed from the metadata)
and takes token counts from the response's ``usage``.

Next-token scores do not use ``logprobs=`` of the completion API: that needs
``logits_all=True``, which keeps a ``n_ctx x vocabulary`` float matrix (1.6 GB for an 8k
context and a 49k vocabulary) and computes logits for every prompt position. Instead
the templated prompt is evaluated once and only the last position's logits are read.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import Any

from rankdistill.labeling.backends._tokens import candidate_variant_table, variant_logprobs
from rankdistill.labeling.backends.base import ChatMessages, Generation, TokenScores
from rankdistill.labeling.backends.errors import BackendError, BackendNotInstalledError
from rankdistill.labeling.config import BackendConfig
from rankdistill.resources import resolve_model

logger = logging.getLogger(__name__)

_GGUF_TEMPLATE_KEY = "tokenizer.chat_template"
_GGUF_TEMPLATE_FORMAT = "chat_template.default"  # llama-cpp-python's name for it
SEED = 0  # fixed, so sampling at temperature > 0 is reproducible


def default_threads() -> int:
    """The physical cores this process may run on.

    llama-cpp-python's own default, half the logical CPUs, assumes two hardware threads per
    core: on a machine or VM without them it leaves half the cores idle.
    """
    if hasattr(os, "sched_getaffinity"):
        available = len(os.sched_getaffinity(0))
    else:  # macOS, Windows
        available = os.cpu_count() or 1
    try:
        import psutil

        physical = psutil.cpu_count(logical=False) or available
    except ImportError:
        physical = max(available // 2, 1)
    return max(1, min(available, physical))


class LlamaCppBackend:
    """An ``LLMBackend`` on a GGUF file via llama-cpp-python."""

    def __init__(self, cfg: BackendConfig) -> None:
        try:
            from llama_cpp import Llama
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter
        except ImportError as exc:
            raise BackendNotInstalledError(
                "the llama-cpp backend needs llama-cpp-python: pip install rankdistill[llamacpp]"
            ) from exc
        self.cfg = cfg
        ref = resolve_model(cfg.model, cfg.gguf_file)
        if ref.gguf_path is None:
            raise BackendError(
                f"the llama-cpp backend needs a GGUF file; {cfg.model!r} resolved to "
                f"{ref.path!r} without one (set backend.gguf_file or point model at a .gguf)"
            )
        if not ref.gguf_path.is_file():
            raise BackendError(f"GGUF file not found: {ref.gguf_path}")
        self.llm = Llama(
            model_path=str(ref.gguf_path),
            n_ctx=cfg.context_length,
            n_threads=cfg.n_threads or default_threads(),
            seed=SEED,
            logits_all=False,
            verbose=False,
        )
        template = self.llm.metadata.get(_GGUF_TEMPLATE_KEY)
        if not template:
            raise BackendError(f"{ref.gguf_path} has no chat template ({_GGUF_TEMPLATE_KEY})")
        self.llm.chat_format = _GGUF_TEMPLATE_FORMAT
        # The same renderer llama-cpp-python builds for the GGUF template, so scored prompts
        # are byte-identical to the ones create_chat_completion sends.
        self._formatter = Jinja2ChatFormatter(
            template=template,
            eos_token=self._token_text(self.llm.token_eos()),
            bos_token=self._token_text(self.llm.token_bos()),
        )
        self.model_id = f"llama-cpp:{ref.label}:{ref.gguf_file}"

    def __repr__(self) -> str:
        return f"LlamaCppBackend(model_id={self.model_id!r})"

    def _token_text(self, token_id: int) -> str:
        if token_id < 0:
            return ""
        return self.llm.detokenize([token_id], special=True).decode("utf-8", errors="replace")

    def render(self, messages: ChatMessages) -> str:
        """The chat-templated prompt, ending where the assistant's reply starts."""
        return self._formatter(messages=messages).prompt

    def _prompt_tokens(self, messages: ChatMessages) -> list[int]:
        # The template writes the BOS itself (llama-cpp-python's added_special=True).
        return self.llm.tokenize(self.render(messages).encode("utf-8"), add_bos=False, special=True)

    def count_tokens(self, messages: ChatMessages) -> int:
        return len(self._prompt_tokens(messages))

    def generate(
        self, prompts: Sequence[ChatMessages], max_new_tokens: int, temperature: float = 0.0
    ) -> list[Generation]:
        from tqdm.auto import tqdm

        return [
            self._generate_one(messages, max_new_tokens, temperature)
            for messages in tqdm(prompts, desc="generate", leave=False, disable=len(prompts) <= 1)
        ]

    def _generate_one(
        self, messages: ChatMessages, max_new_tokens: int, temperature: float
    ) -> Generation:
        # temperature 0 is greedy in llama.cpp; the other settings switch off truncation
        # and penalties so >0 is pure temperature sampling, as on the other backends.
        response: dict[str, Any] = self.llm.create_chat_completion(
            messages=messages,
            max_tokens=max_new_tokens,
            temperature=temperature,
            top_p=1.0,
            top_k=0,
            min_p=0.0,
            repeat_penalty=1.0,
            seed=SEED,
        )
        choice = response["choices"][0]
        usage = response.get("usage") or {}
        return Generation(
            text=choice["message"].get("content") or "",
            prompt_tokens=int(usage.get("prompt_tokens", 0)),
            completion_tokens=int(usage.get("completion_tokens", 0)),
            finish_reason=choice.get("finish_reason"),
        )

    def next_token_logprobs(
        self, prompts: Sequence[ChatMessages], candidates: Sequence[str]
    ) -> list[TokenScores]:
        """Log-probability of each candidate as the reply's first token.

        A candidate's value is the logsumexp over its first-token variants (``"Yes"`` and
        ``" Yes"``), i.e. the log of their summed probability (see ``_tokens``).
        """
        from tqdm.auto import tqdm

        variants = candidate_variant_table(
            candidates,
            lambda text: self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=False),
            self._token_text,
        )
        results = []
        for messages in tqdm(prompts, desc="next-token", leave=False, disable=len(prompts) <= 1):
            tokens = self._prompt_tokens(messages)
            logprobs = self._last_position_logprobs(tokens)
            results.append(
                TokenScores(
                    logprobs=variant_logprobs(variants, logprobs),
                    prompt_tokens=len(tokens),
                )
            )
        return results

    def _last_position_logprobs(self, tokens: list[int]) -> Any:
        import llama_cpp
        import numpy as np

        if len(tokens) >= self.llm.n_ctx():
            raise BackendError(
                f"prompt of {len(tokens)} tokens does not fit the context of "
                f"{self.llm.n_ctx()} (raise backend.context_length)"
            )
        self._evaluate(tokens)
        pointer = llama_cpp.llama_get_logits_ith(self.llm.ctx, -1)
        logits = np.ctypeslib.as_array(pointer, shape=(self.llm.n_vocab(),)).astype(np.float64)
        shifted = logits - logits.max()
        return shifted - np.log(np.exp(shifted).sum())

    def _evaluate(self, tokens: list[int]) -> None:
        """Evaluate ``tokens``, keeping the KV cache of the prefix they share with the
        tokens evaluated last: the pointwise prompts of one query differ only from the
        passage on, so their instruction and query are read once (as llama.cpp's own
        completion does). The last token is always read anew: its logits are the answer."""
        done = self.llm.input_ids[: self.llm.n_tokens]
        shared = 0
        for old, new in zip(done, tokens[:-1], strict=False):
            if old != new:
                break
            shared += 1
        # eval() drops the KV cache from n_tokens on, then appends what it reads.
        self.llm.n_tokens = shared
        self.llm.eval(tokens[shared:])

    def close(self) -> None:
        """Free the llama.cpp model and context."""
        self.llm.close()
