"""Click logs: reading, writing and a seeded click simulator.

A click log has one aggregated row per (query, shown document): ``query``, ``docid`` or
``title`` (+ ``summary``), ``impressions``, ``clicks``, optional ``dwell_time`` (mean
seconds per click) and ``position``. It is either a TSV file with a header line naming
the columns (any order) or JSONL with the same keys.

The simulator produces such a log for users who have none, and for the DisRanker CPT
stage (SPEC 3.1), from graded relevance and a position-bias model (reconstructed; every
constant is an argument):

- ``pbm`` (position-based model): the result at position r is examined with probability
  ``(1 / r) ** eta`` and clicked, once examined, with its attractiveness.
- ``cascade``: the user scans from the top, clicks a result with its attractiveness and
  stops at the first click.

Attractiveness comes from the grade: ``grade_to_prob`` when given, else
``0.05 + 0.9 * (2**g - 1) / (2**g_max - 1)`` (the usual exponential-gain click model with
a 5% noise floor). Every shown result counts one impression per session, so click-through
rates fall with position for equal grades: the position bias real logs have.
"""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from tqdm.auto import tqdm

from rankdistill.data._io import (
    Where,
    as_float,
    as_int,
    as_text,
    first_content_char,
    iter_jsonl_objects,
    iter_text_lines,
    split_tsv_line,
    tsv_cell,
)
from rankdistill.data.errors import DataFormatError
from rankdistill.data.records import ClickRecord, Document, Qrels, RankingData, Run, rank_docs
from rankdistill.utils import atomic_write_text, write_jsonl

CLICK_COLUMNS = (
    "query",
    "docid",
    "title",
    "summary",
    "impressions",
    "clicks",
    "dwell_time",
    "position",
)
REQUIRED_COLUMNS = ("query", "impressions", "clicks")
ClickModel = Literal["cascade", "pbm"]


# --------------------------------------------------------------------------- reading


def _optional(row: dict[str, Any], name: str) -> Any:
    value = row.get(name)
    return None if value is None or value == "" else value


def click_record_from_row(row: dict[str, Any], where: Where) -> ClickRecord:
    """Validate one row (TSV cells or a JSON object) into a :class:`ClickRecord`."""
    for name in REQUIRED_COLUMNS:
        if _optional(row, name) is None:
            raise where.error(name, "missing")
    query = as_text(row["query"], "query", where).strip()
    docid = _optional(row, "docid")
    title = _optional(row, "title")
    summary = _optional(row, "summary")
    if docid is None and title is None:
        raise where.error("docid", "a row needs a docid or a title (+ summary)")
    impressions = as_int(row["impressions"], "impressions", where, minimum=0)
    clicks = as_int(row["clicks"], "clicks", where, minimum=0)
    if clicks > impressions:
        raise where.error("clicks", f"{clicks} clicks exceed {impressions} impressions")
    dwell = _optional(row, "dwell_time")
    position = _optional(row, "position")
    return ClickRecord(
        query=query,
        impressions=impressions,
        clicks=clicks,
        docid=None if docid is None else str(docid).strip(),
        title=None if title is None else as_text(title, "title", where),
        summary=None if summary is None else as_text(summary, "summary", where, allow_empty=True),
        dwell_time=None if dwell is None else as_float(dwell, "dwell_time", where, minimum=0.0),
        position=None if position is None else as_int(position, "position", where, minimum=1),
    )


def _read_click_tsv(path: Path) -> list[ClickRecord]:
    records: list[ClickRecord] = []
    header: list[str] | None = None
    for lineno, line in iter_text_lines(path):
        cells = split_tsv_line(line)
        if header is None:
            header = [c.strip() for c in cells]
            unknown = [c for c in header if c not in CLICK_COLUMNS]
            if unknown:
                raise DataFormatError(
                    path,
                    f"unknown header columns {unknown} (known: {', '.join(CLICK_COLUMNS)})",
                    line=lineno,
                )
            for name in REQUIRED_COLUMNS:
                if name not in header:
                    raise DataFormatError(path, "header lacks this column", line=lineno, field=name)
            continue
        if len(cells) != len(header):
            raise DataFormatError(
                path, f"expected {len(header)} tab-separated columns, got {len(cells)}", line=lineno
            )
        row = dict(zip(header, cells, strict=True))
        records.append(click_record_from_row(row, Where(path, lineno)))
    return records


def read_click_log(path: str | Path) -> list[ClickRecord]:
    """Read a click log: JSONL when the file starts with ``{``, else TSV with a header."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    if first_content_char(path) == "{":
        return [click_record_from_row(obj, Where(path, n)) for n, obj in iter_jsonl_objects(path)]
    return _read_click_tsv(path)


# --------------------------------------------------------------------------- writing


def click_record_to_json(record: ClickRecord) -> dict[str, Any]:
    """The record's fields, leaving out the unset optional ones."""
    row = {name: getattr(record, name) for name in CLICK_COLUMNS}
    return {k: v for k, v in row.items() if v is not None}


def write_click_log(records: Sequence[ClickRecord], path: str | Path) -> Path:
    """JSONL for a ``.jsonl``/``.json`` suffix, else TSV with a header line."""
    path = Path(path)
    if path.suffix in {".jsonl", ".json"}:
        return write_jsonl(path, (click_record_to_json(r) for r in records))
    lines = ["\t".join(CLICK_COLUMNS) + "\n"]
    for record in records:
        values = [getattr(record, c) for c in CLICK_COLUMNS]
        cells = ["" if v is None else str(v) for v in values]
        lines.append("\t".join(tsv_cell(c, "click log value") for c in cells) + "\n")
    return atomic_write_text(path, "".join(lines))


