"""Running the rerank service under uvicorn: in the foreground, or in a thread."""

from __future__ import annotations

import math
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from fastapi import FastAPI

from rankdistill.serving.config import ServeConfig

if TYPE_CHECKING:
    import uvicorn

    from rankdistill.serving.engine import Reranker

    """uvicorn settings for ``app`` from ``cfg`` (graceful shutdown waits whole seconds)."""


def uvicorn_config(app: FastAPI, cfg: ServeConfig, log_level: str) -> uvicorn.Config:
    import uvicorn

    return uvicorn.Config(
        app,
        host=cfg.host,
        port=cfg.port,
        log_level=log_level,
        timeout_graceful_shutdown=math.ceil(cfg.graceful_timeout_s),
    )


# The ServeConfig fields that are Reranker.load's keyword arguments of the same name.
_ENGINE_FIELDS = {"backend", "threads", "max_length", "batch_size", "padding_slack"}


def load_reranker(model_dir: str | Path, cfg: ServeConfig) -> Reranker:
    """The engine ``cfg`` asks for; ``max_length`` None = the student's trained length."""
    from rankdistill.serving.engine import Reranker

    return Reranker.load(model_dir, **{name: getattr(cfg, name) for name in _ENGINE_FIELDS})


class BackgroundServer:
    """A real uvicorn server in a thread (tests, benchmarks): ``with BackgroundServer(...)``."""

    def __init__(self, app: FastAPI, cfg: ServeConfig, log_level: str = "warning") -> None:
        import uvicorn

        self.server = uvicorn.Server(uvicorn_config(app, cfg, log_level))
        self.url = f"http://{cfg.host}:{cfg.port}"
        self._thread = threading.Thread(
            target=self.server.run, name="rankdistill-serve", daemon=True
        )

    def __enter__(self) -> BackgroundServer:
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the rerank service did not start on {self.url}")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True  # graceful: finish open requests, then lifespan end
        self._thread.join(timeout=60)
