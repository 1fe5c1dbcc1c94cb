"""Labelling methods: each labels one query's candidates into a ``LabelRecord``.

:data:`METHODS` maps the ``labeling.method`` names to classes; :func:`build_method`
constructs one from a :class:`~rankdistill.labeling.config.LabelingConfig`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from rankdistill.labeling.backends.base import LLMBackend
from rankdistill.labeling.config import LabelingConfig
from rankdistill.labeling.methods.base import LabelMethod
from rankdistill.labeling.methods.pointwise import PointwiseGradedLabeler, PointwiseYesNoLabeler
from rankdistill.labeling.methods.ranker import RankerTeacher
from rankdistill.labeling.methods.rationales import RationaleWriter, WithRationales
from rankdistill.labeling.methods.rradistill import RRADistillLabeler
from rankdistill.labeling.methods.sliding_window import SlidingWindowLabeler
from rankdistill.labeling.prompts import load_template
from rankdistill.scoring import Scorer

METHODS: dict[str, type] = {
    "rradistill": RRADistillLabeler,
    "slidingwindow": SlidingWindowLabeler,
    "pointwise": PointwiseYesNoLabeler,
    "pointwise-graded": PointwiseGradedLabeler,
    "ranker": RankerTeacher,
}

# Methods that need no LLM (the runner then builds no backend).
LLM_FREE_METHODS = frozenset({"ranker"})


def method_needs_llm(cfg: LabelingConfig) -> bool:
    return cfg.method not in LLM_FREE_METHODS or cfg.rationales


def _listwise_tokens(cfg: LabelingConfig) -> int:
    return cfg.listwise_max_new_tokens or cfg.backend.max_new_tokens


def _rradistill(cfg: LabelingConfig, backend: LLMBackend | None, **_: Any) -> LabelMethod:
    return RRADistillLabeler(
        _need(backend, cfg),
        load_template(cfg.template or RRADistillLabeler.default_template),
        candidates=cfg.prerank.candidates,
        top_k=cfg.prerank.top_k,
        bottom_k=cfg.prerank.bottom_k,
        seed=cfg.seed,
        grading=cfg.grading,
        missing_as_negative=cfg.missing_as_negative,
        max_doc_words=cfg.max_doc_words,
        max_new_tokens=_listwise_tokens(cfg),
        temperature=cfg.backend.temperature,
        shuffle=cfg.shuffle,
        truncated_missing_as_negative=cfg.truncated_missing_as_negative,
    )


def _sliding(cfg: LabelingConfig, backend: LLMBackend | None, **_: Any) -> LabelMethod:
    return SlidingWindowLabeler(
        _need(backend, cfg),
        load_template(cfg.template or SlidingWindowLabeler.default_template),
        candidates=cfg.sliding_candidates,
        window_size=cfg.window_size,
        step=cfg.step,
        max_doc_words=cfg.max_doc_words,
        max_new_tokens=_listwise_tokens(cfg),
        temperature=cfg.backend.temperature,
    )


def _pointwise_common(cfg: LabelingConfig) -> dict[str, Any]:
    return {
        "candidates": cfg.prerank.candidates,
        "top_k": cfg.prerank.top_k,
        "bottom_k": cfg.prerank.bottom_k,
        "select": cfg.pointwise_select,
        "max_doc_words": cfg.max_doc_words,
    }


def _pointwise(cfg: LabelingConfig, backend: LLMBackend | None, **_: Any) -> LabelMethod:
    return PointwiseYesNoLabeler(
        _need(backend, cfg),
        load_template(cfg.template or PointwiseYesNoLabeler.default_template),
        **_pointwise_common(cfg),
    )


def _pointwise_graded(cfg: LabelingConfig, backend: LLMBackend | None, **_: Any) -> LabelMethod:
    return PointwiseGradedLabeler(
        _need(backend, cfg),
        load_template(cfg.template or PointwiseGradedLabeler.default_template),
        max_new_tokens=cfg.pointwise_max_new_tokens,
        temperature=cfg.backend.temperature,
        **_pointwise_common(cfg),
    )


def _ranker(
    cfg: LabelingConfig,
    backend: LLMBackend | None,
    ranker_scorers: Mapping[str, Scorer] | None = None,
    **_: Any,
) -> LabelMethod:
    if not ranker_scorers:
        raise ValueError(
            "method 'ranker' needs ranker_scorers (names -> Scorer); the CLI builds them "
            f"from labeling.ranker_models={cfg.ranker_models}"
        )
    return RankerTeacher(
        ranker_scorers, fusion=cfg.ranker_fusion, rrf_k=cfg.rrf_k, candidates=cfg.prerank.candidates
    )


_BUILDERS: dict[str, Callable[..., LabelMethod]] = {
    "rradistill": _rradistill,
    "slidingwindow": _sliding,
    "pointwise": _pointwise,
    "pointwise-graded": _pointwise_graded,
    "ranker": _ranker,
}


def _need(backend: LLMBackend | None, cfg: LabelingConfig) -> LLMBackend:
    if backend is None:
        raise ValueError(f"method {cfg.method!r} needs an LLM backend")
    return backend


def build_method(
    cfg: LabelingConfig,
    backend: LLMBackend | None = None,
    *,
    ranker_scorers: Mapping[str, Scorer] | None = None,
    rationale_backend: LLMBackend | None = None,
) -> LabelMethod:
    """The configured method; with ``cfg.rationales`` wrapped to also write rationales
    (with ``rationale_backend``, or the teacher's backend when it is ``None``)."""
    if cfg.method not in _BUILDERS:
        raise ValueError(f"unknown labelling method {cfg.method!r}; use one of {sorted(METHODS)}")
    method = _BUILDERS[cfg.method](cfg, backend, ranker_scorers=ranker_scorers)
    if cfg.rationales:
        writer_backend = rationale_backend or backend
        if writer_backend is None:
            raise ValueError("rationales need an LLM backend (labeling.rationale_backend)")
        writer = RationaleWriter(
            writer_backend,
            max_new_tokens=cfg.rationale_max_new_tokens,
            max_doc_words=cfg.max_doc_words,
            temperature=cfg.backend.temperature,
        )
        method = WithRationales(method, writer)
    return method


__all__ = [
    "LLM_FREE_METHODS",
    "METHODS",
    "LabelMethod",
    "PointwiseGradedLabeler",
    "PointwiseYesNoLabeler",
    "RRADistillLabeler",
    "RankerTeacher",
    "RationaleWriter",
    "SlidingWindowLabeler",
    "WithRationales",
    "build_method",
    "method_needs_llm",
]
