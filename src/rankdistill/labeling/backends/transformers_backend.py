"""Local LLM through Hugging Face transformers (hub id, local dir, GGUF or packaged alias).

Prompts are chat messages rendered with the tokenizer's chat template
(``add_generation_prompt=True``), tokenized without extra special tokens (the template
already has them), and run in batches with **left padding** so every row's last position
is its real last token. Generation is greedy at temperature 0.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from rankdistill.labeling.backends._tokens import (
    hf_candidate_variant_table,
    variant_logprobs,
)
from rankdistill.labeling.backends.base import ChatMessages, Generation, TokenScores
from rankdistill.labeling.backends.errors import BackendError
from rankdistill.labeling.config import BackendConfig
from rankdistill.resources import resolve_model
from rankdistill.utils import resolve_device, supports_bf16

if TYPE_CHECKING:
    import torch

logger = logging.getLogger(__name__)


def _resolve_dtype(dtype: str, device: str) -> torch.dtype:
    """``auto`` -> bfloat16 on a GPU that supports it, float32 otherwise."""
    import torch

    if dtype == "auto":
        return torch.bfloat16 if supports_bf16(device) else torch.float32
    return getattr(torch, dtype)


class TransformersBackend:
    """An ``LLMBackend`` running a causal LM with transformers on CPU or GPU."""

    def __init__(self, cfg: BackendConfig) -> None:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.cfg = cfg
        ref = resolve_model(cfg.model, cfg.gguf_file)
        load_kwargs: dict[str, Any] = {"gguf_file": ref.gguf_file} if ref.gguf_file else {}
        self.device = resolve_device(cfg.device)
        self.dtype = _resolve_dtype(cfg.dtype, self.device)
        self.tokenizer = AutoTokenizer.from_pretrained(ref.path, **load_kwargs)
        if not getattr(self.tokenizer, "chat_template", None):
            raise BackendError(
                f"model {ref.label!r} has no chat template; the transformers backend needs "
                "an instruction-tuned model whose tokenizer defines one"
            )
        # Left padding keeps each prompt's last token in the last column, where generation
        # continues and where next-token logits are read.
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.model = AutoModelForCausalLM.from_pretrained(ref.path, dtype=self.dtype, **load_kwargs)
        self.model.to(self.device)
        self.model.eval()
        self._eos_ids = self._stop_token_ids()
        self._forward_takes_logits_to_keep = (
            "logits_to_keep" in inspect.signature(self.model.forward).parameters
        )
        dtype_name = str(self.dtype).removeprefix("torch.")
        gguf = f":{ref.gguf_file}" if ref.gguf_file else ""
        self.model_id = f"transformers:{ref.label}{gguf}:{dtype_name}"

    def __repr__(self) -> str:
        return f"TransformersBackend(model_id={self.model_id!r}, device={self.device!r})"

    # -- prompt handling -------------------------------------------------------------

    def _stop_token_ids(self) -> list[int]:
        eos = self.model.generation_config.eos_token_id
        if eos is None:
            eos = self.tokenizer.eos_token_id
        ids = [eos] if isinstance(eos, int) else list(eos or [])
        if not ids:
            raise BackendError(f"{self.cfg.model!r}: neither the model nor tokenizer names an EOS")
        return ids

    def render(self, messages: ChatMessages) -> str:
        """The chat-templated prompt text, ending where the assistant's reply starts."""
        return self.tokenizer.apply_chat_template(
            messages, add_generation_prompt=True, tokenize=False
        )

    def _encode(self, prompts: Sequence[ChatMessages]) -> Any:
        texts = [self.render(m) for m in prompts]
        enc = self.tokenizer(texts, add_special_tokens=False, padding=True, return_tensors="pt")
        return enc.to(self.device)

    def _batches(self, prompts: Sequence[ChatMessages]) -> list[list[int]]:
        """Prompt indices in batches of similar length (less padding, same results)."""
        lengths = [self.count_tokens(m) for m in prompts]
        order = sorted(range(len(prompts)), key=lambda i: lengths[i])
        size = max(1, self.cfg.batch_size)
        return [order[i : i + size] for i in range(0, len(order), size)]

    # -- LLMBackend ------------------------------------------------------------------

    def count_tokens(self, messages: ChatMessages) -> int:
        return len(self.tokenizer(self.render(messages), add_special_tokens=False)["input_ids"])

    def generate(
        self, prompts: Sequence[ChatMessages], max_new_tokens: int, temperature: float = 0.0
    ) -> list[Generation]:
        from tqdm.auto import tqdm

        results: list[Generation | None] = [None] * len(prompts)
        batches = self._batches(prompts)
        for batch in tqdm(batches, desc="generate", leave=False, disable=len(batches) <= 1):
            for index, generation in zip(
                batch,
                self._generate_batch([prompts[i] for i in batch], max_new_tokens, temperature),
                strict=True,
            ):
                results[index] = generation
        return [r for r in results if r is not None]

    def _generate_batch(
        self, prompts: Sequence[ChatMessages], max_new_tokens: int, temperature: float
    ) -> list[Generation]:
        import torch
        from transformers import GenerationConfig

        enc = self._encode(prompts)
        sampling = temperature > 0
        # A fresh config, so defaults shipped with a model (e.g. sampling at 0.7) never
        # leak in: temperature 0 is plain greedy decoding, >0 is pure temperature sampling.
        gen_cfg = GenerationConfig(
            max_new_tokens=max_new_tokens,
            do_sample=sampling,
            temperature=temperature if sampling else None,
            top_k=0 if sampling else None,
            top_p=1.0 if sampling else None,
            eos_token_id=self._eos_ids,
            pad_token_id=self.tokenizer.pad_token_id,
        )
        with torch.inference_mode():
            out = self.model.generate(**enc, generation_config=gen_cfg)
        new_tokens = out[:, enc["input_ids"].shape[1] :].tolist()
        prompt_lengths = enc["attention_mask"].sum(dim=1).tolist()
        return [
            self._to_generation(tokens, int(n_prompt))
            for tokens, n_prompt in zip(new_tokens, prompt_lengths, strict=True)
        ]

    def _to_generation(self, tokens: list[int], prompt_tokens: int) -> Generation:
        # Rows that finished early are filled with padding (often the EOS id itself): the
        # completion ends at the first stop token, which counts as generated.
        stop_at = next((i for i, t in enumerate(tokens) if t in self._eos_ids), None)
        kept = tokens if stop_at is None else tokens[:stop_at]
        return Generation(
            text=self.tokenizer.decode(kept, skip_special_tokens=True),
            prompt_tokens=prompt_tokens,
            completion_tokens=len(tokens) if stop_at is None else stop_at + 1,
            finish_reason="length" if stop_at is None else "stop",
        )

    def next_token_logprobs(
        self, prompts: Sequence[ChatMessages], candidates: Sequence[str]
    ) -> list[TokenScores]:
        """Log-probability of each candidate as the first token of the reply.

        A candidate's value is the logsumexp over its first-token variants (``"Yes"`` and
        ``" Yes"``), i.e. the log of their summed probability (see ``_tokens``).
        """
        from tqdm.auto import tqdm

        variants = hf_candidate_variant_table(self.tokenizer, candidates)
        results: list[TokenScores | None] = [None] * len(prompts)
        batches = self._batches(prompts)
        for batch in tqdm(batches, desc="next-token", leave=False, disable=len(batches) <= 1):
            rows = self._next_token_logprob_rows([prompts[i] for i in batch])
            for index, (logprobs, n_prompt) in zip(batch, rows, strict=True):
                results[index] = TokenScores(
                    logprobs=variant_logprobs(variants, logprobs),
                    prompt_tokens=n_prompt,
                )
        return [r for r in results if r is not None]

    def _next_token_logprob_rows(self, prompts: Sequence[ChatMessages]) -> list[tuple[Any, int]]:
        """Per prompt: the log-softmax over the vocabulary at the next position."""
        import torch

        enc = self._encode(prompts)
        mask = enc["attention_mask"]
        # Explicit positions: with left padding a row's first real token is position 0.
        positions = (mask.cumsum(dim=1) - 1).clamp(min=0)
        kwargs: dict[str, Any] = {"logits_to_keep": 1} if self._forward_takes_logits_to_keep else {}
        with torch.inference_mode():
            logits = self.model(
                input_ids=enc["input_ids"], attention_mask=mask, position_ids=positions, **kwargs
            ).logits[:, -1, :]
            logprobs = torch.log_softmax(logits.float(), dim=-1).cpu()
        return [(logprobs[i], int(mask[i].sum())) for i in range(len(prompts))]

    def close(self) -> None:
        """Drop the model so its memory can be reclaimed."""
        import torch

        self.model = None  # type: ignore[assignment]
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