# --------------------------------------------------------------------------- simulation


@dataclass(frozen=True)
class _Shown:
    docid: str
    position: int
    attractiveness: float
    dwell_mean: float


def default_attractiveness(grade: float, max_grade: float) -> float:
    """``0.05 + 0.9 * (2**g - 1) / (2**g_max - 1)`` (reconstructed), clipped to [0.05, 0.95]."""
    g = min(max(grade, 0.0), max_grade)
    return 0.05 + 0.9 * (2.0**g - 1.0) / (2.0**max_grade - 1.0)


def _attractiveness_fn(qrels: Qrels, grade_to_prob: dict[int, float] | None):
    if grade_to_prob is not None:
        bad = {g: p for g, p in grade_to_prob.items() if not 0.0 <= p <= 1.0}
        if bad:
            raise ValueError(f"grade_to_prob values must be probabilities, got {bad}")

        def lookup(grade: float) -> float:
            key = round(grade)
            if key not in grade_to_prob:
                raise ValueError(f"grade {grade} has no entry in grade_to_prob {grade_to_prob}")
            return grade_to_prob[key]

        return lookup
    max_grade = max((g for judged in qrels.values() for g in judged.values()), default=1)
    max_grade = max(float(max_grade), 1.0)
    return lambda grade: default_attractiveness(grade, max_grade)


def _query_rng(seed: int, qid: str) -> random.Random:
    """One generator per query, so a query's clicks do not depend on which others exist."""
    digest = hashlib.sha256(f"{seed}\x00{qid}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def _snippet(doc: Document, summary_chars: int) -> tuple[str, str]:
    """Title and summary a result page would show (whitespace collapsed for TSV logs)."""
    text = re.sub(r"\s+", " ", doc.text).strip()
    if doc.title:
        title = re.sub(r"\s+", " ", doc.title).strip()
    else:
        # No title: the first sentence (or first words) stands in, as search engines do.
        first = re.split(r"(?<=[.!?])\s", text, maxsplit=1)[0]
        title = " ".join(first.split()[:12])
    if len(text) > summary_chars:
        text = text[:summary_chars].rsplit(" ", 1)[0] + " ..."
    return title, text


def _simulate_sessions(
    shown: list[_Shown], model: ClickModel, sessions: int, eta: float, rng: random.Random
) -> tuple[list[int], list[float]]:
    clicks = [0] * len(shown)
    dwell = [0.0] * len(shown)
    for _ in range(sessions):
        for i, item in enumerate(shown):
            examined = model == "cascade" or rng.random() < (1.0 / item.position) ** eta
            if examined and rng.random() < item.attractiveness:
                clicks[i] += 1
                dwell[i] += rng.expovariate(1.0 / item.dwell_mean)
                if model == "cascade":
                    break
    return clicks, dwell


def simulate_clicks(
    data: RankingData,
    run: Run | None = None,
    *,
    model: ClickModel = "pbm",
    sessions_per_query: int = 50,
    depth: int = 10,
    seed: int = 0,
    eta: float = 1.0,
    grade_to_prob: dict[int, float] | None = None,
    summary_chars: int = 300,
    progress: bool = False,
) -> list[ClickRecord]:
    """Simulate a click log over the top-``depth`` results of ``run`` (default: candidates).

    Grades come from ``data.qrels`` (teacher labels work too: pass them as a ``Qrels``);
    unjudged results have grade 0. Returns one aggregated record per shown (query, doc)
    with impressions, clicks, position, mean dwell time of its clicks, and the title and
    summary from the document text. Deterministic for a given ``seed``.
    """
    if model not in ("pbm", "cascade"):
        raise ValueError(f"unknown click model {model!r} (pbm or cascade)")
    if sessions_per_query < 1 or depth < 1 or eta < 0:
        raise ValueError("sessions_per_query and depth must be >= 1 and eta >= 0")
    if data.qrels is None:
        raise ValueError("simulate_clicks needs graded qrels (or teacher grades as a Qrels)")
    ranking = data.candidates if run is None else run
    if not ranking:
        raise ValueError("simulate_clicks needs a ranking: pass a run or data with candidates")
    attractiveness = _attractiveness_fn(data.qrels, grade_to_prob)
    records: list[ClickRecord] = []
    qids = [q for q in data.queries if q in ranking]
    for qid in tqdm(qids, desc="simulate clicks", unit="q", disable=not progress):
        judged = data.qrels.get(qid, {})
        shown = []
        for position, (docid, _) in enumerate(rank_docs(ranking[qid])[:depth], start=1):
            if docid not in data.corpus:
                raise ValueError(f"ranked document {docid!r} (query {qid!r}) is not in the corpus")
            grade = float(judged.get(docid, 0))
            appeal = attractiveness(grade)
            # Relevant results hold the reader longer (reconstructed: 10 s + 50 s * appeal).
            shown.append(_Shown(docid, position, appeal, 10.0 + 50.0 * appeal))
        clicks, dwell = _simulate_sessions(
            shown, model, sessions_per_query, eta, _query_rng(seed, qid)
        )
        for item, n_clicks, total_dwell in zip(shown, clicks, dwell, strict=True):
            title, summary = _snippet(data.corpus[item.docid], summary_chars)
            records.append(
                ClickRecord(
                    query=data.queries[qid].text,
                    impressions=sessions_per_query,
                    clicks=n_clicks,
                    docid=item.docid,
                    title=title,
                    summary=summary,
                    dwell_time=round(total_dwell / n_clicks, 2) if n_clicks else None,
                    position=item.position,
                )
            )
    return records
