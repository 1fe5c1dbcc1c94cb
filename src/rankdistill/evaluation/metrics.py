"""Ranking metrics: standard measures through ir-measures, plus PNR (SPEC section 5).

Standard measures (``nDCG@10``, ``RR(rel=2)@10``, ``AP(rel=2)``, ``R@100``, ``P@5`` ...)
are parsed with :func:`ir_measures.parse_measure` and computed with
:func:`ir_measures.iter_calc`, so their values are trec_eval's. Two details make the
results match trec_eval exactly, whichever ir-measures provider computes a measure:

- **Ties.** trec_eval orders documents by descending score, then by *descending* docid.
  Not every ir-measures provider does (the ``msmarco`` provider behind ``RR@k`` breaks ties
  by ascending docid), so queries with tied scores are handed over with rank-derived
  scores in trec_eval's order. Queries without ties keep their scores unchanged.
- **Queries missing from the run.** ``missing_queries="ignore"`` (the default) is
  trec_eval's default: a query with judgments but no retrieved document (absent from the
  run, or an empty ranking) is left out of every mean. ``"zero"`` is ``trec_eval -c``
  (and ir-measures' own default): such queries count with the measure's default value (0).
  Queries that are in the run but have no judgments are always ignored, as in trec_eval.

**PNR** (positive-negative ratio, DisRanker) is computed here. Over the pairs of *judged*
documents of one query that appear in the run (or its top-k for ``PNR@k``) and have
different grades, a pair is concordant when the better-graded document has the higher
score, discordant when it has the lower one, and tied when the scores are equal. Ties
count half to each side (``pnr_ties="half"``), are dropped (``"ignore"``) or count as
discordant (``"discordant"``). Unjudged documents in the run and judged documents absent
from it take no part.

- The **aggregate** is the total concordant count over the total discordant count of all
  queries (the DisRanker paper's definition), not a mean of per-query ratios.
- The **per-query** value (for segment analysis and significance tests) is that query's
  own ratio.
- **Zero discordant:** a ratio's denominator is floored at :data:`PNR_MIN_DISCORDANT`
  (1 pair), so a perfectly ordered query scores its number of concordant pairs instead of
  infinity. A query with no counted pair at all has no per-query PNR (it is absent from
  ``per_query``); an aggregate with no pair is ``nan``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np

from rankdistill.data.records import Qrels, Run, trec_order

PnrTies = Literal["half", "ignore", "discordant"]
MissingQueries = Literal["ignore", "zero"]

PNR_TIE_MODES: tuple[str, ...] = ("half", "ignore", "discordant")
# Floor of a PNR denominator: a query (or collection) without discordant pairs gets
# concordant / 1 rather than infinity (a documented convention, not from the paper).
PNR_MIN_DISCORDANT = 1.0

_PNR_PATTERN = re.compile(r"^PNR(?:@(\d+))?$")


class UnknownMetricError(ValueError):
    """A metric string that is neither an ir-measures measure nor ``PNR`` / ``PNR@k``."""


@dataclass(frozen=True)
class PairCounts:
    """Raw pair counts of one query for PNR (before the tie convention is applied)."""

    concordant: int = 0
    discordant: int = 0
    tied: int = 0

    def __add__(self, other: PairCounts) -> PairCounts:
        return PairCounts(
            self.concordant + other.concordant,
            self.discordant + other.discordant,
            self.tied + other.tied,
        )

    def effective(self, ties: PnrTies) -> tuple[float, float]:
        """(concordant, discordant) after the tie convention."""
        if ties == "half":
            return self.concordant + 0.5 * self.tied, self.discordant + 0.5 * self.tied
        if ties == "ignore":
            return float(self.concordant), float(self.discordant)
        if ties == "discordant":
            return float(self.concordant), float(self.discordant + self.tied)
        raise ValueError(f"pnr_ties must be one of {PNR_TIE_MODES}, got {ties!r}")


def pnr_ratio(counts: PairCounts, ties: PnrTies = "half") -> float:
    """Concordant / discordant with the floored denominator; ``nan`` when nothing counts."""
    concordant, discordant = counts.effective(ties)
    if concordant + discordant == 0:
        return math.nan
    return concordant / max(discordant, PNR_MIN_DISCORDANT)


@dataclass
class EvalResult:
    """Metrics of one run against one set of qrels.

    ``aggregate``: metric string -> value over all evaluated queries (a mean for standard
    measures, the pooled ratio for PNR). ``per_query``: metric string -> qid -> value.
    ``pnr_counts``: for each PNR metric, qid -> raw pair counts (lets segment tables pool
    PNR the same way as the aggregate). ``num_queries`` / ``qids``: the queries evaluated.
    """

    aggregate: dict[str, float]
    per_query: dict[str, dict[str, float]]
    num_queries: int
    metrics: list[str] = field(default_factory=list)
    pnr_ties: PnrTies = "half"
    missing_queries: MissingQueries = "ignore"
    pnr_counts: dict[str, dict[str, PairCounts]] = field(default_factory=dict)
    qids: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (``nan`` becomes ``None``)."""
        data = asdict(self)
        data["aggregate"] = {m: _json_float(v) for m, v in self.aggregate.items()}
        data["per_query"] = {
            m: {q: _json_float(v) for q, v in values.items()}
            for m, values in self.per_query.items()
        }
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EvalResult:
        """Inverse of :meth:`to_dict`."""
        return cls(
            aggregate={m: _from_json_float(v) for m, v in data["aggregate"].items()},
            per_query={
                m: {q: _from_json_float(v) for q, v in values.items()}
                for m, values in data["per_query"].items()
            },
            num_queries=int(data["num_queries"]),
            metrics=list(data.get("metrics", data["aggregate"])),
            pnr_ties=data.get("pnr_ties", "half"),
            missing_queries=data.get("missing_queries", "ignore"),
            pnr_counts={
                m: {q: PairCounts(**c) for q, c in per_q.items()}
                for m, per_q in data.get("pnr_counts", {}).items()
            },
            qids=list(data.get("qids", [])),
        )


