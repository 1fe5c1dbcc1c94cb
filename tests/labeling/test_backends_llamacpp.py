"""LlamaCppBackend on the packaged SmolLM2-135M-Instruct GGUF."""

from __future__ import annotations

import math
from collections.abc import Iterator

import pytest

from rankdistill.labeling.backends import BackendError, build_backend
from rankdistill.labeling.backends.llamacpp_backend import LlamaCppBackend
from rankdistill.labeling.config import BackendConfig

pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed (rankdistill[llamacpp])")

PROMPTS = [
    [{"role": "user", "content": "What is the capital of France? Answer in one word."}],
    [
        {"role": "system", "content": "You are a search relevance judge."},
        {
            "role": "user",
            "content": (
                "Query: how do solar panels work\n"
                "Passage: Photovoltaic cells convert sunlight directly into electricity.\n"
                "Is the passage relevant to the query? Answer Yes or No."
            ),
        },
    ],
]


@pytest.fixture(scope="module")
def backend() -> Iterator[LlamaCppBackend]:
    try:
        built = build_backend(
            BackendConfig(kind="llama-cpp", model="smollm2-135m", context_length=1024, n_threads=1)
        )
    except FileNotFoundError as exc:  # the weights package is not installed
        pytest.skip(str(exc))
    assert isinstance(built, LlamaCppBackend)
    yield built
    built.close()


def test_threads_default_to_the_physical_cores_this_process_may_use() -> None:
    import os

    import psutil

    from rankdistill.labeling.backends.llamacpp_backend import default_threads

    expected = min(len(os.sched_getaffinity(0)), psutil.cpu_count(logical=False))
    assert default_threads() == expected >= 1


def test_generate_text_and_usage(backend: LlamaCppBackend) -> None:
    generations = backend.generate(PROMPTS, max_new_tokens=16)
    assert len(generations) == 2
    assert "paris" in generations[0].text.lower()
    for messages, g in zip(PROMPTS, generations, strict=True):
        assert g.text.strip()
        assert g.completion_tokens > 0
        # usage comes from create_chat_completion; it must agree with the prompt this
        # backend renders from the GGUF's own chat template.
        assert g.prompt_tokens == backend.count_tokens(messages) > 0
        assert g.finish_reason in {"stop", "length"}
    assert backend.render(PROMPTS[0]).endswith("<|im_start|>assistant\n")


def test_greedy_generation_is_deterministic(backend: LlamaCppBackend) -> None:
    first = backend.generate(PROMPTS[1:], max_new_tokens=8)[0]
    second = backend.generate(PROMPTS[1:], max_new_tokens=8)[0]
    assert first.text == second.text


def test_next_token_logprobs_match_llamacpp_completion_logprobs(backend: LlamaCppBackend) -> None:
    from llama_cpp import Llama

    prompts = PROMPTS[1:]  # one prompt: the reference sorts the whole vocabulary in Python
    scores = backend.next_token_logprobs(prompts, ["Yes", "No"])
    # Independent reference: llama-cpp-python's own logprobs (needs logits_all=True).
    reference = Llama(
        model_path=str(backend.llm.model_path),
        n_ctx=1024,
        n_threads=1,
        logits_all=True,
        verbose=False,
    )
    try:
        for messages, score in zip(prompts, scores, strict=True):
            tokens = backend.llm.tokenize(
                backend.render(messages).encode(), add_bos=False, special=True
            )
            out = reference.create_completion(tokens, max_tokens=1, logprobs=100, temperature=0)
            top: dict[str, float] = out["choices"][0]["logprobs"]["top_logprobs"][0]
            for word in ("Yes", "No"):
                variants = [lp for tok, lp in top.items() if tok in (word, " " + word)]
                assert variants, f"{word!r} not in the reference's top 100"
                expected = math.log(sum(math.exp(v) for v in variants))
                assert score.logprobs[word] == pytest.approx(expected, abs=1e-3)
                assert math.isfinite(score.logprobs[word]) and score.logprobs[word] <= 0
            assert score.prompt_tokens == len(tokens)
    finally:
        reference.close()


def _judge(passage: str) -> list[dict[str, str]]:
    return [
        {"role": "system", "content": "You are a search relevance judge."},
        {
            "role": "user",
            "content": f"Query: how do solar panels work\nPassage: {passage}\nYes or No?",
        },
    ]


def test_a_shared_prompt_prefix_is_read_once_and_scores_as_from_scratch(
    backend: LlamaCppBackend,
) -> None:
    """Pointwise prompts of one query share all but the passage: scoring them in a row
    keeps the prefix's KV cache, and every score is the one a fresh context gives."""
    prompts = [
        _judge("Photovoltaic cells convert sunlight directly into electricity."),
        _judge("The Eiffel Tower is in Paris."),
        _judge("The Eiffel Tower is in Paris."),  # all of it shared: the last token is re-read
    ]
    in_a_row = backend.next_token_logprobs(prompts, ["Yes", "No"])
    kept = backend.llm.n_tokens
    alone = []
    for messages in prompts:
        backend.llm.reset()
        alone.append(backend.next_token_logprobs([messages], ["Yes", "No"])[0])
    assert kept == alone[-1].prompt_tokens  # the context holds exactly the last prompt
    for row, fresh in zip(in_a_row, alone, strict=True):
        assert row.prompt_tokens == fresh.prompt_tokens
        for word in ("Yes", "No"):
            assert row.logprobs[word] == pytest.approx(fresh.logprobs[word], abs=1e-3)
    # The two passages are judged differently, so the prefix did not answer for both.
    assert in_a_row[0].logprobs["Yes"] != pytest.approx(in_a_row[1].logprobs["Yes"], abs=1e-3)


def test_prompt_longer_than_context_is_a_clear_error(backend: LlamaCppBackend) -> None:
    long_prompt = [{"role": "user", "content": "word " * 2000}]
    with pytest.raises(BackendError, match="does not fit the context of 1024"):
        backend.next_token_logprobs([long_prompt], ["Yes"])


def test_sampling_at_positive_temperature(backend: LlamaCppBackend) -> None:
    [sampled] = backend.generate(PROMPTS[:1], max_new_tokens=6, temperature=1.0)
    assert 1 <= sampled.completion_tokens <= 6
    assert sampled.prompt_tokens == backend.count_tokens(PROMPTS[0])
