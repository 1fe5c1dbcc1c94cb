"""Labelling methods: each labels one query's candidates into a ``LabelRecord``.

:data:`METHODS` maps the ``labeling.method`` names to :class:`~.base.MethodEntry`
(class, builder, capabilities); :func:`build_method` constructs one from a
:class:`~rankdistill.labeling.config.LabelingConfig`. A new method is one module plus one
:func:`register_method` call.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from rankdistill.labeling.backends.base import LLMBackend
from rankdistill.labeling.config import LabelingConfig
from rankdistill.labeling.methods.base import (
    METHODS,
    LabelMethod,
    LLMLabeler,
    LLMSettings,
    MethodEntry,
    TopBottomLabeler,
    TopBottomSettings,
    register_method,
)
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


def _llm_settings(cfg: LabelingConfig) -> LLMSettings:
    """The settings every LLM method takes from ``cfg`` alike (``max_new_tokens`` differs
    by method: it is among the method's own options)."""
    return LLMSettings(max_doc_words=cfg.max_doc_words, temperature=cfg.backend.temperature)


def _llm_builder(
    cls: Callable[..., LabelMethod], options: Callable[[LabelingConfig], dict[str, Any]]
) -> Callable[..., LabelMethod]:
    """The builder of ``cls`` on the given backend with the configured template (``None``:
    the class's default), the common :func:`_llm_settings` and ``options(cfg)``."""

    def build(cfg: LabelingConfig, backend: LLMBackend | None, **_: Any) -> LabelMethod:
        template = load_template(cfg.template) if cfg.template else None
        return cls(_need(backend, cfg), template, **_llm_settings(cfg), **options(cfg))

    return build


def _listwise_tokens(cfg: LabelingConfig) -> int:
    return cfg.listwise_max_new_tokens or cfg.backend.max_new_tokens


def _top_bottom(cfg: LabelingConfig) -> TopBottomSettings:
    """Which pre-ranked candidates the top-k + bottom-k methods show their LLM."""
    prerank = cfg.prerank
    return TopBottomSettings(
        candidates=prerank.candidates, top_k=prerank.top_k, bottom_k=prerank.bottom_k
    )


def _rradistill_options(cfg: LabelingConfig) -> dict[str, Any]:
    return {
        **_top_bottom(cfg),
        "max_new_tokens": _listwise_tokens(cfg),
        "seed": cfg.seed,
        "grading": cfg.grading,
        "missing_as_negative": cfg.missing_as_negative,
        "shuffle": cfg.shuffle,
        "truncated_missing_as_negative": cfg.truncated_missing_as_negative,
    }


def _sliding_options(cfg: LabelingConfig) -> dict[str, Any]:
    return {
        "candidates": cfg.sliding_candidates,
        "max_new_tokens": _listwise_tokens(cfg),
        "window_size": cfg.window_size,
        "step": cfg.step,
    }


def _pointwise_options(cfg: LabelingConfig) -> dict[str, Any]:
    return {**_top_bottom(cfg), "select": cfg.pointwise_select}


def _pointwise_graded_options(cfg: LabelingConfig) -> dict[str, Any]:
    return {**_pointwise_options(cfg), "max_new_tokens": cfg.pointwise_max_new_tokens}


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


def _register_llm_method(
    name: str,
    cls: Callable[..., LabelMethod],
    options: Callable[[LabelingConfig], dict[str, Any]],
    **caps: Any,
) -> None:
    """Register an :class:`LLMLabeler` subclass, built by :func:`_llm_builder`."""
    register_method(name, cls, _llm_builder(cls, options), **caps)


_register_llm_method("rradistill", RRADistillLabeler, _rradistill_options)
_register_llm_method(
    "slidingwindow",
    SlidingWindowLabeler,
    _sliding_options,
    reads_first_stage=True,
    depth=lambda cfg: cfg.sliding_candidates,
)
_register_llm_method("pointwise", PointwiseYesNoLabeler, _pointwise_options, parses_answers=False)
_register_llm_method("pointwise-graded", PointwiseGradedLabeler, _pointwise_graded_options)
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
            writer_backend, max_new_tokens=cfg.rationale_max_new_tokens, **_llm_settings(cfg)
        )
        method = WithRationales(method, writer)
    return method


__all__ = [
    "LLM_FREE_METHODS",
    "METHODS",
    "LLMLabeler",
    "LabelMethod",
    "MethodEntry",
    "PointwiseGradedLabeler",
    "PointwiseYesNoLabeler",
    "RRADistillLabeler",
    "RankerTeacher",
    "RationaleWriter",
    "SlidingWindowLabeler",
    "TopBottomLabeler",
    "WithRationales",
    "build_method",
    "candidate_depth",
    "method_needs_llm",
    "register_method",
]