def _json_float(value: float) -> float | None:
    return None if value is None or math.isnan(value) else float(value)


def _from_json_float(value: float | None) -> float:
    return math.nan if value is None else float(value)


# --------------------------------------------------------------------------- parsing
@dataclass(frozen=True)
class PnrMetric:
    """``PNR`` (whole ranking) or ``PNR@k`` (top-k of the run only)."""

    name: str
    cutoff: int | None


def parse_metric(name: str) -> Any:
    """A metric string -> :class:`PnrMetric` or an ir-measures ``Measure``.

    Raises :class:`UnknownMetricError` naming the string when neither understands it.
    """
    import ir_measures

    text = name.strip()
    pnr = _PNR_PATTERN.match(text)
    if pnr:
        cutoff = int(pnr.group(1)) if pnr.group(1) else None
        if cutoff == 0:
            raise UnknownMetricError(f"metric {name!r}: the PNR cutoff must be at least 1")
        return PnrMetric(text, cutoff)
    try:
        return ir_measures.parse_measure(text)
    except (NameError, ValueError, TypeError, SyntaxError) as exc:
        raise UnknownMetricError(
            f"unknown metric {name!r} ({exc}); use ir-measures strings such as nDCG@10, "
            "RR(rel=2)@10, AP(rel=2), R@100, P@5, or PNR / PNR@k"
        ) from exc


def parse_metrics(metrics: Sequence[str] | str) -> dict[str, Any]:
    """Metric strings (a list, or one whitespace-separated string) -> name -> parsed metric."""
    names = metrics.split() if isinstance(metrics, str) else list(metrics)
    if not names:
        raise UnknownMetricError("no metric given")
    return {name.strip(): parse_metric(name) for name in names}


# --------------------------------------------------------------------------- ordering
def _has_ties(scores: dict[str, float]) -> bool:
    return len(set(scores.values())) < len(scores)


def _untie(scores: dict[str, float]) -> dict[str, float]:
    """Rank-derived scores in trec_eval order, so every provider sees the same ranking."""
    order = trec_order(scores)
    return {docid: float(len(order) - i) for i, docid in enumerate(order)}


def _normalise_run(run: Run) -> Run:
    """String ids and float scores; empty rankings dropped (trec_eval never sees them)."""
    return {
        str(qid): {str(d): float(s) for d, s in docs.items()} for qid, docs in run.items() if docs
    }


def _trec_eval_run(run: Run) -> Run:
    """The run with ties broken the trec_eval way (PNR keeps the original, tied scores)."""
    return {qid: _untie(s) if _has_ties(s) else s for qid, s in run.items()}


def _normalise_qrels(qrels: Qrels) -> Qrels:
    return {str(q): {str(d): int(g) for d, g in docs.items()} for q, docs in qrels.items()}


