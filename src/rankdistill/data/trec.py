"""TREC formats: runs (``qid Q0 docid rank score tag``), qrels (``qid 0 docid rel``) and
the MS MARCO-style TSV files of queries (``qid<TAB>text``) and passages
(``docid<TAB>text`` or ``docid<TAB>title<TAB>text``).
"""

from __future__ import annotations

from pathlib import Path

from rankdistill.data._io import (
    Where,
    as_float,
    as_id,
    as_int,
    as_text,
    check_token,
    iter_tsv,
    iter_whitespace_rows,
    tsv_cell,
)
from rankdistill.data.errors import DataFormatError
from rankdistill.data.records import Document, Qrels, Query, Run, rank_docs
from rankdistill.utils import atomic_write_text


def read_trec_run(path: str | Path) -> Run:
    """Read a TREC run. Scores are kept as given; documents keep file order per query.

    A document listed twice for one query is an error (trec_eval would silently keep one).
    """
    run: Run = {}
    for lineno, cells in iter_whitespace_rows(path, 6):
        where = Where(path, lineno)
        qid, docid = as_id(cells[0], "qid", where), as_id(cells[2], "docid", where)
        as_int(cells[3], "rank", where)  # validated, not used: order comes from the score
        score = as_float(cells[4], "score", where)
        docs = run.setdefault(qid, {})
        if docid in docs:
            raise where.error("docid", f"document {docid!r} listed twice for query {qid!r}")
        docs[docid] = score
    return run


def write_trec_run(run: Run, path: str | Path, tag: str = "rankdistill") -> Path:
    """Write ``run``; ranks follow descending score, ties keep insertion order."""
    check_token(tag, "run tag")
    lines: list[str] = []
    for qid, scores in run.items():
        check_token(qid, "qid")
        for rank, (docid, score) in enumerate(rank_docs(scores), start=1):
            check_token(docid, "docid")
            # repr() is the shortest string that reads back to the same float.
            lines.append(f"{qid} Q0 {docid} {rank} {float(score)!r} {tag}\n")
    return atomic_write_text(path, "".join(lines))


def read_trec_qrels(path: str | Path) -> Qrels:
    """Read ``qid iter docid rel`` lines (``iter`` is ignored: ``0`` or ``Q0``).

    The same judgment repeated is accepted; two different grades for one pair are an error.
    """
    qrels: Qrels = {}
    for lineno, cells in iter_whitespace_rows(path, 4):
        where = Where(path, lineno)
        qid, docid = as_id(cells[0], "qid", where), as_id(cells[2], "docid", where)
        grade = as_int(cells[3], "rel", where)
        add_judgment(qrels, qid, docid, grade, where)
    return qrels


def add_judgment(qrels: Qrels, qid: str, docid: str, grade: int, where: Where) -> None:
    """Insert one judgment; a conflicting duplicate raises naming ``where``."""
    judged = qrels.setdefault(qid, {})
    if docid in judged and judged[docid] != grade:
        raise where.error(
            "rel",
            f"({qid}, {docid}) judged twice with different grades ({judged[docid]} and {grade})",
        )
    judged[docid] = grade


def write_trec_qrels(qrels: Qrels, path: str | Path) -> Path:
    """Write ``qid 0 docid rel`` lines."""
    lines = [
        f"{check_token(qid, 'qid')} 0 {check_token(docid, 'docid')} {int(grade)}\n"
        for qid, judged in qrels.items()
        for docid, grade in judged.items()
    ]
    return atomic_write_text(path, "".join(lines))


def add_query(queries: dict[str, Query], query: Query, where: Where) -> None:
    """Insert a query; the same qid with different text is an error, an exact repeat is not."""
    known = queries.get(query.qid)
    if known is not None and known.text != query.text:
        raise where.error(
            "qid",
            f"query {query.qid!r} appears twice with different text "
            f"({known.text!r} vs {query.text!r})",
        )
    queries[query.qid] = query


def add_document(corpus: dict[str, Document], doc: Document, where: Where) -> None:
    """Insert a document; the same docid with different content is an error."""
    known = corpus.get(doc.docid)
    if known is not None and (known.text, known.title) != (doc.text, doc.title):
        raise where.error("docid", f"document {doc.docid!r} appears twice with different text")
    corpus[doc.docid] = doc


def read_queries_tsv(path: str | Path) -> dict[str, Query]:
    """``qid<TAB>text`` lines (MS MARCO queries.tsv)."""
    queries: dict[str, Query] = {}
    for lineno, cells in iter_tsv(path, (2,)):
        where = Where(path, lineno)
        qid = as_id(cells[0], "qid", where)
        add_query(queries, Query(qid, as_text(cells[1], "text", where).strip()), where)
    return queries


def write_queries_tsv(queries: dict[str, Query], path: str | Path) -> Path:
    lines = [
        f"{tsv_cell(q.qid, 'qid')}\t{tsv_cell(q.text, 'query text')}\n" for q in queries.values()
    ]
    return atomic_write_text(path, "".join(lines))


def read_corpus_tsv(path: str | Path) -> dict[str, Document]:
    """``docid<TAB>text`` or ``docid<TAB>title<TAB>text`` lines.

    An empty body is accepted only when a title carries the content.
    """
    corpus: dict[str, Document] = {}
    for lineno, cells in iter_tsv(path, (2, 3)):
        where = Where(path, lineno)
        docid = as_id(cells[0], "docid", where)
        title = (cells[1].strip() or None) if len(cells) == 3 else None
        text = as_text(cells[-1], "text", where, allow_empty=title is not None)
        add_document(corpus, Document(docid, text, title), where)
    return corpus


def write_corpus_tsv(corpus: dict[str, Document], path: str | Path) -> Path:
    """Three columns (``docid, title, text``) when any document has a title, else two."""
    with_title = any(d.title for d in corpus.values())
    lines: list[str] = []
    for doc in corpus.values():
        cells = [doc.docid, doc.title or ""] if with_title else [doc.docid]
        cells.append(doc.text)
        lines.append("\t".join(tsv_cell(c, f"document {doc.docid} field") for c in cells) + "\n")
    return atomic_write_text(path, "".join(lines))


__all__ = [
    "DataFormatError",
    "read_corpus_tsv",
    "read_queries_tsv",
    "read_trec_qrels",
    "read_trec_run",
    "write_corpus_tsv",
    "write_queries_tsv",
    "write_trec_qrels",
    "write_trec_run",
]
