"""CLI: `rankdistill data ...`: convert formats, show statistics, select long-tail queries,
simulate click logs.

Every command reads its input the way a config's ``data.train`` / ``data.dev`` section
does (``--format`` plus the paths that format needs), through
:func:`rankdistill.data.loading.load_dataset`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal, get_args

import typer

from rankdistill.cli.help import HelpCommand, HelpGroup
from rankdistill.cli.options import add_options
from rankdistill.data.config import DataFormat as InputFormat
from rankdistill.data.config import SelectionConfig
from rankdistill.data.records import RankingData

OutputFormat = Literal["rankllm", "trec", "jsonl"]
SegmentName = Literal["head", "torso", "tail"]

data_app = typer.Typer(
    cls=HelpGroup,
    name="data",
    help="Inspect and prepare data: convert formats, statistics, long-tail selection, clicks.",
    no_args_is_help=True,
)

CANDIDATES_HELP = (
    "Candidate file(s): rank_llm JSON (rankllm) or a TREC run (trec/jsonl). Repeatable."
)
CORPUS_HELP = "Corpus file: JSONL, or TSV docid<TAB>text (or docid<TAB>title<TAB>text)."
QUERY_LOG_HELP = "Query log with frequencies: TSV query<TAB>count or JSONL."

# Input options shared by every command (one OptionInfo per option, reused).
FORMAT_OPT = typer.Option(
    "builtin", "--format", "-f", metavar="FORMAT", help="Input format (builtin: the demo data)."
)
PATH_OPT = typer.Option(
    None, "--path", metavar="PATH|ID", help="BEIR folder (beir) or ir_datasets id (irds)."
)


def _file_option(*names: str, help: str) -> Any:
    """An input file option, not given by default."""
    return typer.Option(None, *names, metavar="PATH", help=help)


CANDIDATES_OPT = _file_option("--candidates", "-c", help=CANDIDATES_HELP)
QUERIES_OPT = _file_option("--queries", help="Queries file: TSV qid<TAB>text or JSONL.")
CORPUS_OPT = _file_option("--corpus", help=CORPUS_HELP)
QRELS_OPT = _file_option("--qrels", help="Qrels: JSON {qid: {docid: grade}}, TREC or BEIR TSV.")
SPLIT_OPT = typer.Option(
    "dev", "--split", help="Split: train/dev for builtin, qrels split for BEIR."
)
MAX_QUERIES_OPT = typer.Option(
    None, "--max-queries", metavar="N", help="Keep only the first N queries."
)
QUERY_LOG_OPT = _file_option("--query-log", help=QUERY_LOG_HELP)
# Selection options.
# Not given (None): the default of rankdistill.data.config.SelectionConfig.
BY_OPT = typer.Option(
    None,
    "--by",
    metavar="RULE",
    help="Segment by frequency, by length, or auto (frequency if known; default: auto).",
)
HEAD_PCT_OPT = typer.Option(
    None, "--head-percentile", help="Frequency percentile rank at/above which a query is head."
)
TAIL_PCT_OPT = typer.Option(
    None, "--tail-percentile", help="Frequency percentile rank below which a query is tail."
)
TAIL_WORDS_OPT = typer.Option(
    None, "--tail-min-words", help="A query of at least this many words is tail."
)
HEAD_WORDS_OPT = typer.Option(
    None, "--head-max-words", help="Length rule: at most this many words is head."
)


@contextmanager
def _exit_on(*errors: type[Exception]) -> Iterator[None]:
    """Turn the given errors into a red ``error: ...`` line and exit status 2."""
    try:
        yield
    except errors as exc:
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from exc


DataLoader = Callable[[], RankingData]
SelectionFlags = Callable[..., SelectionConfig]

# The input options every command takes, in their order on the command line.
_INPUT_OPTIONS = (
    ("fmt", InputFormat, FORMAT_OPT),
    ("path", str | None, PATH_OPT),
    ("candidates", list[str] | None, CANDIDATES_OPT),
    ("queries", str | None, QUERIES_OPT),
    ("corpus", str | None, CORPUS_OPT),
    ("qrels", str | None, QRELS_OPT),
    ("split", str, SPLIT_OPT),
    ("max_queries", int | None, MAX_QUERIES_OPT),
    ("query_log", str | None, QUERY_LOG_OPT),
)
_SELECTION_OPTIONS = (
    ("by", Literal["auto", "frequency", "length"] | None, BY_OPT),
    ("head_percentile", float | None, HEAD_PCT_OPT),
    ("tail_percentile", float | None, TAIL_PCT_OPT),
    ("tail_min_words", int | None, TAIL_WORDS_OPT),
    ("head_max_words", int | None, HEAD_WORDS_OPT),
)


def _load(fmt: str, candidates: list[str] | None, **spec_fields: Any) -> RankingData:
    """Build a DatasetSpec from the input options (``spec_fields``: its other fields, by
    name) and load it; bad input exits with its message."""
    from rankdistill.data.config import DatasetSpec
    from rankdistill.data.loading import load_dataset

    spec = DatasetSpec(format=fmt, candidates=candidates or [], **spec_fields)
    with _exit_on(ValueError, FileNotFoundError, ImportError):
        return load_dataset(spec, base_dir=Path.cwd())


def _with_input_options(command: Callable[..., None]) -> Callable[..., None]:
    """The input options in place of ``load_data``, a function that loads the dataset they
    name (called when the command is ready to read, so its own flags are checked first)."""
    return add_options(
        command,
        ("load_data",),
        _INPUT_OPTIONS,
        lambda **values: {"load_data": functools.partial(_load, **values)},
    )


def _with_selection_options(command: Callable[..., None]) -> Callable[..., None]:
    """The selection options in place of ``selection``, a function from the segments to
    keep (None: all) to the :class:`SelectionConfig` the flags ask for."""
    return add_options(
        command,
        ("selection",),
        _SELECTION_OPTIONS,
        lambda **values: {"selection": functools.partial(_selection, **values)},
    )


def _selection(
    by: str | None,
    head_percentile: float | None,
    tail_percentile: float | None,
    tail_min_words: int | None,
    head_max_words: int | None,
    keep: list[str] | None = None,
) -> SelectionConfig:
    """The selection settings given as flags; the others keep SelectionConfig's defaults."""
    given = {
        "by": by,
        "head_percentile": head_percentile,
        "tail_percentile": tail_percentile,
        "tail_min_words": tail_min_words,
        "head_max_words": head_max_words,
        "keep_segments": keep or None,
    }
    return SelectionConfig(**{k: v for k, v in given.items() if v is not None})


