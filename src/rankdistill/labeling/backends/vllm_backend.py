"""Offline batched inference on GPUs with vLLM (``vllm.LLM``).

vLLM is an optional extra (``pip install rankdistill[vllm]``) and is imported only when
this backend is built. Prompts are rendered with the model's chat template by vLLM's own
tokenizer and sent as token ids, so token counts are exact and batching is left to vLLM's
scheduler.

Next-token scores are exact, not top-k: each (prompt, candidate first-token variant) is
sent as the prompt followed by that token with ``prompt_logprobs=0``, and vLLM returns the
log-probability of that appended token. vLLM's prefix cache shares the prompt between
the variants.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rankdistill.labeling.backends._tokens import (
    hf_candidate_variant_table,
    variant_logprobs,
)
from rankdistill.labeling.backends.base import ChatMessages, Generation, TokenScores
from rankdistill.labeling.backends.errors import BackendNotInstalledError
from rankdistill.labeling.config import BackendConfig
from rankdistill.resources import resolve_model

INSTALL_HINT = "the vllm backend needs vLLM and a GPU: pip install rankdistill[vllm]"


def _import_vllm() -> Any:
    try:
        import vllm
    except ImportError as exc:
        raise BackendNotInstalledError(INSTALL_HINT) from exc
    return vllm


class VLLMBackend:
    """An ``LLMBackend`` on ``vllm.LLM`` (tensor parallel over ``cfg.tensor_parallel_size``)."""

    def __init__(self, cfg: BackendConfig) -> None:
        vllm = _import_vllm()
        self.cfg = cfg
        self._sampling_params = vllm.SamplingParams
        ref = resolve_model(cfg.model, cfg.gguf_file)
        model = str(ref.gguf_path) if ref.gguf_path is not None else ref.path
        llm_kwargs: dict[str, Any] = {
            "model": model,
            "tensor_parallel_size": cfg.tensor_parallel_size,
            "gpu_memory_utilization": cfg.gpu_memory_utilization,
            "max_model_len": cfg.context_length,
            "dtype": cfg.dtype,
            "enable_prefix_caching": True,
        }
        if ref.gguf_path is not None and (Path(ref.path) / "tokenizer_config.json").is_file():
            # vLLM recommends a real HF tokenizer next to a GGUF over converting the GGUF's.
            llm_kwargs["tokenizer"] = ref.path
        self.llm = vllm.LLM(**llm_kwargs)
        self.tokenizer = self.llm.get_tokenizer()
        gguf = f":{ref.gguf_file}" if ref.gguf_file else ""
        self.model_id = f"vllm:{ref.label}{gguf}:{cfg.dtype}"

    def __repr__(self) -> str:
        return f"VLLMBackend(model_id={self.model_id!r})"

    def _prompt_ids(self, messages: ChatMessages) -> list[int]:
        text = self.tokenizer.apply_chat_template(
            messages, add_generation_prompt=True, tokenize=False
        )
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def count_tokens(self, messages: ChatMessages) -> int:
        return len(self._prompt_ids(messages))

    def generate(
        self, prompts: Sequence[ChatMessages], max_new_tokens: int, temperature: float = 0.0
    ) -> list[Generation]:
        # top_k is left at its default ("all tokens"; spelled -1 or 0 depending on the vLLM
        # version), so temperature > 0 is pure temperature sampling as on the other backends.
        params = self._sampling_params(
            max_tokens=max_new_tokens, temperature=temperature, top_p=1.0, seed=0
        )
        inputs = [{"prompt_token_ids": self._prompt_ids(m)} for m in prompts]
        outputs = self.llm.generate(inputs, params, use_tqdm=len(inputs) > 1)
        return [
            Generation(
                text=out.outputs[0].text,
                prompt_tokens=len(out.prompt_token_ids),
                completion_tokens=len(out.outputs[0].token_ids),
                finish_reason=out.outputs[0].finish_reason,
            )
            for out in outputs
        ]

    def next_token_logprobs(
        self, prompts: Sequence[ChatMessages], candidates: Sequence[str]
    ) -> list[TokenScores]:
        """Exact log-probability of each candidate as the reply's first token, summed over
        its first-token variants as the transformers backend does (``hf_candidate_variant_table``).
        """
        variants = hf_candidate_variant_table(self.tokenizer, candidates)
        token_ids = sorted({t for ids in variants.values() for t in ids})
        prompt_ids = [self._prompt_ids(m) for m in prompts]
        inputs = [{"prompt_token_ids": [*ids, t]} for ids in prompt_ids for t in token_ids]
        params = self._sampling_params(max_tokens=1, temperature=0.0, prompt_logprobs=0)
        outputs = self.llm.generate(inputs, params, use_tqdm=len(inputs) > 1)
        results = []
        for p, ids in enumerate(prompt_ids):
            scored: dict[int, float] = {}
            for k, token in enumerate(token_ids):
                # prompt_logprobs[-1] holds the appended token's log-probability given the
                # prompt before it.
                scored[token] = outputs[p * len(token_ids) + k].prompt_logprobs[-1][token].logprob
            results.append(
                TokenScores(
                    logprobs=variant_logprobs(variants, scored),
                    prompt_tokens=len(ids),
                )
            )
        return results

    def close(self) -> None:
        self.llm = None
