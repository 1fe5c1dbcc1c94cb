"""The record the generate stage writes: one synthetic training query for one passage."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rankdistill.data.records import JsonRecord


@dataclass(frozen=True)
class GeneratedQuery(JsonRecord):
    """A training query written for ``source_docid``, which is its known positive.

    ``logprob`` is the mean token log-probability of the query under the generating LLM
    (InPars' filter signal); methods without an LLM leave it ``None``.
    """

    qid: str
    text: str
    source_docid: str
    method: str
    logprob: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)
