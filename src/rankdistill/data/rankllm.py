"""The rank_llm "retrieve results" JSON format, used by the TREC DL files in shared/data::

    [{"query": "text", "hits": [{"qid": 23849, "docid": "4348282", "rank": 1,
                                 "score": 10.07, "content": "passage text"}, ...]}, ...]

Errors name the JSON path of the bad value, e.g. ``[3].hits[7].docid``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from rankdistill.data._io import Where, as_float, as_id, as_int, as_text, load_json
from rankdistill.data.records import Document, Query, RankingData, Run, rank_docs
from rankdistill.data.trec import add_document, add_query
from rankdistill.utils import atomic_write_json

ScoreSource = Literal["given", "file_order"]


def read_rankllm(
    paths: str | Path | Sequence[str | Path], *, scores: ScoreSource = "given"
) -> RankingData:
    """Read one or more rank_llm JSON files into one :class:`RankingData` (no qrels).

    Several files are concatenated; a qid may appear in only one entry overall. The qid
    comes from the hits (an entry without hits needs a top-level ``qid``). Candidates keep
    file order. ``scores="given"`` keeps the files' scores; ``"file_order"`` replaces them
    with ``1 / position`` so the ranking is exactly the file order even where the given
    scores tie (trec_eval would break such ties by docid).
    """
    files = [paths] if isinstance(paths, str | Path) else list(paths)
    if not files:
        raise ValueError("read_rankllm needs at least one file")
    data = RankingData(queries={}, corpus={}, candidates={})
    origin: dict[str, str] = {}
    for path in files:
        entries = load_json(path)
        if not isinstance(entries, list):
            raise Where(path).error("", f"top level must be a list, got {type(entries).__name__}")
        for index, entry in enumerate(entries):
            _read_entry(entry, Where(path, prefix=f"[{index}]"), data, origin, scores)
    return data


def _read_entry(
    entry: Any, where: Where, data: RankingData, origin: dict[str, str], scores: ScoreSource
) -> None:
    if not isinstance(entry, dict):
        raise where.error("", f"entry must be an object, got {type(entry).__name__}")
    if "query" not in entry:
        raise where.error("query", "missing")
    text = as_text(entry["query"], "query", where)
    hits = entry.get("hits")
    if not isinstance(hits, list):
        raise where.error("hits", "missing or not a list")
    qid = _entry_qid(entry, hits, where)
    if qid in origin:
        raise where.error("hits[0].qid", f"query {qid!r} already read at {origin[qid]}")
    origin[qid] = f"{where.path}:{where.prefix}"
    add_query(data.queries, Query(qid, text.strip()), where)
    candidates: dict[str, float] = {}
    for position, hit in enumerate(hits, start=1):
        hit_where = Where(where.path, prefix=f"{where.prefix}.hits[{position - 1}]")
        docid, score, content = _read_hit(hit, qid, hit_where)
        if docid in candidates:
            raise hit_where.error("docid", f"document {docid!r} listed twice for query {qid!r}")
        add_document(data.corpus, Document(docid, content), hit_where)
        candidates[docid] = 1.0 / position if scores == "file_order" else score
    data.candidates[qid] = candidates


def _entry_qid(entry: dict[str, Any], hits: list[Any], where: Where) -> str:
    if "qid" in entry:
        return as_id(entry["qid"], "qid", where)
    if not hits:
        raise where.error("hits", "empty, and the entry has no top-level 'qid' to name the query")
    first = hits[0]
    if not isinstance(first, dict) or "qid" not in first:
        raise where.error("hits[0].qid", "missing")
    return as_id(first["qid"], "hits[0].qid", where)


def _read_hit(hit: Any, qid: str, where: Where) -> tuple[str, float, str]:
    """A validated hit: ``(docid, score, content)``."""
    if not isinstance(hit, dict):
        raise where.error("", f"hit must be an object, got {type(hit).__name__}")
    for name in ("qid", "docid", "score", "content"):
        if name not in hit:
            raise where.error(name, "missing")
    hit_qid = as_id(hit["qid"], "qid", where)
    if hit_qid != qid:
        raise where.error("qid", f"{hit_qid!r} differs from the entry's query id {qid!r}")
    docid = as_id(hit["docid"], "docid", where)
    if "rank" in hit:
        as_int(hit["rank"], "rank", where, minimum=1)
    score = as_float(hit["score"], "score", where)
    return docid, score, as_text(hit["content"], "content", where)


def write_rankllm(data: RankingData, run: Run, path: str | Path, k: int | None = None) -> Path:
    """Write ``run`` (ranked by score, cut at ``k``) with query and passage text.

    Numeric qids are written as JSON integers, as in the TREC DL files; a query with no
    candidates gets a top-level ``qid`` so it survives the round trip.
    """
    entries: list[dict[str, Any]] = []
    for qid, scores in run.items():
        if qid not in data.queries:
            raise ValueError(f"run query {qid!r} is not among the data's queries")
        ranked = rank_docs(scores)[:k] if k is not None else rank_docs(scores)
        json_qid: str | int = int(qid) if qid.isdigit() and str(int(qid)) == qid else qid
        hits = []
        for rank, (docid, score) in enumerate(ranked, start=1):
            if docid not in data.corpus:
                raise ValueError(f"run document {docid!r} (query {qid!r}) is not in the corpus")
            hits.append(
                {
                    "qid": json_qid,
                    "docid": docid,
                    "rank": rank,
                    "score": float(score),
                    "content": data.corpus[docid].full_text,
                }
            )
        entry: dict[str, Any] = {"query": data.queries[qid].text, "hits": hits}
        if not hits:
            entry["qid"] = json_qid
        entries.append(entry)
    return atomic_write_json(path, entries)