@data_app.command("convert", cls=HelpCommand)
@_with_input_options
def convert(
    to: OutputFormat = typer.Option(..., "--to", metavar="FORMAT", help="Output format."),
    out: Path = typer.Option(..., "--out", "-o", help="Output folder (created if missing)."),
    k: int | None = typer.Option(
        None, "--k", help="rankllm output: keep the top-k candidates per query."
    ),
    *,
    load_data: DataLoader,  # from the input options
) -> None:
    """Convert a dataset between formats (rank_llm JSON, TREC run/qrels + TSV, JSONL).

    Writes into --out: rankllm -> candidates.json (+ qrels.json); trec -> queries.tsv,
    corpus.tsv (+ run.trec, qrels.txt); jsonl -> queries.jsonl, corpus.jsonl
    (+ run.trec, qrels.txt).
    """
    from rankdistill.data.loading import write_dataset

    data = load_data()
    with _exit_on(ValueError):
        written = write_dataset(data, to, out, k)
    for file in written:
        typer.echo(str(file))


@data_app.command("stats", cls=HelpCommand)
@_with_input_options
@_with_selection_options
def stats(
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
    *,
    selection: SelectionFlags,  # from the selection options
    load_data: DataLoader,  # from the input options
) -> None:
    """Queries, documents, candidates per query, qrels grade histogram, segment counts."""
    import json

    from rankdistill.data.stats import dataset_stats

    data = load_data()
    cfg = selection()
    with _exit_on(ValueError):
        result = dataset_stats(data, cfg)
    if as_json:
        typer.echo(json.dumps(result, indent=2))
        return
    _print_stats_table(result)


