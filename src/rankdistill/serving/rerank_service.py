"""One rerank request from body to response: checks, window planning, micro-batched
scoring, and the Cohere/Jina or TEI response body."""

from __future__ import annotations

import asyncio
import math
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from rankdistill.scoring_windows import WindowPlan
from rankdistill.serving.api_errors import ApiError
from rankdistill.serving.batcher import MicroBatcher
from rankdistill.serving.config import ServeConfig
from rankdistill.serving.engine import rank_indices
from rankdistill.serving.metrics import ServiceMetrics
from rankdistill.serving.request_checks import (
    check_body_size,
    check_key,
    check_limits,
    parse_request,
)
from rankdistill.serving.schemas import RerankRequest, TEIRerankRequest

if TYPE_CHECKING:
    from rankdistill.serving.engine import Reranker

WINDOWS_HEADER = "X-Windows-Scored"
# Cohere bills one search unit per query and up to 100 documents (windows count).
DOCUMENTS_PER_SEARCH_UNIT = 100


def sigmoid(x: float) -> float:
    """The logistic function, without overflow for large ``|x|``."""
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)


class _Scored:
    """A request's documents after scoring: one logit each, windows and tokens counted."""

    def __init__(self, logits: list[float], plan: WindowPlan, overhead: int, max_length: int):
        self.logits = logits
        self.windows = len(plan.texts)
        self.tokens = sum(min(overhead + n, max_length) for n in plan.tokens)


@dataclass
class RerankService:
    """What the routes share: the engine, its batcher and metrics, and the settings."""

    reranker: Reranker
    cfg: ServeConfig
    batcher: MicroBatcher
    metrics: ServiceMetrics
    model_name: str
    expected_key: str | None
    body_limit: int

    @property
    def score_kind(self) -> Literal["probability", "logit"]:
        return "logit" if self.cfg.raw_scores else "probability"

    async def read_body(self, request: Request) -> bytes:
        check_key(request, self.expected_key)
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit():
            check_body_size(int(declared), self.body_limit)
        raw = await request.body()
        check_body_size(len(raw), self.body_limit)
        return raw

    def _plan(self, query: str, texts: list[str], max_tokens: int | None) -> tuple[WindowPlan, int]:
        windows = self.reranker.plan_windows(query, texts, self.cfg.windows, max_tokens)
        return windows, self.reranker.overhead_tokens(query)

    async def score(self, query: str, texts: list[str], max_tokens: int | None) -> _Scored:
        # Tokenising long documents off the event loop keeps other requests flowing.
        windows, overhead = await asyncio.to_thread(self._plan, query, texts, max_tokens)
        pair_scores = await self.batcher.score([(query, t) for t in windows.texts])
        logits = windows.aggregate(pair_scores, self.cfg.windows.aggregation)
        return _Scored(logits, windows, overhead, self.reranker.max_length)

    def cohere_body(self, parsed: RerankRequest, texts: list[str], scored: _Scored) -> dict:
        results = []
        for i in rank_indices(scored.logits)[: parsed.top_n]:
            logit = scored.logits[i]
            item: dict[str, Any] = {
                "index": i,
                "relevance_score": logit if self.cfg.raw_scores else sigmoid(logit),
            }
            if parsed.return_documents:
                item["document"] = {"text": texts[i]}
            results.append(item)
        units = max(1, math.ceil(scored.windows / DOCUMENTS_PER_SEARCH_UNIT)) if texts else 0
        return {
            "id": str(uuid.uuid4()),
            "model": self.model_name,
            "results": results,
            "meta": {
                "billed_units": {"search_units": units, "input_tokens": scored.tokens},
                "tokens": {"input_tokens": scored.tokens, "output_tokens": 0},
                "score": self.score_kind,
                "backend": self.reranker.backend.name,
                "documents": len(texts),
                "windows_scored": scored.windows,
                "max_length": self.reranker.max_length,
            },
            "usage": {"total_tokens": scored.tokens},
        }

    @staticmethod
    def tei_body(parsed: TEIRerankRequest, texts: list[str], scored: _Scored) -> list[dict]:
        return [
            {
                "index": i,
                "score": scored.logits[i] if parsed.raw_scores else sigmoid(scored.logits[i]),
                **({"text": texts[i]} if parsed.return_text else {}),
            }
            for i in rank_indices(scored.logits)
        ]

    async def handle(self, request: Request, allow_tei: bool) -> Response:
        try:
            parsed = parse_request(await self.read_body(request), allow_tei)
            if isinstance(parsed, TEIRerankRequest):
                texts, max_tokens = list(parsed.texts), None
            else:
                texts = [d if isinstance(d, str) else d.text for d in parsed.documents]
                max_tokens = parsed.max_tokens_per_doc
            check_limits(self.cfg, parsed.query, texts)
            scored = await self.score(parsed.query, texts, max_tokens)
        except ApiError as err:
            return err.response()
        headers = {WINDOWS_HEADER: str(scored.windows)}
        if isinstance(parsed, TEIRerankRequest):
            return JSONResponse(self.tei_body(parsed, texts, scored), headers=headers)
        return JSONResponse(self.cohere_body(parsed, texts, scored), headers=headers)
