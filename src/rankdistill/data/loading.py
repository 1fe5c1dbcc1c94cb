"""Load one split of data from a :class:`DatasetSpec`, whatever its format.

Formats are an explicit registry (:data:`LOADERS`, name -> function). Relative paths in a
spec resolve against ``base_dir`` (usually the config file's folder).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from rankdistill.data._io import (
    Where,
    as_int,
    as_text,
    first_content_char,
    iter_jsonl_objects,
    iter_tsv,
    pick_key,
)
from rankdistill.data.beir import read_beir
from rankdistill.data.builtin import builtin_dataset
from rankdistill.data.config import DatasetSpec
from rankdistill.data.jsonl import (
    read_corpus_jsonl,
    read_queries_jsonl,
    write_corpus_jsonl,
    write_queries_jsonl,
)
from rankdistill.data.qrels import read_qrels, write_qrels_json
from rankdistill.data.rankllm import read_rankllm, write_rankllm
from rankdistill.data.records import Document, Query, RankingData, Run
from rankdistill.data.trec import (
    read_corpus_tsv,
    read_queries_tsv,
    read_trec_run,
    write_corpus_tsv,
    write_queries_tsv,
    write_trec_qrels,
    write_trec_run,
)

JSONL_SUFFIXES = {".jsonl", ".json"}


def _is_jsonl(path: Path) -> bool:
    return path.suffix.lower() in JSONL_SUFFIXES or first_content_char(path) == "{"


def read_queries(path: str | Path) -> dict[str, Query]:
    """Queries from JSONL (``.jsonl`` or content starting with ``{``) or ``qid<TAB>text``."""
    path = Path(path)
    return read_queries_jsonl(path) if _is_jsonl(path) else read_queries_tsv(path)


def read_corpus(path: str | Path) -> dict[str, Document]:
    """A corpus from JSONL or TSV (``docid<TAB>[title<TAB>]text``)."""
    path = Path(path)
    return read_corpus_jsonl(path) if _is_jsonl(path) else read_corpus_tsv(path)


def read_run(path: str | Path) -> Run:
    """A run from a TREC run file or a rank_llm JSON file (detected from the content)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    if first_content_char(path) == "[":
        return read_rankllm(path).candidates
    return read_trec_run(path)


def merge_runs(runs: list[tuple[Path, Run]]) -> Run:
    """Concatenate runs of several files; a query in two files is an error."""
    merged: Run = {}
    origin: dict[str, Path] = {}
    for path, run in runs:
        for qid, scores in run.items():
            if qid in merged:
                raise ValueError(f"{path}: query {qid!r} already has candidates from {origin[qid]}")
            merged[qid], origin[qid] = scores, path
    return merged


def normalize_query_text(text: str) -> str:
    """The key that matches a query to its log entry: lower case, single spaces."""
    return re.sub(r"\s+", " ", text.strip().lower())


def read_query_log(path: str | Path) -> dict[str, int]:
    """Query frequencies from TSV ``query<TAB>count`` or JSONL ``{"query", "count"}``.

    Keys are normalised query texts (:func:`normalize_query_text`); repeated queries add
    up, as in a raw log with one line per (query, day).
    """
    path = Path(path)
    counts: dict[str, int] = {}

    def add(text: str, count: int) -> None:
        key = normalize_query_text(text)
        counts[key] = counts.get(key, 0) + count

    if first_content_char(path) == "{":
        for lineno, obj in iter_jsonl_objects(path):
            where = Where(path, lineno)
            text = as_text(pick_key(obj, ("query", "text"), where), "query", where)
            count = pick_key(obj, ("count", "frequency"), where)
            add(text, as_int(count, "count", where, minimum=0))
    else:
        for lineno, cells in iter_tsv(path, (2,)):
            where = Where(path, lineno)
            if lineno == 1 and cells[1].strip().lower() in {"count", "frequency"}:
                continue  # a header line
            add(as_text(cells[0], "query", where), as_int(cells[1], "count", where, minimum=0))
    return counts


def attach_frequencies(queries: dict[str, Query], log: dict[str, int]) -> dict[str, Query]:
    """Set each query's frequency from the log; a query absent from the log counts 0."""
    return {
        qid: Query(q.qid, q.text, log.get(normalize_query_text(q.text), 0), q.segment)
        for qid, q in queries.items()
    }


# --------------------------------------------------------------------------- loaders


def _resolve(path: str | None, base_dir: Path | None) -> Path | None:
    if path is None:
        return None
    resolved = Path(path).expanduser()
    if not resolved.is_absolute() and base_dir is not None:
        resolved = base_dir / resolved
    return resolved


def _require(value: Path | None, name: str, fmt: str) -> Path:
    if value is None:
        raise ValueError(f"data format {fmt!r} needs '{name}'")
    return value


def _reject_unused(spec: DatasetSpec, used: set[str]) -> None:
    """A path set but ignored by the format is a mistake worth reporting."""
    fields = {
        "path": spec.path,
        "candidates": spec.candidates,
        "queries": spec.queries,
        "corpus": spec.corpus,
        "qrels": spec.qrels,
    }
    unused = [name for name, value in fields.items() if value and name not in used]
    if unused:
        raise ValueError(f"data format {spec.format!r} does not use {unused}; remove them")


def _load_builtin(spec: DatasetSpec, base_dir: Path | None) -> RankingData:
    _reject_unused(spec, set())
    if spec.split not in ("train", "dev"):
        raise ValueError(f"the builtin dataset has splits 'train' and 'dev', not {spec.split!r}")
    return builtin_dataset(spec.split)  # type: ignore[arg-type]


def _load_rankllm(spec: DatasetSpec, base_dir: Path | None) -> RankingData:
    _reject_unused(spec, {"candidates", "qrels"})
    if not spec.candidates:
        raise ValueError("data format 'rankllm' needs 'candidates' (one or more JSON files)")
    data = read_rankllm([_resolve(p, base_dir) for p in spec.candidates])
    qrels_path = _resolve(spec.qrels, base_dir)
    data.qrels = None if qrels_path is None else read_qrels(qrels_path)
    return data


def _load_files(spec: DatasetSpec, base_dir: Path | None) -> RankingData:
    """``trec`` and ``jsonl``: separate query, corpus, run and qrels files."""
    _reject_unused(spec, {"queries", "corpus", "candidates", "qrels"})
    queries = read_queries(_require(_resolve(spec.queries, base_dir), "queries", spec.format))
    corpus = read_corpus(_require(_resolve(spec.corpus, base_dir), "corpus", spec.format))
    paths = [_resolve(p, base_dir) for p in spec.candidates]
    candidates = merge_runs([(p, read_run(p)) for p in paths if p is not None])
    qrels_path = _resolve(spec.qrels, base_dir)
    qrels = None if qrels_path is None else read_qrels(qrels_path)
    data = RankingData(queries, corpus, candidates, qrels)
    check_candidates(data)
    return data


def check_candidates(data: RankingData) -> None:
    """Every candidate's query and document must exist (else later stages fail obscurely)."""
    for qid, scores in data.candidates.items():
        if qid not in data.queries:
            raise ValueError(f"candidates name query {qid!r}, which is not among the queries")
        missing = [d for d in scores if d not in data.corpus]
        if missing:
            raise ValueError(
                f"candidates of query {qid!r} name {len(missing)} documents not in the corpus "
                f"(e.g. {missing[:3]})"
            )


def _load_beir(spec: DatasetSpec, base_dir: Path | None) -> RankingData:
    _reject_unused(spec, {"path"})
    return read_beir(_require(_resolve(spec.path, base_dir), "path", "beir"), spec.split)


def _load_irds(spec: DatasetSpec, base_dir: Path | None) -> RankingData:
    """An ``ir_datasets`` id; only documents that are candidates or judged are loaded."""
    _reject_unused(spec, {"path"})
    if not spec.path:
        raise ValueError("data format 'irds' needs 'path': an ir_datasets id")
    try:
        import ir_datasets
    except ImportError as exc:
        raise ImportError(
            "data format 'irds' needs the optional package ir_datasets "
            "(`pip install ir_datasets`; it downloads data, so it needs the internet)"
        ) from exc
    dataset = ir_datasets.load(spec.path)
    queries = {str(q.query_id): Query(str(q.query_id), q.text) for q in dataset.queries_iter()}
    qrels = None
    if dataset.has_qrels():
        qrels = {}
        for row in dataset.qrels_iter():
            qrels.setdefault(str(row.query_id), {})[str(row.doc_id)] = int(row.relevance)
    candidates: Run = {}
    if dataset.has_scoreddocs():
        for row in dataset.scoreddocs_iter():
            candidates.setdefault(str(row.query_id), {})[str(row.doc_id)] = float(row.score)
    needed = {d for run in (candidates, qrels or {}) for scores in run.values() for d in scores}
    store = dataset.docs_store()
    corpus = {
        docid: Document(docid, getattr(doc, "text", ""), getattr(doc, "title", None))
        for docid, doc in store.get_many(needed).items()
    }
    return RankingData(queries, corpus, candidates, qrels)


def _load_none(spec: DatasetSpec, base_dir: Path | None) -> RankingData:
    _reject_unused(spec, set())
    return RankingData({}, {}, {})


Loader = Callable[[DatasetSpec, Path | None], RankingData]
LOADERS: dict[str, Loader] = {
    "builtin": _load_builtin,
    "rankllm": _load_rankllm,
    "trec": _load_files,
    "jsonl": _load_files,
    "beir": _load_beir,
    "irds": _load_irds,
    "none": _load_none,
}


def load_dataset(spec: DatasetSpec, base_dir: Path | None = None) -> RankingData:
    """Load ``spec``: dispatch by format, keep the first ``max_queries`` queries, attach
    query-log frequencies when ``spec.query_log`` is set."""
    try:
        loader = LOADERS[spec.format]
    except KeyError:
        known = ", ".join(LOADERS)
        raise ValueError(f"unknown data format {spec.format!r} (known: {known})") from None
    data = loader(spec, base_dir)
    if spec.max_queries is not None:
        data = data.subset(list(data.queries)[: spec.max_queries])
    log_path = _resolve(spec.query_log, base_dir)
    if log_path is not None:
        data.queries = attach_frequencies(data.queries, read_query_log(log_path))
    return data


WRITE_FORMATS = ("rankllm", "trec", "jsonl")


def write_dataset(data: RankingData, to: str, out: str | Path, k: int | None = None) -> list[Path]:
    """Write ``data`` as ``to`` (rankllm, trec or jsonl) into folder ``out``.

    rankllm -> candidates.json (+ qrels.json); trec -> queries.tsv, corpus.tsv (+ run.trec,
    qrels.txt); jsonl -> queries.jsonl, corpus.jsonl (+ run.trec, qrels.txt).
    Returns the files written.
    """
    if to not in WRITE_FORMATS:
        raise ValueError(f"unknown output format {to!r} (known: {', '.join(WRITE_FORMATS)})")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    if to == "rankllm":
        if not data.candidates:
            raise ValueError(
                "the rank_llm format stores candidates, and this data has none "
                "(retrieve them first, e.g. `rankdistill retrieve`)"
            )
        written.append(write_rankllm(data, data.candidates, out / "candidates.json", k))
        if data.qrels is not None:
            written.append(write_qrels_json(data.qrels, out / "qrels.json"))
        return written
    if to == "trec":
        written += [
            write_queries_tsv(data.queries, out / "queries.tsv"),
            write_corpus_tsv(data.corpus, out / "corpus.tsv"),
        ]
    else:
        written += [
            write_queries_jsonl(data.queries, out / "queries.jsonl"),
            write_corpus_jsonl(data.corpus, out / "corpus.jsonl"),
        ]
    if data.candidates:
        written.append(write_trec_run(data.candidates, out / "run.trec"))
    if data.qrels is not None:
        written.append(write_trec_qrels(data.qrels, out / "qrels.txt"))
    return written


__all__ = [
    "LOADERS",
    "attach_frequencies",
    "load_dataset",
    "read_corpus",
    "read_queries",
    "read_query_log",
    "read_run",
    "write_dataset",
]
