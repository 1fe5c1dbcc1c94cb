"""Relevance judgments in any of the supported forms, detected from the file itself.

- JSON ``{qid: {docid: grade}}`` (grades as strings or numbers; the shared TREC DL form);
- TREC ``qid 0 docid rel`` (four whitespace-separated columns);
- BEIR TSV ``query-id<TAB>corpus-id<TAB>score`` (three columns, optional header).
"""

from __future__ import annotations

import json
from pathlib import Path

from rankdistill.data._io import (
    Where,
    as_id,
    as_int,
    first_content_char,
    iter_text_lines,
    load_json,
)
from rankdistill.data.beir import read_beir_qrels
from rankdistill.data.records import Qrels
from rankdistill.data.trec import read_trec_qrels
from rankdistill.utils import atomic_write_json


def read_qrels(path: str | Path) -> Qrels:
    """Read qrels, detecting JSON, TREC or BEIR TSV from the content."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    if first_content_char(path) == "{":
        return read_qrels_json(path)
    for _, line in iter_text_lines(path):
        return read_beir_qrels(path) if len(line.split("\t")) == 3 else read_trec_qrels(path)
    return {}


def read_qrels_json(path: str | Path) -> Qrels:
    """``{qid: {docid: grade}}``; errors name the JSON path, e.g. ``["23849"]["1020327"]``."""
    raw = load_json(path)
    if not isinstance(raw, dict):
        raise Where(path).error("", f"top level must be an object, got {type(raw).__name__}")
    qrels: Qrels = {}
    for qid_key, judged in raw.items():
        where = Where(path, prefix=f"[{json.dumps(qid_key)}]")
        qid = as_id(qid_key, "", where)
        if not isinstance(judged, dict):
            raise where.error("", f"must map docids to grades, got {type(judged).__name__}")
        qrels[qid] = {}
        for docid_key, grade in judged.items():
            doc_where = Where(path, prefix=f"[{json.dumps(qid_key)}][{json.dumps(docid_key)}]")
            docid = as_id(docid_key, "", doc_where)
            qrels[qid][docid] = as_int(grade, "", doc_where)
    return qrels


def write_qrels_json(qrels: Qrels, path: str | Path) -> Path:
    """Write the JSON form with string grades, exactly like the shared TREC DL files."""
    return atomic_write_json(
        path, {qid: {d: str(int(g)) for d, g in judged.items()} for qid, judged in qrels.items()}
    )
