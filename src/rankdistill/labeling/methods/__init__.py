"""Labelling methods: each labels one query's candidates into a ``LabelRecord``.

:data:`METHODS` maps the ``labeling.method`` names to :class:`~.base.MethodEntry`
(class, builder, capabilities); :func:`build_method` constructs one from a
:class:`~rankdistill.labeling.config.LabelingConfig`. A new method is one module plus one
:func:`register_method` call.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from rankdistill.labeling.backends.base import LLMBackend
from rankdistill.labeling.config import LabelingConfig
from rankdistill.labeling.methods.base import METHODS, LabelMethod, MethodEntry, register_method
from rankdistill.labeling.methods.cascade import CascadeLabeler, build_cascade
from rankdistill.labeling.methods.pointwise import PointwiseGradedLabeler, PointwiseYesNoLabeler
from rankdistill.labeling.methods.ranker import RankerTeacher
from rankdistill.labeling.methods.rationales import RationaleWriter, WithRationales
from rankdistill.labeling.methods.rradistill import RRADistillLabeler
from rankdistill.labeling.methods.run_labels import RunLabeler, build_run_labeler
from rankdistill.labeling.methods.sliding_window import SlidingWindowLabeler
from rankdistill.labeling.prompts import load_template
from rankdistill.scoring import Scorer


def method_needs_llm(cfg: LabelingConfig) -> bool:
    return METHODS.require(cfg.method).needs_llm or cfg.rationales


def candidate_depth(cfg: LabelingConfig) -> int:
    """How many first-stage candidates per query the configured method looks at."""
    return METHODS.require(cfg.method).depth(cfg)


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


register_method("rradistill", RRADistillLabeler, _rradistill)
register_method(
    "slidingwindow",
    SlidingWindowLabeler,
    _sliding,
    reads_first_stage=True,
    depth=lambda cfg: cfg.sliding_candidates,
)
register_method("pointwise", PointwiseYesNoLabeler, _pointwise, parses_answers=False)
register_method("pointwise-graded", PointwiseGradedLabeler, _pointwise_graded)
register_method(
    "ranker",
    RankerTeacher,
    _ranker,
    needs_llm=False,
    parses_answers=False,
    uses_ranker_models=True,
)
register_method("run", RunLabeler, build_run_labeler, needs_llm=False, parses_answers=False)
register_method("cascade", CascadeLabeler, build_cascade)


class _LlmFreeMethods:
    """The registered methods that need no LLM (read live from :data:`METHODS`)."""

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in METHODS and not METHODS[name].needs_llm

    def __iter__(self) -> Iterator[str]:
        return iter([n for n in METHODS if n in self])


LLM_FREE_METHODS = _LlmFreeMethods()


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
    entry = METHODS.require(cfg.method)
    method = entry.build(cfg, backend, ranker_scorers=ranker_scorers)
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
    "MethodEntry",
    "PointwiseGradedLabeler",
    "PointwiseYesNoLabeler",
    "RRADistillLabeler",
    "RankerTeacher",
    "RationaleWriter",
    "SlidingWindowLabeler",
    "WithRationales",
    "build_method",
    "candidate_depth",
    "method_needs_llm",
    "register_method",
]
