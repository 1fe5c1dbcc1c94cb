"""An on-disk cache of LLM calls: every backend call goes through it.

:class:`CachedBackend` wraps any :class:`~rankdistill.labeling.backends.base.LLMBackend`
and implements the same protocol. A call is keyed by the SHA-256 of the canonical JSON of
``(model_id, call kind, messages, parameters)``; the result is stored as JSON in SQLite.

- A hit is returned with ``cached=True`` and the token counts of the *original* call, so
  cost statistics describe what the labels cost to make, not what the rerun cost.
- Each result is written as soon as the backend returns it (misses are sent to the
  backend in chunks of ``chunk_size``), so a killed run loses at most one chunk.
- SQLite in WAL mode with a busy timeout: several threads (one connection each) and
  several processes can read and write the same file at once.
- At temperature > 0 the first sample is cached and returned again for the same call.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any, TypeVar

from rankdistill.labeling.backends.base import ChatMessages, Generation, LLMBackend, TokenScores

R = TypeVar("R", Generation, TokenScores)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS llm_calls (
    key TEXT PRIMARY KEY,
    model_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    request TEXT NOT NULL,
    result TEXT NOT NULL,
    created_at REAL NOT NULL
)
"""
_SQLITE_MAX_PARAMS = 500  # keys per SELECT ... IN (...), well under SQLite's limit


def _use_wal(conn: sqlite3.Connection) -> None:
    """Switch the file to WAL once; a file already in WAL is left as it is."""
    (mode,) = conn.execute("PRAGMA journal_mode").fetchone()
    if str(mode).lower() != "wal":
        conn.execute("PRAGMA journal_mode = WAL")


def _retry_while_locked(statement: Callable[[], object], timeout_s: float) -> None:
    """Run ``statement``, retrying while another process holds the file's lock.

    SQLite answers a change of journal mode, or a first schema write racing another
    process's, with "database is locked" at once, without calling its busy handler; shard
    processes that open one new cache file together meet exactly that.
    """
    deadline = time.monotonic() + timeout_s
    delay = 0.01
    while True:
        try:
            statement()
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() >= deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.5)


def canonical_json(obj: Any) -> str:
    """One spelling per value: sorted keys, no whitespace, unicode kept."""
    return json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def cache_key(model_id: str, kind: str, messages: ChatMessages, params: dict[str, Any]) -> str:
    """SHA-256 of the canonical JSON of everything that determines a call's answer."""
    payload = {"model_id": model_id, "kind": kind, "messages": messages, "params": params}
    return hashlib.sha256(canonical_json(payload).encode("utf-8")).hexdigest()


