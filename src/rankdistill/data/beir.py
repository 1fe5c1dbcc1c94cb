"""BEIR folders: ``corpus.jsonl`` (``_id, title, text``), ``queries.jsonl`` (``_id, text``)
and ``qrels/<split>.tsv`` (``query-id<TAB>corpus-id<TAB>score`` with a header line).
"""

from __future__ import annotations

from pathlib import Path

from rankdistill.data._io import Where, as_id, as_int, iter_tsv
from rankdistill.data.jsonl import read_corpus_jsonl, read_queries_jsonl
from rankdistill.data.records import Qrels, RankingData
from rankdistill.data.trec import add_judgment


def read_beir_qrels(path: str | Path) -> Qrels:
    """A BEIR qrels TSV. The first line is skipped when it is a header (non-numeric score)."""
    qrels: Qrels = {}
    for lineno, cells in iter_tsv(path, (3,)):
        where = Where(path, lineno)
        if lineno == 1 and not _is_number(cells[2]):
            continue  # the "query-id corpus-id score" header
        qid, docid = as_id(cells[0], "query-id", where), as_id(cells[1], "corpus-id", where)
        add_judgment(qrels, qid, docid, as_int(cells[2], "score", where), where)
    return qrels


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def read_beir(folder: str | Path, split: str = "test") -> RankingData:
    """One split of a BEIR dataset: the queries judged in ``qrels/<split>.tsv``.

    BEIR ships every split's queries in one file, so the split's qrels decide which
    queries belong to it. A judged query or document missing from the folder is an error.
    """
    folder = Path(folder)
    qrels_path = folder / "qrels" / f"{split}.tsv"
    if not qrels_path.is_file():
        available = sorted(p.stem for p in (folder / "qrels").glob("*.tsv"))
        raise FileNotFoundError(f"{qrels_path}: no such split (available: {available})")
    all_queries = read_queries_jsonl(folder / "queries.jsonl")
    corpus = read_corpus_jsonl(folder / "corpus.jsonl")
    qrels = read_beir_qrels(qrels_path)
    for qid, judged in qrels.items():
        if qid not in all_queries:
            raise ValueError(f"{qrels_path}: query {qid!r} is not in {folder / 'queries.jsonl'}")
        missing = [d for d in judged if d not in corpus]
        if missing:
            raise ValueError(
                f"{qrels_path}: query {qid!r} judges documents not in corpus.jsonl: {missing[:5]}"
            )
    queries = {qid: q for qid, q in all_queries.items() if qid in qrels}
    return RankingData(queries=queries, corpus=corpus, candidates={}, qrels=qrels)
