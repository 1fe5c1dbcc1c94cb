"""Plain JSONL queries and corpora.

- Queries: ``{"qid"|"_id": ..., "text"|"query": ..., "frequency": int?, "segment": str?}``
- Corpus: ``{"docid"|"_id": ..., "text"|"contents": ..., "title": str?}``

The id and text aliases cover BEIR and Pyserini files; writers use the first names.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar, get_args

from rankdistill.data._io import Where, as_id, as_int, as_text, iter_jsonl_objects, pick_key
from rankdistill.data.records import Document, Query, Segment
from rankdistill.data.trec import add_document, add_query
from rankdistill.utils import write_jsonl

_Record = TypeVar("_Record", Query, Document)

QUERY_ID_KEYS = ("qid", "_id")
QUERY_TEXT_KEYS = ("text", "query")
DOC_ID_KEYS = ("docid", "_id")
DOC_TEXT_KEYS = ("text", "contents")
SEGMENTS: tuple[str, ...] = get_args(Segment)


def query_from_json(obj: dict[str, Any], where: Where) -> Query:
    """One query object; a ``frequency`` must be a non-negative integer."""
    qid = as_id(pick_key(obj, QUERY_ID_KEYS, where), QUERY_ID_KEYS[0], where)
    text = as_text(pick_key(obj, QUERY_TEXT_KEYS, where), QUERY_TEXT_KEYS[0], where).strip()
    frequency = obj.get("frequency")
    if frequency is not None:
        frequency = as_int(frequency, "frequency", where, minimum=0)
    segment = obj.get("segment")
    if segment is not None and segment not in SEGMENTS:
        raise where.error("segment", f"must be one of {', '.join(SEGMENTS)}, got {segment!r}")
    return Query(qid, text, frequency, segment)


def document_from_json(obj: dict[str, Any], where: Where) -> Document:
    """One document object; an empty body is accepted only under a non-empty title."""
    docid = as_id(pick_key(obj, DOC_ID_KEYS, where), DOC_ID_KEYS[0], where)
    title = obj.get("title")
    if title is not None:
        title = as_text(title, "title", where, allow_empty=True).strip() or None
    text = as_text(
        pick_key(obj, DOC_TEXT_KEYS, where), DOC_TEXT_KEYS[0], where, allow_empty=title is not None
    )
    return Document(docid, text, title)


def _read_keyed_jsonl(
    path: str | Path,
    parse: Callable[[Any, Where], _Record],
    add: Callable[[dict[str, _Record], _Record, Where], None],
) -> dict[str, _Record]:
    """Every line of ``path`` parsed and added by id (``add`` refuses a repeated id)."""
    records: dict[str, _Record] = {}
    for lineno, obj in iter_jsonl_objects(path):
        where = Where(path, lineno)
        add(records, parse(obj, where), where)
    return records


def read_queries_jsonl(path: str | Path) -> dict[str, Query]:
    return _read_keyed_jsonl(path, query_from_json, add_query)


def read_corpus_jsonl(path: str | Path) -> dict[str, Document]:
    return _read_keyed_jsonl(path, document_from_json, add_document)


def query_to_json(query: Query) -> dict[str, Any]:
    row: dict[str, Any] = {"qid": query.qid, "text": query.text}
    if query.frequency is not None:
        row["frequency"] = query.frequency
    if query.segment is not None:
        row["segment"] = query.segment
    return row


def document_to_json(doc: Document) -> dict[str, Any]:
    row: dict[str, Any] = {"docid": doc.docid, "text": doc.text}
    if doc.title is not None:
        row["title"] = doc.title
    return row


def write_queries_jsonl(queries: dict[str, Query], path: str | Path) -> Path:
    return write_jsonl(path, (query_to_json(q) for q in queries.values()))


def write_corpus_jsonl(corpus: dict[str, Document], path: str | Path) -> Path:
    return write_jsonl(path, (document_to_json(d) for d in corpus.values()))
