"""CachedBackend: hits, misses, resume across instances, threads and processes.

The wrapped backend is the real OpenAIBackend talking to the local test server, so a
cache hit is proven by the server *not* receiving a request.
"""

from __future__ import annotations

import multiprocessing
import sqlite3
import threading
from pathlib import Path

import pytest

from rankdistill.labeling.backends import BackendError, LLMBackend, build_backend
from rankdistill.labeling.backends.openai_backend import OpenAIBackend
from rankdistill.labeling.cache import CachedBackend, cache_key
from rankdistill.labeling.config import BackendConfig
from tests.openai_server import OpenAITestServer

pytest_plugins = ["tests.openai_server"]


def _prompt(i: int, word: str = "cache") -> list[dict[str, str]]:
    return [{"role": "user", "content": f"{word} test prompt {i}"}]


def _openai(base_url: str, model: str = "test-model", **cfg: object) -> OpenAIBackend:
    settings: dict[str, object] = {
        "kind": "openai",
        "model": model,
        "base_url": base_url,
        "max_retries": 2,
    }
    settings.update(cfg)
    return OpenAIBackend(BackendConfig(**settings), backoff_base_s=0.01)


def test_hit_returns_original_answer_across_instances(
    openai_server: OpenAITestServer, tmp_path: Path
) -> None:
    path = tmp_path / "llm.sqlite"
    first = CachedBackend(_openai(openai_server.base_url), path)
    assert isinstance(first, LLMBackend)
    [fresh] = first.generate([_prompt(1)], max_new_tokens=16)
    assert fresh.cached is False
    assert (first.hits, first.misses) == (0, 1)
    [again] = first.generate([_prompt(1)], max_new_tokens=16)
    assert again.cached is True
    first.close()

    # A new process-like instance on the same file (a resumed run) sees the entry.
    second = CachedBackend(_openai(openai_server.base_url), path)
    [resumed] = second.generate([_prompt(1)], max_new_tokens=16)
    assert resumed.cached is True
    assert (resumed.text, resumed.prompt_tokens, resumed.completion_tokens) == (
        fresh.text,
        fresh.prompt_tokens,
        fresh.completion_tokens,
    )
    assert resumed.finish_reason == fresh.finish_reason
    assert (second.hits, second.misses) == (1, 0)
    assert len(openai_server.chat_requests()) == 1
    second.close()


def test_changed_parameters_or_model_miss(openai_server: OpenAITestServer, tmp_path: Path) -> None:
    path = tmp_path / "llm.sqlite"
    cached = CachedBackend(_openai(openai_server.base_url), path)
    cached.generate([_prompt(2)], max_new_tokens=16)
    cached.generate([_prompt(2)], max_new_tokens=17)
    cached.generate([_prompt(2)], max_new_tokens=16, temperature=0.7)
    cached.generate([_prompt(3)], max_new_tokens=16)
    assert (cached.hits, cached.misses) == (0, 4)
    cached.close()
    other_model = CachedBackend(_openai(openai_server.base_url, model="other-model"), path)
    [answer] = other_model.generate([_prompt(2)], max_new_tokens=16)
    assert answer.cached is False
    assert len(openai_server.chat_requests()) == 5
    assert len(other_model) == 5
    other_model.close()


def test_repeated_prompt_in_one_call_is_sent_once(
    openai_server: OpenAITestServer, tmp_path: Path
) -> None:
    cached = CachedBackend(_openai(openai_server.base_url), tmp_path / "c.sqlite")
    out = cached.generate([_prompt(4), _prompt(5), _prompt(4)], max_new_tokens=16)
    assert [g.cached for g in out] == [False, False, True]
    assert out[0].text == out[2].text
    assert out[0].prompt_tokens == out[2].prompt_tokens
    assert len(openai_server.chat_requests()) == 2
    cached.close()


def test_next_token_logprobs_cached_in_callers_candidate_order(
    openai_server: OpenAITestServer, tmp_path: Path
) -> None:
    cached = CachedBackend(_openai(openai_server.base_url), tmp_path / "c.sqlite")
    [fresh] = cached.next_token_logprobs([_prompt(6)], ["Yes", "No"])
    [hit] = cached.next_token_logprobs([_prompt(6)], ["No", "Yes"])
    assert hit.cached is True and fresh.cached is False
    assert list(hit.logprobs) == ["No", "Yes"]
    assert hit.logprobs == fresh.logprobs
    assert hit.prompt_tokens == fresh.prompt_tokens
    assert len(openai_server.chat_requests()) == 1
    cached.close()


