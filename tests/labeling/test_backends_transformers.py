"""TransformersBackend on the packaged SmolLM2-135M-Instruct GGUF (dequantised to fp32)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from rankdistill.labeling.backends import build_backend
from rankdistill.labeling.backends.transformers_backend import TransformersBackend
from rankdistill.labeling.config import BackendConfig

PROMPTS = [
    [{"role": "user", "content": "What is the capital of France? Answer in one word."}],
    [
        {"role": "system", "content": "You are a search relevance judge."},
        {
            "role": "user",
            "content": (
                "Query: how do solar panels work\n"
                "Passage: Photovoltaic cells convert sunlight directly into electricity "
                "using semiconductor materials such as silicon.\n"
                "Is the passage relevant to the query? Answer Yes or No."
            ),
        },
    ],
]


@pytest.fixture(scope="module")
def backend() -> Iterator[TransformersBackend]:
    import torch

    torch.set_num_threads(1)
    try:
        built = build_backend(
            # float32 explicitly: "auto" is bf16 on a CPU with native bf16 (AMX), and the
            # reference forward passes below are float32.
            BackendConfig(
                kind="transformers",
                model="smollm2-135m",
                device="cpu",
                batch_size=4,
                dtype="float32",
            )
        )
    except FileNotFoundError as exc:  # the weights package is not installed
        pytest.skip(str(exc))
    assert isinstance(built, TransformersBackend)
    yield built
    built.close()


def test_model_id_names_alias_and_gguf(backend: TransformersBackend) -> None:
    assert backend.model_id == ("transformers:smollm2-135m:SmolLM2-135M-Instruct.Q4_1.gguf:float32")


def test_batched_generation_equals_one_by_one(backend: TransformersBackend) -> None:
    lengths = [backend.count_tokens(p) for p in PROMPTS]
    assert lengths[0] != lengths[1], "prompts of different length exercise left padding"
    batched = backend.generate(PROMPTS, max_new_tokens=12)
    alone = [backend.generate([p], max_new_tokens=12)[0] for p in PROMPTS]
    assert [g.text for g in batched] == [g.text for g in alone]
    assert [g.completion_tokens for g in batched] == [g.completion_tokens for g in alone]
    assert all(g.text.strip() for g in batched)
    assert "paris" in batched[0].text.lower()
    assert [g.prompt_tokens for g in batched] == lengths
    for g in batched:
        assert 1 <= g.completion_tokens <= 12
        assert g.finish_reason in {"stop", "length"}
        assert (g.finish_reason == "length") == (g.completion_tokens == 12)


def test_count_tokens_matches_tokenizer(backend: TransformersBackend) -> None:
    tokenizer = backend.tokenizer
    for messages in PROMPTS:
        ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True)
        if isinstance(ids, dict) or hasattr(ids, "keys"):
            ids = ids["input_ids"]
        assert backend.count_tokens(messages) == len(ids)


def test_next_token_logprobs_match_manual_forward_pass(backend: TransformersBackend) -> None:
    import torch

    scores = backend.next_token_logprobs(PROMPTS, ["Yes", "No"])
    tokenizer, model = backend.tokenizer, backend.model
    for messages, score in zip(PROMPTS, scores, strict=True):
        # Reference: one unpadded prompt, full forward pass, log-softmax at the last position.
        text = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        ids = tokenizer(text, add_special_tokens=False, return_tensors="pt")["input_ids"]
        with torch.inference_mode():
            logprobs = torch.log_softmax(model(input_ids=ids).logits[0, -1].float(), dim=-1)
        for word in ("Yes", "No"):
            variants = {
                tokenizer(v, add_special_tokens=False)["input_ids"][0] for v in (word, " " + word)
            }
            expected = torch.logsumexp(logprobs[sorted(variants)], dim=0).item()
            assert score.logprobs[word] == pytest.approx(expected, abs=1e-4)
            assert score.logprobs[word] <= 0.0
        assert score.prompt_tokens == ids.shape[1]
        total = sum(torch.tensor(v).exp().item() for v in score.logprobs.values())
        assert 0.0 < total <= 1.0 + 1e-6


def test_empty_candidate_is_rejected(backend: TransformersBackend) -> None:
    with pytest.raises(ValueError, match="non-empty"):
        backend.next_token_logprobs(PROMPTS[:1], ["Yes", " "])


def test_sampling_at_positive_temperature(backend: TransformersBackend) -> None:
    import torch

    torch.manual_seed(0)
    [sampled] = backend.generate(PROMPTS[:1], max_new_tokens=6, temperature=1.0)
    assert 1 <= sampled.completion_tokens <= 6
    assert sampled.prompt_tokens == backend.count_tokens(PROMPTS[0])
