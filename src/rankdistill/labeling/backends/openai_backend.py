"""Any OpenAI-compatible chat-completions server (OpenAI, vLLM's server, Ollama, ...).

One HTTP request per prompt (``POST {base_url}/chat/completions``), at most
``cfg.concurrency`` in flight, results in input order. Failures that are worth retrying
(HTTP 429, any 5xx, timeouts, connection errors) are retried up to ``cfg.max_retries``
times with exponential backoff and jitter, or after the delay the server's
``Retry-After`` header asks for. Other HTTP errors (400, 401, 404, ...) fail at once.

The API key is read from the environment variable named by ``cfg.api_key_env`` (unset is
fine for local servers). It is sent only in the ``Authorization`` header and never
appears in logs, exception messages or reprs.
"""

from __future__ import annotations

import email.utils
import logging
import os
import random
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from datetime import UTC, datetime
from typing import Any, TypeVar

from rankdistill.labeling.backends.base import ChatMessages, Generation, TokenScores
from rankdistill.labeling.backends.errors import BackendError
from rankdistill.labeling.config import BackendConfig

logger = logging.getLogger(__name__)

T = TypeVar("T")

# The most alternatives the OpenAI API returns per position (vLLM's default cap as well).
DEFAULT_TOP_LOGPROBS = 20
_BODY_SNIPPET_CHARS = 300


class _Secret:
    """Holds the API key; its repr and str never show it."""

    def __init__(self, value: str | None) -> None:
        self.value = value

    def __repr__(self) -> str:
        return "<secret>" if self.value else "<none>"

    __str__ = __repr__


def _is_retryable_status(status: int) -> bool:
    return status == 429 or status >= 500


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


