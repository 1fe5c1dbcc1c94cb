"""Cascade teacher (``labeling.method: cascade``): an LLM re-orders the pre-ranker's top-k.

The runner pre-ranks the K candidates (``labeling.prerank``, a bi-encoder by default).
An inner LLM method (``rradistill``: one listwise call; ``pointwise``: yes/no
log-probabilities) judges only the top-k, and :func:`~rankdistill.labeling.cascade.
cascade_order` puts its order on top of the pre-ranker's order of the rest. The combined
order is graded by the listwise rule (the first of K gets K, the last 1), so every
candidate has a label and the LLM's decisions sit above the pre-ranker's.
"""

from __future__ import annotations

from typing import Any

from rankdistill.data.records import LabelRecord, Query
from rankdistill.labeling.backends.base import LLMBackend
from rankdistill.labeling.cascade import cascade_order
from rankdistill.labeling.config import LabelingConfig
from rankdistill.labeling.grading import GradingScheme
from rankdistill.labeling.methods.base import Corpus, LabelMethod, label_record
from rankdistill.labeling.methods.run_labels import labels_from_order


def _llm_values(record: LabelRecord) -> dict[str, float]:
    """The inner method's judgement per document: its grades, else its scores."""
    return dict(record.grades) if record.grades else dict(record.scores)


class CascadeLabeler:
    """Pre-ranker for all K candidates, an LLM method for the top-k."""

    name = "cascade"
    uses_prerank = True

    def __init__(
        self,
        llm_method: LabelMethod,
        *,
        candidates: int = 50,
        top_k: int = 10,
        grading: GradingScheme = "linear",
    ) -> None:
        if top_k < 1:
            raise ValueError(f"top_k must be >= 1, got {top_k}")
        self.llm_method = llm_method
        self.candidate_depth = candidates
        self.top_k = top_k
        self.grading: GradingScheme = grading

    def label_query(
        self, query: Query, candidates: list[tuple[str, float]], corpus: Corpus
    ) -> LabelRecord:
        prerank_order = [d for d, _ in candidates]
        inner = self.llm_method.label_query(query, candidates[: self.top_k], corpus)
        llm_values = _llm_values(inner)
        order = cascade_order(prerank_order, llm_values, self.top_k)
        grades, _ = labels_from_order(order, order, self.grading, missing_as_negative=True)
        return label_record(
            query,
            order,
            self.name,
            f"cascade({inner.method}:{inner.teacher})",
            grades=grades,
            scores=dict(grades),
            template_id=inner.template_id,
            template_version=inner.template_version,
            raw_response_hashes=list(inner.raw_response_hashes),
            parse_problems=dict(inner.parse_problems),
            llm_calls=inner.llm_calls,
            prompt_tokens=inner.prompt_tokens,
            completion_tokens=inner.completion_tokens,
            extra={
                "llm_method": inner.method,
                "top_k": self.top_k,
                "llm_order": order[: self.top_k],
                "llm_values": llm_values,
                "llm_missing": list(inner.missing),
                "prerank_scores": dict(candidates),
                "llm_extra": inner.extra,
            },
        )


def build_cascade(
    cfg: LabelingConfig, backend: LLMBackend | None = None, **kwargs: Any
) -> CascadeLabeler:
    """The ``cascade`` method: the inner LLM method sees the pre-ranker's top-k only."""
    # Imported here: the method registry imports this module.
    from rankdistill.labeling.methods import build_method

    options = cfg.cascade
    inner_cfg = cfg.model_copy(
        update={
            "method": options.llm_method,
            "rationales": False,
            "prerank": cfg.prerank.model_copy(update={"top_k": options.top_k, "bottom_k": 0}),
            "pointwise_select": "top-bottom",
        }
    )
    return CascadeLabeler(
        build_method(inner_cfg, backend),
        candidates=cfg.prerank.candidates,
        top_k=options.top_k,
        grading=cfg.grading,
    )