# --------------------------------------------------------------------------- PNR
def query_pair_counts(
    scores: dict[str, float], grades: dict[str, int], cutoff: int | None = None
) -> PairCounts:
    """Concordant / discordant / tied pair counts of one query.

    ``scores`` is the query's ranking, ``grades`` its judgments; only judged documents of the
    ranking (its top-``cutoff`` in trec_eval order when a cutoff is given) take part.
    """
    docids = trec_order(scores) if cutoff is not None else list(scores)
    if cutoff is not None:
        docids = docids[:cutoff]
    judged = [d for d in docids if d in grades]
    if len(judged) < 2:
        return PairCounts()
    g = np.array([grades[d] for d in judged], dtype=np.float64)
    s = np.array([scores[d] for d in judged], dtype=np.float64)
    # For each unordered pair, orient it so the first document has the higher grade.
    grade_diff = np.sign(g[:, None] - g[None, :])
    score_diff = np.sign(s[:, None] - s[None, :])
    better = grade_diff > 0
    return PairCounts(
        concordant=int(np.sum(better & (score_diff > 0))),
        discordant=int(np.sum(better & (score_diff < 0))),
        tied=int(np.sum(better & (score_diff == 0))),
    )


def _pnr(
    metric: PnrMetric, run: Run, qrels: Qrels, qids: Iterable[str], ties: PnrTies
) -> tuple[float, dict[str, float], dict[str, PairCounts]]:
    counts = {
        qid: query_pair_counts(run.get(qid, {}), qrels.get(qid, {}), metric.cutoff) for qid in qids
    }
    per_query = {qid: pnr_ratio(c, ties) for qid, c in counts.items()}
    per_query = {qid: v for qid, v in per_query.items() if not math.isnan(v)}
    total = sum(counts.values(), PairCounts())
    return pnr_ratio(total, ties), per_query, counts


def _aggregate(measure: Any, values: Iterable[float]) -> float:
    """The measure's own aggregator (a mean for ranking measures, a sum for counts)."""
    values = list(values)
    if not values:
        return math.nan
    aggregator = measure.aggregator()
    for value in values:
        aggregator.add(value)
    return float(aggregator.result())


# --------------------------------------------------------------------------- main entry
def evaluate_run(
    run: Run,
    qrels: Qrels,
    metrics: Sequence[str] | str,
    *,
    pnr_ties: PnrTies = "half",
    missing_queries: MissingQueries = "ignore",
) -> EvalResult:
    """Evaluate ``run`` against ``qrels`` on ``metrics`` (see the module docstring).

    ``metrics`` are ir-measures strings plus ``PNR`` / ``PNR@k``; an unknown one raises
    :class:`UnknownMetricError` before anything is computed.
    """
    import ir_measures

    if pnr_ties not in PNR_TIE_MODES:
        raise ValueError(f"pnr_ties must be one of {PNR_TIE_MODES}, got {pnr_ties!r}")
    if missing_queries not in ("ignore", "zero"):
        raise ValueError(f"missing_queries must be 'ignore' or 'zero', got {missing_queries!r}")
    parsed = parse_metrics(metrics)
    run = _normalise_run(run)
    qrels = _normalise_qrels(qrels)
    # "ignore": trec_eval's default; "zero": trec_eval -c.
    qids = sorted(q for q in qrels if q in run) if missing_queries == "ignore" else sorted(qrels)
    qid_set = set(qids)

    aggregate: dict[str, float] = {}
    per_query: dict[str, dict[str, float]] = {}
    pnr_counts: dict[str, dict[str, PairCounts]] = {}

    measures = {name: m for name, m in parsed.items() if not isinstance(m, PnrMetric)}
    if measures and qids:
        names_of: dict[Any, list[str]] = {}
        for name, measure in measures.items():
            names_of.setdefault(measure, []).append(name)
        values: dict[str, dict[str, float]] = {name: {} for name in measures}
        eval_qrels = {q: qrels[q] for q in qids}
        untied = _trec_eval_run({q: run[q] for q in qids if q in run})
        for metric in ir_measures.iter_calc(list(names_of), eval_qrels, untied):
            if metric.query_id not in qid_set:
                continue
            for name in names_of[metric.measure]:
                values[name][metric.query_id] = float(metric.value)
        for name in measures:
            # ir-measures fills absent queries with the measure's default; be explicit.
            default = float(measures[name].DEFAULT)
            per_query[name] = {q: values[name].get(q, default) for q in qids}
    for name, spec in parsed.items():
        if isinstance(spec, PnrMetric):
            agg, per_q, counts = _pnr(spec, run, qrels, qids, pnr_ties)
            aggregate[name], per_query[name], pnr_counts[name] = agg, per_q, counts
        else:
            per_query.setdefault(name, {})
            aggregate[name] = _aggregate(spec, per_query[name].values())
    ordered = list(parsed)
    return EvalResult(
        aggregate={m: aggregate[m] for m in ordered},
        per_query={m: per_query[m] for m in ordered},
        num_queries=len(qids),
        metrics=ordered,
        pnr_ties=pnr_ties,
        missing_queries=missing_queries,
        pnr_counts=pnr_counts,
        qids=qids,
    )