def test_count_tokens_is_cached(openai_server: OpenAITestServer, tmp_path: Path) -> None:
    cached = CachedBackend(_openai(openai_server.base_url), tmp_path / "c.sqlite")
    assert cached.count_tokens(_prompt(7)) == cached.count_tokens(_prompt(7)) == 4 + 4
    assert len(openai_server.chat_requests()) == 1
    cached.close()


def test_key_ignores_dict_order_but_not_content() -> None:
    a = cache_key("m", "generate", [{"role": "user", "content": "x"}], {"t": 0, "n": 5})
    b = cache_key("m", "generate", [{"content": "x", "role": "user"}], {"n": 5, "t": 0})
    c = cache_key("m", "generate", [{"role": "user", "content": "y"}], {"t": 0, "n": 5})
    assert a == b != c
    assert len(a) == 64


def test_finished_chunks_survive_a_failed_run(
    openai_server: OpenAITestServer, tmp_path: Path
) -> None:
    path = tmp_path / "c.sqlite"
    prompts = [_prompt(i, word="poison" if i == 4 else "ok") for i in range(6)]
    openai_server.fail_matching = "poison"
    cached = CachedBackend(
        _openai(openai_server.base_url, max_retries=0, concurrency=1), path, chunk_size=2
    )
    with pytest.raises(BackendError):
        cached.generate(prompts, max_new_tokens=8)
    assert len(cached) == 4  # the two chunks before the failure were written
    cached.close()

    openai_server.fail_matching = None
    resumed = CachedBackend(_openai(openai_server.base_url), path, chunk_size=2)
    out = resumed.generate(prompts, max_new_tokens=8)
    assert [g.cached for g in out] == [True] * 4 + [False] * 2
    assert (resumed.hits, resumed.misses) == (4, 2)
    resumed.close()


def test_two_threads_write_concurrently(openai_server: OpenAITestServer, tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    cached = CachedBackend(_openai(openai_server.base_url, concurrency=2), path, chunk_size=3)
    errors: list[BaseException] = []

    def work(offset: int) -> None:
        try:
            cached.generate([_prompt(offset + i) for i in range(15)], max_new_tokens=8)
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(o,)) for o in (0, 100)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert (cached.hits, cached.misses) == (0, 30)
    cached.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("SELECT COUNT(*) FROM llm_calls").fetchone()[0] == 30
    reread = CachedBackend(_openai(openai_server.base_url), path)
    out = reread.generate([_prompt(i) for i in (*range(15), *range(100, 115))], max_new_tokens=8)
    assert all(g.cached for g in out)
    assert out[0].text == "echo: cache test prompt 0"
    assert len(openai_server.chat_requests()) == 30
    reread.close()


def _write_from_process(base_url: str, path: str, offset: int) -> None:
    cfg = BackendConfig(kind="openai", model="test-model", base_url=base_url)
    with build_backend(cfg, cache_path=path) as cached:  # type: ignore[attr-defined]
        cached.generate([_prompt(offset + i) for i in range(10)], max_new_tokens=8)


def test_two_processes_write_the_same_file(openai_server: OpenAITestServer, tmp_path: Path) -> None:
    path = tmp_path / "shared.sqlite"
    context = multiprocessing.get_context("spawn")
    workers = [
        context.Process(target=_write_from_process, args=(openai_server.base_url, str(path), o))
        for o in (0, 1000)
    ]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=120)
    assert [w.exitcode for w in workers] == [0, 0]
    cached = CachedBackend(_openai(openai_server.base_url), path)
    assert len(cached) == 20
    out = cached.generate([_prompt(i) for i in (*range(10), *range(1000, 1010))], max_new_tokens=8)
    assert all(g.cached for g in out)
    cached.close()


def _open_after_barrier(path: str, barrier: object) -> int:
    backend = OpenAIBackend(BackendConfig(kind="openai", model="m", base_url="http://127.0.0.1:9"))
    barrier.wait()  # type: ignore[attr-defined]
    with CachedBackend(backend, path) as cached:
        return len(cached)


def test_processes_opening_one_new_file_together_all_succeed(tmp_path: Path) -> None:
    # A new file's switch to WAL answers "database is locked" at once, without SQLite's
    # busy handler, to a process racing another's switch: sharded generation did exactly
    # that. Four processes at a barrier, over fresh files, met it about once in four tries.
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager, context.Pool(4) as pool:
        for trial in range(12):
            path = str(tmp_path / f"new-{trial}.sqlite")
            barrier = manager.Barrier(4)
            assert pool.starmap(_open_after_barrier, [(path, barrier)] * 4) == [0] * 4
            with sqlite3.connect(path) as conn:
                assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
