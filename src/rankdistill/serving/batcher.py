"""Dynamic micro-batching: pairs of concurrent requests share one model call.

Requests put their (query, document) pairs on an asyncio queue. A worker takes the first
waiting request, then keeps collecting until ``max_batch_pairs`` pairs are gathered or
``batch_wait_ms`` has passed, scores the collected pairs in one call on a worker thread
(the event loop keeps accepting requests meanwhile) and hands each request its scores.
A request larger than ``max_batch_pairs`` is scored on its own (the engine batches it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

logger = logging.getLogger(__name__)

Pairs = Sequence[tuple[str, str]]


@dataclass
class _Job:
    pairs: Pairs
    future: asyncio.Future[list[float]]


class MicroBatcher:
    """Collects pairs from concurrent callers into model calls of up to ``max_batch_pairs``."""

    def __init__(
        self,
        score_pairs: Callable[[Pairs], list[float]],
        max_batch_pairs: int = 64,
        batch_wait_ms: float = 2.0,
        on_batch: Callable[[int], None] | None = None,
    ) -> None:
        if max_batch_pairs < 1:
            raise ValueError(f"max_batch_pairs must be >= 1, got {max_batch_pairs}")
        self.score_pairs = score_pairs
        self.max_batch_pairs = max_batch_pairs
        self.batch_wait = batch_wait_ms / 1000.0
        self.on_batch = on_batch
        self._queue: asyncio.Queue[_Job] | None = None
        self._worker: asyncio.Task[None] | None = None
        self._held: _Job | None = None  # taken from the queue but left for the next batch
        self._busy = False  # a batch is being scored

    async def start(self) -> None:
        self._queue = asyncio.Queue()
        self._worker = asyncio.create_task(self._run(), name="rankdistill-batcher")

    async def score(self, pairs: Pairs) -> list[float]:
        """Scores of ``pairs`` (input order), computed together with other callers' pairs."""
        if not pairs:
            return []
        if self._queue is None or self._worker is None or self._worker.done():
            raise RuntimeError("the batcher is not running")
        future: asyncio.Future[list[float]] = asyncio.get_running_loop().create_future()
        await self._queue.put(_Job(pairs, future))
        return await future

    async def _collect(self) -> list[_Job]:
        assert self._queue is not None
        first = self._held or await self._queue.get()
        self._held = None
        self._busy = True  # from here on a request is in flight
        jobs, total = [first], len(first.pairs)
        deadline = time.monotonic() + self.batch_wait
        while total < self.max_batch_pairs:
            remaining = deadline - time.monotonic()
            try:
                job = (
                    self._queue.get_nowait()
                    if remaining <= 0
                    else await asyncio.wait_for(self._queue.get(), remaining)
                )
            except (asyncio.QueueEmpty, TimeoutError):
                break
            if total + len(job.pairs) > self.max_batch_pairs:
                self._held = job  # would overflow this batch: first of the next one
                break
            jobs.append(job)
            total += len(job.pairs)
        return jobs

    async def _run(self) -> None:
        while True:
            jobs = await self._collect()
            pairs = [p for job in jobs for p in job.pairs]
            try:
                scores = await asyncio.to_thread(self.score_pairs, pairs)
            except Exception as exc:  # hand the failure to every waiting request
                logger.exception("scoring a batch of %d pairs failed", len(pairs))
                for job in jobs:
                    if not job.future.done():
                        job.future.set_exception(exc)
                self._busy = False
                continue
            if self.on_batch is not None:
                self.on_batch(len(pairs))
            start = 0
            for job in jobs:
                if not job.future.done():  # the caller may have gone away
                    job.future.set_result(scores[start : start + len(job.pairs)])
                start += len(job.pairs)
            self._busy = False

    @property
    def pending(self) -> bool:
        """Whether requests are queued or being scored."""
        queued = self._queue is not None and not self._queue.empty()
        return queued or self._held is not None or self._busy

    async def close(self, timeout: float = 30.0) -> None:
        """Drain: finish every queued request (up to ``timeout`` s), then stop the worker."""
        if self._queue is None or self._worker is None:
            return
        deadline = time.monotonic() + timeout
        while self.pending and time.monotonic() < deadline and not self._worker.done():
            await asyncio.sleep(0.01)
        self._worker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._worker