def _print_stats_table(result: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="dataset statistics", show_header=True)
    table.add_column("statistic")
    table.add_column("value", justify="right")

    def add_rows(prefix: str, node: dict) -> None:
        for key, value in node.items():
            name = f"{prefix}{key}"
            if isinstance(value, dict):
                add_rows(f"{name}.", value)
            else:
                table.add_row(name, str(value))

    add_rows("", result)
    Console().print(table)


@data_app.command("select", cls=HelpCommand)
@_with_input_options
@_with_selection_options
def select(
    out: Path = typer.Option(
        ..., "--out", "-o", help="Output JSONL of the kept queries, with 'segment'."
    ),
    keep: list[str] | None = typer.Option(
        None,
        "--keep",
        metavar="SEGMENT",
        help="Segment to keep (repeatable; default: all). RRADistill: --keep tail.",
    ),
    *,
    selection: SelectionFlags,  # from the selection options
    load_data: DataLoader,  # from the input options
) -> None:
    """Assign head / torso / tail segments and write the kept queries as JSONL."""
    from collections import Counter

    from rankdistill.data.jsonl import write_queries_jsonl
    from rankdistill.data.selection import select_queries

    bad = [s for s in keep or [] if s not in get_args(SegmentName)]
    if bad:
        raise typer.BadParameter(f"{bad}: segments are head, torso, tail", param_hint="--keep")
    data = load_data()
    cfg = selection(keep=list(keep) if keep else None)
    with _exit_on(ValueError):
        everything = select_queries(data.queries, cfg.model_copy(update={"enabled": False}))
    kept = {q: v for q, v in everything.items() if v.segment in cfg.keep_segments}
    write_queries_jsonl(kept, out)
    counts = Counter(q.segment for q in everything.values())
    typer.echo(
        f"segments: head={counts['head']} torso={counts['torso']} tail={counts['tail']}; "
        f"kept {len(kept)} of {len(everything)} queries -> {out}"
    )


@data_app.command("simulate-clicks", cls=HelpCommand)
@_with_input_options
def simulate_clicks_command(
    out: Path = typer.Option(..., "--out", "-o", help="Click log to write (.jsonl, else TSV)."),
    run: Path | None = typer.Option(
        None,
        "--run",
        help="Ranking shown to users (TREC run or rank_llm JSON); default: the candidates.",
    ),
    model: Literal["pbm", "cascade"] = typer.Option(
        "pbm", "--model", help="Click model: position-based or cascade."
    ),
    sessions: int = typer.Option(
        50, "--sessions", help="Simulated sessions (impressions) per query."
    ),
    depth: int = typer.Option(10, "--depth", help="Results shown per session."),
    seed: int = typer.Option(0, "--seed", help="Random seed."),
    eta: float = typer.Option(
        1.0, "--eta", help="PBM position-bias exponent: P(examine rank r) = (1/r)^eta."
    ),
    *,
    load_data: DataLoader,  # from the input options
) -> None:
    """Simulate a position-biased click log from graded qrels (for DisRanker's CPT stage)."""
    from rankdistill.data.clicks import simulate_clicks, write_click_log
    from rankdistill.data.loading import read_run

    data = load_data()
    with _exit_on(ValueError, FileNotFoundError):
        ranking = None if run is None else read_run(run)
        records = simulate_clicks(
            data,
            ranking,
            model=model,
            sessions_per_query=sessions,
            depth=depth,
            seed=seed,
            eta=eta,
            progress=True,
        )
    write_click_log(records, out)
    clicks = sum(r.clicks for r in records)
    impressions = sum(r.impressions for r in records)
    typer.echo(f"{len(records)} rows, {clicks} clicks / {impressions} impressions -> {out}")


def register(app: typer.Typer) -> None:
    """Add this module's commands to the main app."""
    app.add_typer(data_app, name="data")