class CachedBackend:
    """An ``LLMBackend`` that answers repeated calls from a SQLite file.

    ``hits`` and ``misses`` count prompts of ``generate`` and ``next_token_logprobs``
    (a prompt repeated within one call counts as a hit after its first occurrence).
    ``count_tokens`` is cached too but not counted.
    """

    def __init__(
        self,
        backend: LLMBackend,
        path: str | Path,
        *,
        chunk_size: int = 64,
        busy_timeout_s: float = 60.0,
    ) -> None:
        self.backend = backend
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.model_id = backend.model_id
        self.chunk_size = max(1, chunk_size)
        self.busy_timeout_s = busy_timeout_s
        self.hits = 0
        self.misses = 0
        self._counter_lock = threading.Lock()
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._connections_lock = threading.Lock()
        _retry_while_locked(lambda: self._connection().execute(_SCHEMA), busy_timeout_s)

    def __repr__(self) -> str:
        return f"CachedBackend({self.backend!r}, path={str(self.path)!r})"

    def __enter__(self) -> CachedBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- SQLite ----------------------------------------------------------------------

    def _connection(self) -> sqlite3.Connection:
        """This thread's connection (sqlite3 connections must not be shared across threads)."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(
                self.path,
                timeout=self.busy_timeout_s,
                isolation_level=None,  # autocommit: each write is durable on its own
                check_same_thread=False,  # only so close() may close it from another thread
            )
            conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_s * 1000)}")
            _retry_while_locked(lambda: _use_wal(conn), self.busy_timeout_s)
            conn.execute("PRAGMA synchronous = NORMAL")
            self._local.conn = conn
            with self._connections_lock:
                self._connections.append(conn)
        return conn

    def _lookup(self, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        unique = list(dict.fromkeys(keys))
        conn = self._connection()
        for start in range(0, len(unique), _SQLITE_MAX_PARAMS):
            chunk = unique[start : start + _SQLITE_MAX_PARAMS]
            marks = ",".join("?" * len(chunk))
            rows = conn.execute(
                f"SELECT key, result FROM llm_calls WHERE key IN ({marks})", chunk
            ).fetchall()
            for key, result in rows:
                try:
                    found[key] = json.loads(result)
                except json.JSONDecodeError:
                    continue  # a damaged entry is recomputed and overwritten
        return found

    def _store(self, key: str, kind: str, request: dict[str, Any], result: dict[str, Any]) -> None:
        self._connection().execute(
            "INSERT OR REPLACE INTO llm_calls (key, model_id, kind, request, result, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (
                key,
                self.model_id,
                kind,
                canonical_json(request),
                canonical_json(result),
                time.time(),
            ),
        )

    def __len__(self) -> int:
        """Number of stored calls (all models)."""
        return int(self._connection().execute("SELECT COUNT(*) FROM llm_calls").fetchone()[0])

    # -- the cached call -------------------------------------------------------------

    def _cached_call(
        self,
        kind: str,
        prompts: Sequence[ChatMessages],
        params: dict[str, Any],
        call: Callable[[list[ChatMessages]], list[R]],
        load: Callable[[dict[str, Any]], R],
    ) -> list[R]:
        """Answer hits from the file, send misses to ``call`` chunk by chunk, store each."""
        from tqdm.auto import tqdm

        keys = [cache_key(self.model_id, kind, list(m), params) for m in prompts]
        results: dict[str, R] = {k: load(v) for k, v in self._lookup(keys).items()}
        first_index: dict[str, int] = {}
        for index, key in enumerate(keys):
            first_index.setdefault(key, index)
        todo = [k for k in first_index if k not in results]
        chunks = [todo[i : i + self.chunk_size] for i in range(0, len(todo), self.chunk_size)]
        for chunk in tqdm(chunks, desc=f"LLM {kind}", leave=False, disable=len(chunks) <= 1):
            answers = call([list(prompts[first_index[k]]) for k in chunk])
            if len(answers) != len(chunk):
                raise RuntimeError(
                    f"{self.backend!r} returned {len(answers)} results for {len(chunk)} prompts"
                )
            for key, answer in zip(chunk, answers, strict=True):
                request = {"messages": prompts[first_index[key]], "params": params}
                self._store(key, kind, request, _result_json(answer))
                results[key] = answer
        fresh = set(todo)
        out: list[R] = []
        for index, key in enumerate(keys):
            answer = results[key]
            is_fresh = key in fresh and first_index[key] == index
            out.append(answer if is_fresh else _as_cached(answer))
        with self._counter_lock:
            self.misses += len(todo)
            self.hits += len(keys) - len(todo)
        return out

    # -- LLMBackend ------------------------------------------------------------------

    def generate(
        self, prompts: Sequence[ChatMessages], max_new_tokens: int, temperature: float = 0.0
    ) -> list[Generation]:
        params = {"max_new_tokens": max_new_tokens, "temperature": float(temperature)}
        return self._cached_call(
            "generate",
            prompts,
            params,
            lambda batch: self.backend.generate(batch, max_new_tokens, temperature),
            lambda stored: Generation(**stored),
        )

    def next_token_logprobs(
        self, prompts: Sequence[ChatMessages], candidates: Sequence[str]
    ) -> list[TokenScores]:
        # The answer does not depend on the candidates' order: sort them for the key, then
        # hand each result back in the caller's order.
        ordered = list(dict.fromkeys(candidates))
        params = {"candidates": sorted(ordered)}
        scores = self._cached_call(
            "next_token_logprobs",
            prompts,
            params,
            lambda batch: self.backend.next_token_logprobs(batch, sorted(ordered)),
            lambda stored: TokenScores(**stored),
        )
        for score in scores:
            score.logprobs = {c: score.logprobs[c] for c in ordered}
        return scores

    def count_tokens(self, messages: ChatMessages) -> int:
        key = cache_key(self.model_id, "count_tokens", list(messages), {})
        stored = self._lookup([key]).get(key)
        if stored is not None and isinstance(stored.get("tokens"), int):
            return int(stored["tokens"])
        tokens = self.backend.count_tokens(messages)
        self._store(key, "count_tokens", {"messages": messages, "params": {}}, {"tokens": tokens})
        return tokens

    def stats(self) -> dict[str, int]:
        """Cache hits and misses so far, for label statistics."""
        with self._counter_lock:
            return {"hits": self.hits, "misses": self.misses}

    def close(self) -> None:
        """Close every thread's connection, then the wrapped backend."""
        with self._connections_lock:
            for conn in self._connections:
                conn.close()
            self._connections.clear()
        self._local = threading.local()
        self.backend.close()


def _result_json(answer: Generation | TokenScores) -> dict[str, Any]:
    stored = asdict(answer)
    stored.pop("cached", None)
    return stored


def _as_cached(answer: R) -> R:
    """A copy marked ``cached=True`` (keeps the original token counts)."""
    copy = type(answer)(**_result_json(answer))
    copy.cached = True
    return copy
