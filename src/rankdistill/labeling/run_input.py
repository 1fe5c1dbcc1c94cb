"""Existing rankings as teacher input: a TREC run file or rank_llm rerank output.

A user who already has an LLM's rankings (RankGPT, RankVicuna, any reranker) turns them
into labels with ``labeling.method: run``; :class:`RunLabelOptions` is that method's
section of the labelling config and :func:`read_ranking` reads the file into one ordered
docid list per query, best first.

Accepted files (``format: auto`` tells them apart by their first character):

- a TREC run, ``qid Q0 docid rank score tag``: ordered as trec_eval orders it
  (descending score, ties by descending docid), so the labels rank what the run's
  published figures measure;
- rank_llm output, as JSON (a list) or JSONL (one object per line): each entry is
  ``{"query": {"text", "qid"}, "candidates": [{"docid", ...}, ...]}`` (rank_llm's
  ``Result``) or ``{"query": "text", "hits": [{"qid", "docid", ...}, ...]}`` (its
  older retrieve/rerank layout). Entries are ordered by list position: rank_llm writes
  the reranked order and its scores are not always re-assigned.

Errors name the file, the line (or JSON path) and the field.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from rankdistill.data._io import Where, as_id, first_content_char, iter_jsonl_objects, load_json
from rankdistill.data.errors import DataFormatError
from rankdistill.data.records import trec_order
from rankdistill.data.trec import read_trec_run

RunFormat = Literal["auto", "trec", "rankllm"]

# qid -> docids, best first.
Ranking = dict[str, list[str]]


class RunLabelOptions(BaseModel):
    """Settings of ``labeling.method: run`` (labels from an existing ranking)."""

    model_config = ConfigDict(extra="forbid")

    path: str | None = Field(
        None, description="The ranking to label from: a TREC run or rank_llm JSON/JSONL file."
    )
    format: RunFormat = Field("auto", description="File format; auto sniffs JSON vs TREC text.")
    cut: int | None = Field(
        None,
        ge=1,
        description="Only the run's top `cut` documents get graded (listwise positions); "
        "the candidates it ranks lower, or not at all, become missing. None: every "
        "candidate the run ranks is graded.",
    )


def read_ranking(path: str | Path, fmt: RunFormat = "auto") -> Ranking:
    """One ordered docid list per query from a TREC run or rank_llm output."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    if fmt == "auto":
        fmt = "rankllm" if first_content_char(path) in ("[", "{") else "trec"
    if fmt == "trec":
        return {qid: trec_order(scores) for qid, scores in read_trec_run(path).items()}
    return _read_rankllm_ranking(path)


def _read_rankllm_ranking(path: Path) -> Ranking:
    if first_content_char(path) == "[":
        entries = load_json(path)
        items = [(Where(path, prefix=f"[{i}]"), entry) for i, entry in enumerate(entries)]
    else:
        items = [(Where(path, line), entry) for line, entry in iter_jsonl_objects(path)]
    ranking: Ranking = {}
    for where, entry in items:
        qid, docids = _entry_ranking(entry, where)
        if qid in ranking:
            raise where.error("query", f"query {qid!r} appears twice")
        ranking[qid] = docids
    return ranking


def _entry_ranking(entry: Any, where: Where) -> tuple[str, list[str]]:
    """``(qid, docids)`` of one rank_llm entry, in either of its two layouts."""
    if not isinstance(entry, dict):
        raise where.error("", f"entry must be an object, got {type(entry).__name__}")
    if "candidates" in entry:
        key, query = "candidates", entry.get("query")
        if not isinstance(query, dict) or "qid" not in query:
            raise where.error("query.qid", "missing (rank_llm Result entries carry query.qid)")
        qid = as_id(query["qid"], "query.qid", where)
    elif "hits" in entry:
        key = "hits"
        hits = entry["hits"]
        if "qid" in entry:
            qid = as_id(entry["qid"], "qid", where)
        elif isinstance(hits, list) and hits and isinstance(hits[0], dict) and "qid" in hits[0]:
            qid = as_id(hits[0]["qid"], "hits[0].qid", where)
        else:
            raise where.error("hits[0].qid", "missing")
    else:
        raise where.error("candidates", "missing (expected 'candidates' or 'hits')")
    items = entry[key]
    if not isinstance(items, list):
        raise where.error(key, f"must be a list, got {type(items).__name__}")
    docids: list[str] = []
    seen: set[str] = set()
    for index, item in enumerate(items):
        name = f"{key}[{index}].docid"
        if not isinstance(item, dict) or "docid" not in item:
            raise where.error(name, "missing")
        docid = as_id(item["docid"], name, where)
        if docid in seen:
            raise where.error(name, f"document {docid!r} listed twice for query {qid!r}")
        seen.add(docid)
        docids.append(docid)
    return qid, docids


__all__ = ["DataFormatError", "Ranking", "RunLabelOptions", "read_ranking"]
