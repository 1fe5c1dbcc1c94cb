"""CLI: ``rankdistill retrieve`` — BM25 first-stage retrieval over a corpus."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from rankdistill.cli.help import HelpCommand

if TYPE_CHECKING:
    from rankdistill.data.records import Document, Query

CORPUS_FORMATS = ("auto", "rankllm", "jsonl", "tsv", "beir")


def _corpus_format(path: Path, declared: str) -> str:
    if declared != "auto":
        return declared
    if path.is_dir():
        return "beir"
    by_suffix = {".json": "rankllm", ".jsonl": "jsonl", ".tsv": "tsv"}
    if path.suffix in by_suffix:
        return by_suffix[path.suffix]
    raise typer.BadParameter(
        f"cannot tell the format of {path} from its name; pass --corpus-format "
        f"({', '.join(CORPUS_FORMATS[1:])})"
    )


def read_queries_file(path: Path) -> dict[str, Query]:
    """Queries from rank_llm JSON (``.json``), else JSONL or TSV (``qid<TAB>text``)."""
    from rankdistill.data.loading import read_queries
    from rankdistill.data.rankllm import read_rankllm

    if path.suffix == ".json":
        return read_rankllm(path).queries
    return read_queries(path)


def load_collection(
    corpus_paths: list[Path], corpus_format: str, queries_path: Path | None, beir_split: str
) -> tuple[dict[str, Query], dict[str, Document]]:
    """(queries, corpus) from the corpus file(s) and the optional queries file."""
    from rankdistill.data.beir import read_beir
    from rankdistill.data.loading import read_corpus
    from rankdistill.data.rankllm import read_rankllm

    fmt = _corpus_format(corpus_paths[0], corpus_format)
    if fmt != "rankllm" and len(corpus_paths) > 1:
        raise typer.BadParameter(f"several --corpus paths are only accepted for rankllm, not {fmt}")
    queries: dict[str, Query] = {}
    if fmt == "rankllm":
        # The union of every query's candidate passages is the collection.
        data = read_rankllm(corpus_paths)
        queries, corpus = data.queries, data.corpus
    elif fmt == "beir":
        data = read_beir(corpus_paths[0], split=beir_split)
        queries, corpus = data.queries, data.corpus
    else:  # JSONL or TSV, told apart by the content
        corpus = read_corpus(corpus_paths[0])
    if queries_path is not None:
        queries = read_queries_file(queries_path)
    if not queries:
        raise typer.BadParameter("no queries: pass --queries (this corpus format has none)")
    return queries, corpus


def retrieve(
    corpus: list[Path] = typer.Option(
        ...,
        "--corpus",
        "-c",
        metavar="PATH",
        help="Corpus: rank_llm JSON (candidate texts form the collection; repeatable), "
        "JSONL/TSV passages, or a BEIR folder.",
    ),
    corpus_format: str = typer.Option(
        "auto",
        "--corpus-format",
        metavar="FORMAT",
        help=f"One of {', '.join(CORPUS_FORMATS)} (auto: by suffix).",
    ),
    queries: Path | None = typer.Option(
        None,
        "--queries",
        "-q",
        help="Queries (.jsonl, .tsv or rank_llm .json); default: those of the corpus file.",
    ),
    beir_split: str = typer.Option(
        "test", "--beir-split", metavar="SPLIT", help="BEIR qrels split naming the queries."
    ),
    out_trec: Path | None = typer.Option(
        None, "--out-trec", help="Write the run in TREC format here."
    ),
    out_json: Path | None = typer.Option(
        None, "--out-json", help="Write the run as rank_llm JSON (with passage texts) here."
    ),
    k: int | None = typer.Option(
        None, "--k", "-k", help="Documents retrieved per query (default: retrieval.k)."
    ),
    k1: float | None = typer.Option(None, "--k1", help="BM25 k1 (default: retrieval.k1)."),
    b: float | None = typer.Option(None, "--b", help="BM25 b (default: retrieval.b)."),
    variant: str | None = typer.Option(
        None,
        "--variant",
        help="bm25s variant: lucene, robertson, atire, bm25l, bm25+ (default: "
        "retrieval.bm25_variant).",
    ),
    stemmer: str | None = typer.Option(
        None,
        "--stemmer",
        help="PyStemmer language, or 'none' to disable stemming (default: retrieval.stemmer).",
    ),
    stopwords: str | None = typer.Option(
        None,
        "--stopwords",
        help="bm25s stopword list (en, de, ...), or 'none' (default: retrieval.stopwords).",
    ),
    index_dir: Path | None = typer.Option(
        None,
        "--index-dir",
        help="Save the index here; if it already holds one, load it instead of re-indexing.",
    ),
    tag: str = typer.Option("bm25", "--tag", help="Run tag written in the TREC file."),
) -> None:
    """Retrieve the top-k documents per query with BM25 (bm25s) and write the run."""
    from rankdistill.data.rankllm import write_rankllm
    from rankdistill.data.records import RankingData
    from rankdistill.data.trec import write_trec_run
    from rankdistill.retrieval.bm25 import META_FILE, BM25Retriever
    from rankdistill.retrieval.config import RetrievalConfig

    if out_trec is None and out_json is None:
        raise typer.BadParameter("nothing to write: pass --out-trec and/or --out-json")
    flags = {"k": k, "k1": k1, "b": b, "bm25_variant": variant}
    settings: dict[str, object] = {f: v for f, v in flags.items() if v is not None}
    for field, value in (("stemmer", stemmer), ("stopwords", stopwords)):
        if value is not None:  # not given: the config default
            settings[field] = None if value.lower() == "none" else value
    config = RetrievalConfig(method="bm25", **settings)
    query_map, documents = load_collection(corpus, corpus_format, queries, beir_split)
    if index_dir is not None and (index_dir / META_FILE).is_file():
        retriever = BM25Retriever.load(index_dir)
        if retriever.config != config:
            typer.secho(
                f"note: using the settings saved with {index_dir}, not the options given",
                fg="yellow",
                err=True,
            )
    else:
        retriever = BM25Retriever(config).index(documents)
        if index_dir is not None:
            retriever.save(index_dir)
    run = retriever.retrieve(query_map, config.k)
    if out_trec is not None:
        typer.echo(f"wrote {write_trec_run(run, out_trec, tag=tag)}")
    if out_json is not None:
        data = RankingData(queries=query_map, corpus=documents, candidates=run)
        typer.echo(f"wrote {write_rankllm(data, run, out_json)}")
    typer.echo(f"{len(run)} queries, {len(documents)} documents indexed, k={config.k}")


def register(app: typer.Typer) -> None:
    """Add this module's commands to the main app."""
    app.command("retrieve", cls=HelpCommand)(retrieve)
