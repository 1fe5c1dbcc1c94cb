"""Typed records that flow forward through the pipeline.

Every stage consumes and produces these; no stage passes raw dicts to the next one.
Mappings that metric libraries consume directly (``Qrels`` and ``Run``) are plain
``dict`` aliases so they go to ir-measures / pytrec_eval without conversion.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Self

Segment = Literal["head", "torso", "tail"]

# qid -> docid -> graded relevance (TREC DL: 0-3).
Qrels = dict[str, dict[str, int]]
# qid -> docid -> score (higher is better). Order is derived from the score.
Run = dict[str, dict[str, float]]


@dataclass(frozen=True)
class Query:
    """A search query, optionally with its log frequency and traffic segment."""

    qid: str
    text: str
    frequency: int | None = None
    segment: Segment | None = None


@dataclass(frozen=True)
class Document:
    """A passage or document of the collection."""

    docid: str
    text: str
    title: str | None = None

    @property
    def full_text(self) -> str:
        """Title and body as one string, the form rankers see."""
        return f"{self.title}\n{self.text}" if self.title else self.text


@dataclass(frozen=True)
class ScoredDoc:
    docid: str
    score: float


@dataclass
class CandidateList:
    """A query's first-stage candidates, best first."""

    qid: str
    docs: list[ScoredDoc]

    @property
    def docids(self) -> list[str]:
        return [d.docid for d in self.docs]


@dataclass(frozen=True)
class ClickRecord:
    """One aggregated click-log row: a (query, document) pair with its counts.

    The document is identified by ``docid`` or, for logs without a corpus, by the
    ``title`` and ``summary`` the user saw on the result page.
    """

    query: str
    impressions: int
    clicks: int
    docid: str | None = None
    title: str | None = None
    summary: str | None = None
    dwell_time: float | None = None
    position: int | None = None


@dataclass
class RankingData:
    """Everything one split of the pipeline works on.

    ``candidates`` holds the first-stage ranking (a ``Run``); ``qrels`` is ``None`` for
    unjudged training queries such as DL 2021/2022.
    """

    queries: dict[str, Query]
    corpus: dict[str, Document]
    candidates: Run = field(default_factory=dict)
    qrels: Qrels | None = None

    def candidate_list(self, qid: str, k: int | None = None) -> CandidateList:
        """The candidates of ``qid`` sorted by score (stable for ties), cut at ``k``."""
        ranked = rank_docs(self.candidates.get(qid, {}))
        if k is not None:
            ranked = ranked[:k]
        return CandidateList(qid, [ScoredDoc(d, s) for d, s in ranked])

    def subset(self, qids: list[str] | set[str]) -> RankingData:
        """The same data restricted to ``qids`` (the corpus is shared, not copied)."""
        keep = set(qids)
        return RankingData(
            queries={q: v for q, v in self.queries.items() if q in keep},
            corpus=self.corpus,
            candidates={q: v for q, v in self.candidates.items() if q in keep},
            qrels=None
            if self.qrels is None
            else {q: v for q, v in self.qrels.items() if q in keep},
        )


def trec_order(scores: dict[str, float]) -> list[str]:
    """Docids in trec_eval's order: descending score, ties by descending docid."""
    return [d for d, _ in sorted(scores.items(), key=lambda item: (item[1], item[0]), reverse=True)]


def rank_docs(scores: dict[str, float]) -> list[tuple[str, float]]:
    """Docs sorted by descending score; ties keep insertion order (Python's sort is stable)."""
    return sorted(scores.items(), key=lambda item: -item[1])


class JsonRecord:
    """A dataclass record's ``to_dict`` (its fields, JSON-ready) and ``from_dict``."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)  # type: ignore[call-overload]  # every subclass is a dataclass

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        return cls(**data)


@dataclass
class LabelRecord(JsonRecord):
    """The teacher's labels for one query: the unit the label store writes per line.

    ``grades`` holds graded labels (listwise / graded pointwise teachers) and ``scores``
    real-valued teacher scores (log-probabilities, fine-tuned LLM scores, any ranker).
    A student trains on whichever its loss needs. ``missing`` lists shown documents the
    LLM left out of its list: RRADistill's hard negatives.
    """

    qid: str
    query: str
    docids: list[str]
    method: str
    teacher: str
    grades: dict[str, float] = field(default_factory=dict)
    scores: dict[str, float] = field(default_factory=dict)
    rationales: dict[str, str] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    template_id: str | None = None
    template_version: str | None = None
    raw_response_hashes: list[str] = field(default_factory=list)
    parse_problems: dict[str, int] = field(default_factory=dict)
    llm_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def targets(self, prefer: Literal["scores", "grades"] = "scores") -> dict[str, float]:
        """Per-document training targets: teacher scores if present, else grades."""
        first, second = (
            (self.scores, self.grades) if prefer == "scores" else (self.grades, self.scores)
        )
        return dict(first) if first else dict(second)