class OpenAIBackend:
    """An ``LLMBackend`` speaking the OpenAI chat-completions protocol over httpx."""

    def __init__(
        self,
        cfg: BackendConfig,
        *,
        backoff_base_s: float = 0.5,
        backoff_max_s: float = 30.0,
        retry_after_max_s: float = 120.0,
        top_logprobs: int = DEFAULT_TOP_LOGPROBS,
    ) -> None:
        import httpx

        self.cfg = cfg
        self.url = cfg.base_url.rstrip("/") + "/chat/completions"
        self.backoff_base_s = backoff_base_s
        self.backoff_max_s = backoff_max_s
        self.retry_after_max_s = retry_after_max_s
        self.top_logprobs = top_logprobs
        self._api_key = _Secret(os.environ.get(cfg.api_key_env) if cfg.api_key_env else None)
        headers = {"Accept": "application/json"}
        if self._api_key.value:
            headers["Authorization"] = f"Bearer {self._api_key.value}"
        # The concurrency limit holds per backend, across every thread that calls it.
        self._slots = threading.BoundedSemaphore(max(1, cfg.concurrency))
        # The pool itself is unlimited, so a request never queues inside httpcore: its
        # sync pool can close a connection already handed to a queued request when more
        # threads than max_connections share it (encode/httpcore#1110). httpx.Client is
        # thread-safe and its header repr masks the key.
        self._client = httpx.Client(
            headers=headers,
            timeout=httpx.Timeout(cfg.timeout_s),
            limits=httpx.Limits(max_connections=None, max_keepalive_connections=None),
        )
        self._usage_warning = threading.Event()
        self.model_id = f"openai:{cfg.model}@{cfg.base_url.rstrip('/')}"

    def __repr__(self) -> str:
        return (
            f"OpenAIBackend(model={self.cfg.model!r}, url={self.url!r}, "
            f"api_key_env={self.cfg.api_key_env!r})"
        )

    # -- HTTP ------------------------------------------------------------------------

    def _redact(self, text: str) -> str:
        key = self._api_key.value
        return text.replace(key, "<redacted>") if key else text

    def _backoff(self, attempt: int) -> float:
        # Exponential with "equal jitter": half fixed, half random, so clients that failed
        # together do not retry together.
        delay = min(self.backoff_max_s, self.backoff_base_s * 2**attempt)
        return delay / 2 + random.uniform(0, delay / 2)

    def _post(self, body: dict[str, Any]) -> dict[str, Any]:
        """POST one request, retrying what is retryable; the parsed JSON answer."""
        import httpx

        attempts = self.cfg.max_retries + 1
        for attempt in range(attempts):
            wait: float | None = None
            try:
                with self._slots:
                    response = self._client.post(self.url, json=body)
            except httpx.TimeoutException:
                reason = f"timed out after {self.cfg.timeout_s:g}s"
            except httpx.TransportError as exc:
                reason = f"connection error ({type(exc).__name__})"
            else:
                status = response.status_code
                if 200 <= status < 300:
                    return self._json(response)
                snippet = self._redact(response.text[:_BODY_SNIPPET_CHARS])
                if not _is_retryable_status(status):
                    raise BackendError(f"POST {self.url} failed with HTTP {status}: {snippet}")
                reason = f"HTTP {status}"
                retry_after = parse_retry_after(response.headers.get("retry-after"))
                if retry_after is not None:
                    wait = min(retry_after, self.retry_after_max_s)
            if attempt == attempts - 1:
                raise BackendError(
                    f"POST {self.url} failed after {attempts} attempts; last error: {reason}"
                )
            wait = self._backoff(attempt) if wait is None else wait
            logger.warning(
                "POST %s: %s; retry %d/%d in %.2fs",
                self.url,
                reason,
                attempt + 1,
                self.cfg.max_retries,
                wait,
            )
            time.sleep(wait)
        raise AssertionError("unreachable")  # the loop returns or raises

    def _json(self, response: Any) -> dict[str, Any]:
        try:
            data = response.json()
        except ValueError:
            raise BackendError(
                f"POST {self.url} answered HTTP {response.status_code} with a body that is not "
                f"JSON: {self._redact(response.text[:_BODY_SNIPPET_CHARS])!r}"
            ) from None
        if not isinstance(data, dict):
            raise BackendError(
                f"POST {self.url}: expected a JSON object, got {type(data).__name__}"
            )
        return data

    def _map(
        self, function: Callable[[ChatMessages], T], prompts: Sequence[ChatMessages]
    ) -> list[T]:
        """``[function(p) for p in prompts]`` with ``cfg.concurrency`` requests in flight."""
        from tqdm.auto import tqdm

        if not prompts:
            return []
        results: list[Any] = [None] * len(prompts)
        workers = max(1, min(self.cfg.concurrency, len(prompts)))
        pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="openai")
        try:
            futures: dict[Future[T], int] = {
                pool.submit(function, prompt): i for i, prompt in enumerate(prompts)
            }
            progress = tqdm(
                as_completed(futures),
                total=len(futures),
                desc="LLM requests",
                leave=False,
                disable=len(prompts) <= 1,
            )
            for future in progress:
                results[futures[future]] = future.result()
        finally:
            # On a failure, requests not yet sent are cancelled instead of run for nothing.
            pool.shutdown(wait=True, cancel_futures=True)
        return results

    # -- response parsing ------------------------------------------------------------

    def _field(self, data: dict[str, Any], path: str) -> Any:
        """``data`` followed along a dotted path (``choices.0.message``) or a clear error."""
        node: Any = data
        for part in path.split("."):
            try:
                node = node[int(part)] if isinstance(node, list) else node[part]
            except (KeyError, IndexError, TypeError, ValueError):
                raise BackendError(
                    f"POST {self.url}: malformed response, field {path!r} missing"
                ) from None
        return node

    def _usage(self, data: dict[str, Any]) -> tuple[int, int]:
        usage = data.get("usage")
        if not isinstance(usage, dict):
            if not self._usage_warning.is_set():
                self._usage_warning.set()
                logger.warning("%s reports no token usage; counting 0 tokens", self.url)
            return 0, 0
        return int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)

    # -- LLMBackend ------------------------------------------------------------------

    def generate(
        self, prompts: Sequence[ChatMessages], max_new_tokens: int, temperature: float = 0.0
    ) -> list[Generation]:
        def one(messages: ChatMessages) -> Generation:
            body: dict[str, Any] = {
                "model": self.cfg.model,
                "messages": messages,
                self.cfg.token_limit_field: max_new_tokens,
                "temperature": temperature,
            }
            if self.cfg.generation_logprobs:
                body["logprobs"] = True
            data = self._post(body)
            content = self._field(data, "choices.0.message").get("content")
            prompt_tokens, completion_tokens = self._usage(data)
            tokens = (self._field(data, "choices.0").get("logprobs") or {}).get("content")
            return Generation(
                text=content if isinstance(content, str) else "",
                prompt_tokens=prompt_tokens,
                completion_tokens=completion_tokens,
                finish_reason=self._field(data, "choices.0").get("finish_reason"),
                logprob=sum(float(t["logprob"]) for t in tokens) if tokens else None,
            )

        return self._map(one, prompts)

    def next_token_logprobs(
        self, prompts: Sequence[ChatMessages], candidates: Sequence[str]
    ) -> list[TokenScores]:
        """Candidate scores from the ``top_logprobs`` of the reply's first token.

        A returned token matches a candidate when it equals it after stripping
        whitespace (so ``"Yes"`` and ``" Yes"`` both count; their probabilities are summed
        via logsumexp, as on the local backends). Candidates should therefore be single
        tokens ("Yes"/"No", "0".."3").

        **Floor:** a candidate absent from the top ``top_logprobs`` alternatives is given
        the smallest log-probability that was returned: its true value is at most that,
        so this is the tightest bound the API allows. Such candidates are flagged in
        ``TokenScores.extra`` as ``"floored:<candidate>": 1.0``.
        """
        from rankdistill.labeling.backends._tokens import logsumexp

        if any(not c or not c.strip() for c in candidates):
            raise ValueError(f"candidate answers must be non-empty strings, got {list(candidates)}")

        def one(messages: ChatMessages) -> TokenScores:
            data = self._post(
                {
                    "model": self.cfg.model,
                    "messages": messages,
                    self.cfg.token_limit_field: 1,
                    "temperature": 0.0,
                    "logprobs": True,
                    "top_logprobs": self.top_logprobs,
                }
            )
            alternatives = self._field(data, "choices.0.logprobs.content.0.top_logprobs")
            if not isinstance(alternatives, list) or not alternatives:
                raise BackendError(
                    f"POST {self.url}: no top_logprobs in the response; the server does not "
                    "support logprobs (needed for next-token scoring)"
                )
            pairs = [(str(a["token"]), float(a["logprob"])) for a in alternatives]
            floor = min(lp for _, lp in pairs)
            logprobs: dict[str, float] = {}
            extra: dict[str, float] = {}
            for candidate in candidates:
                matches = [lp for token, lp in pairs if token.strip() == candidate.strip()]
                if matches:
                    logprobs[candidate] = logsumexp(matches)
                else:
                    logprobs[candidate] = floor
                    extra[f"floored:{candidate}"] = 1.0
            return TokenScores(logprobs=logprobs, prompt_tokens=self._usage(data)[0], extra=extra)

        return self._map(one, prompts)

    def count_tokens(self, messages: ChatMessages) -> int:
        """The server's own prompt token count, from a 1-token request's ``usage``.

        The protocol has no tokenizer endpoint, so this costs one (tiny) request; wrap
        the backend in a ``CachedBackend`` to pay it once per prompt.
        """
        data = self._post(
            {
                "model": self.cfg.model,
                "messages": messages,
                self.cfg.token_limit_field: 1,
                "temperature": 0.0,
            }
        )
        usage = data.get("usage")
        if not isinstance(usage, dict) or "prompt_tokens" not in usage:
            raise BackendError(f"POST {self.url}: no usage.prompt_tokens, cannot count tokens")
        return int(usage["prompt_tokens"])

    def close(self) -> None:
        self._client.close()
