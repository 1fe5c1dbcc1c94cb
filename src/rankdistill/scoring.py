"""The one interface every ranker implements, and re-ranking a run with it.

BM25, bi-encoders, cross-encoder students, RRA-GPT, fine-tuned LLM teachers and ONNX
engines all score (query, document) pairs. Stages receive a :class:`Scorer` from the
caller instead of constructing one, so an earlier stage (labelling's pre-ranker) can use
a later stage's model (a trained student) without importing it. :data:`SCORERS` names
the kinds of scorer a config can ask for (pre-rankers, ranker teachers).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from tqdm.auto import tqdm

from rankdistill.data.records import RankingData, Run
from rankdistill.registry import Registry


@runtime_checkable
class Scorer(Protocol):
    """Scores documents for one query; higher means more relevant."""

    name: str

    def score(self, query: str, documents: Sequence[str]) -> list[float]: ...


def rerank_run(
    scorer: Scorer,
    data: RankingData,
    k: int | None = None,
    progress: bool = True,
) -> Run:
    """Score the top-``k`` first-stage candidates of every query with ``scorer``."""
    run: Run = {}
    qids = [q for q in data.queries if q in data.candidates]
    for qid in tqdm(qids, desc=f"rerank[{scorer.name}]", disable=not progress, unit="q"):
        docids = data.candidate_list(qid, k).docids
        texts = [data.corpus[d].full_text for d in docids]
        scores = scorer.score(data.queries[qid].text, texts) if texts else []
        run[qid] = {d: float(s) for d, s in zip(docids, scores, strict=True)}
    return run


# --------------------------------------------------------------------------- registry
@dataclass(frozen=True)
class ScorerKind:
    """A kind of scorer spec (``KIND`` or ``KIND:MODEL``): how to build it.

    ``build(model, device, data)``; ``takes_model``: whether ``:MODEL`` means anything
    (a pre-ranker of this kind is then ``KIND:labeling.prerank.model``).
    """

    build: Callable[[str | None, str, RankingData | None], Scorer]
    takes_model: bool = True


SCORERS: Registry[ScorerKind] = Registry("scorer")
# What a packaged alias is when named as a scorer on its own.
ALIAS_KIND: dict[str, str] = {"minilm-l6": "bi-encoder"}


def _bm25(model: str | None, device: str, data: RankingData | None) -> Scorer:
    from rankdistill.retrieval.bm25 import BM25Scorer

    return BM25Scorer(corpus=data.corpus if data is not None else None)


def _bi_encoder(model: str | None, device: str, data: RankingData | None) -> Scorer:
    from rankdistill.retrieval.dense import BiEncoderScorer

    return BiEncoderScorer(model or "minilm-l6", device=device)


def _student(model: str | None, device: str, data: RankingData | None) -> Scorer:
    from rankdistill.students import load_student

    if not model:
        raise ValueError("a student scorer needs a directory: student:PATH")
    return load_student(model, device=device)


SCORERS.register("bm25", ScorerKind(_bm25, takes_model=False))
SCORERS.register("bi-encoder", ScorerKind(_bi_encoder))
SCORERS.register("student", ScorerKind(_student))
SCORERS.register("cross-encoder", ScorerKind(_student))


def build_scorer(spec: str, device: str = "auto", data: RankingData | None = None) -> Scorer:
    """A :class:`Scorer` from a spec: ``KIND`` or ``KIND:MODEL`` of :data:`SCORERS`
    (``bm25``, ``bi-encoder[:MODEL]``, ``student:DIR``), a bare student directory (its
    ``rankdistill.json`` names the kind) or a packaged alias (:data:`ALIAS_KIND`).

    Kinds come from explicit tables, never from a substring of a model name.
    """
    from rankdistill.utils import resolve_device

    device = resolve_device(device)
    kind, _, model = spec.partition(":")
    if kind in SCORERS:
        return SCORERS[kind].build(model or None, device, data)
    if (Path(spec) / "rankdistill.json").is_file():
        return SCORERS["student"].build(spec, device, data)
    if spec in ALIAS_KIND:
        return SCORERS[ALIAS_KIND[spec]].build(spec, device, data)
    raise ValueError(
        f"unknown scorer {spec!r}: use one of {', '.join(SCORERS)} (as KIND or KIND:MODEL), "
        f"a student directory, or an alias in {', '.join(ALIAS_KIND)}"
    )
