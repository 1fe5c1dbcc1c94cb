"""CLI: ``rankdistill evaluate`` — metrics, per-segment tables, significance and plots."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from rankdistill.cli.help import HelpCommand

if TYPE_CHECKING:
    from rankdistill.data.records import Run

DEFAULT_METRICS = "nDCG@10 RR(rel=2)@10 AP(rel=2) R@100 PNR"
RUNS_HELP = "Run files (TREC or rank_llm JSON), optionally NAME=PATH. The first is the baseline."
QRELS_HELP = "Qrels: TREC (qid 0 docid rel) or JSON."
METRICS_HELP = "Space-separated ir-measures strings, plus PNR and PNR@k."
SEGMENTS_HELP = "JSON qid -> segment (or the pipeline's {split: {qid: segment}})."
SPLIT_HELP = "Split to read from a nested segments file (default: dev)."
QUERIES_HELP = "Queries (.jsonl, .tsv, rank_llm .json) to segment by word count (--length-buckets)."
BUCKETS_HELP = "Word-count bucket edges used with --queries."
BASELINE_HELP = "Run name the others are tested against (default: the first)."
TEST_HELP = "Paired significance test: ttest, wilcoxon or permutation."
TIES_HELP = "PNR score ties: half, ignore or discordant."
MISSING_HELP = "Judged queries absent from a run: ignore (trec_eval) or zero (trec_eval -c)."
OUT_HELP = "Write eval.json, eval.md and the plots into this folder (default: print only)."
JSON_HELP = "Print the results as JSON instead of a table."


def split_run_argument(argument: str) -> tuple[str, Path]:
    """``NAME=PATH`` -> (NAME, PATH); a bare path is named after its file stem."""
    if "=" in argument and not Path(argument).exists():
        name, path = argument.split("=", 1)
        return name, Path(path)
    return Path(argument).stem, Path(argument)


def read_run_file(path: Path) -> Run:
    """A TREC run, or rank_llm JSON (its candidates with their scores)."""
    from rankdistill.data.loading import read_run

    return read_run(path)  # a missing file is a one-line error, as for --qrels


def read_segments(path: Path, split: str | None) -> dict[str, str]:
    """qid -> segment from ``{qid: segment}`` or the pipeline's ``{split: {qid: segment}}``."""
    from rankdistill.data.errors import DataFormatError

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DataFormatError(path, f"invalid JSON: {exc.msg}", line=exc.lineno) from exc
    if not isinstance(data, dict):
        raise typer.BadParameter(f"{path}: expected a JSON object of qid -> segment")
    if data and all(isinstance(v, dict) for v in data.values()):
        key = split or ("dev" if "dev" in data else next(iter(data)))
        if key not in data:
            raise typer.BadParameter(f"{path}: no split {key!r} (has {', '.join(data)})")
        data = data[key]
    bad = [q for q, v in data.items() if not isinstance(v, str)]
    if bad:
        raise typer.BadParameter(f"{path}: segment of query {bad[0]!r} is not a string")
    return {str(q): v for q, v in data.items()}


def _unique_names(arguments: list[str]) -> dict[str, Path]:
    runs: dict[str, Path] = {}
    for argument in arguments:
        name, path = split_run_argument(argument)
        if name in runs:
            name = str(path)
        if name in runs:
            raise typer.BadParameter(f"run {argument!r} is given twice")
        runs[name] = path
    return runs


def evaluate(
    runs: Annotated[list[str], typer.Argument(metavar="RUN...", help=RUNS_HELP)],
    qrels: Annotated[Path, typer.Option("--qrels", metavar="PATH", help=QRELS_HELP)],
    metrics: Annotated[
        str, typer.Option("--metrics", "-m", metavar="'METRIC ...'", help=METRICS_HELP)
    ] = DEFAULT_METRICS,
    segments: Annotated[Path | None, typer.Option(metavar="PATH", help=SEGMENTS_HELP)] = None,
    segment_split: Annotated[str | None, typer.Option(metavar="SPLIT", help=SPLIT_HELP)] = None,
    queries: Annotated[Path | None, typer.Option(metavar="PATH", help=QUERIES_HELP)] = None,
    length_buckets: Annotated[str, typer.Option(metavar="N,N,...", help=BUCKETS_HELP)] = "3,5,8",
    baseline: Annotated[str | None, typer.Option(metavar="NAME", help=BASELINE_HELP)] = None,
    test: Annotated[str, typer.Option(metavar="TEST", help=TEST_HELP)] = "ttest",
    pnr_ties: Annotated[str, typer.Option(metavar="MODE", help=TIES_HELP)] = "half",
    missing_queries: Annotated[
        str, typer.Option(metavar="[ignore|zero]", help=MISSING_HELP)
    ] = "ignore",
    out: Annotated[Path | None, typer.Option("--out", "-o", metavar="PATH", help=OUT_HELP)] = None,
    as_json: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False,
) -> None:
    """Evaluate runs against qrels and print a table; with --out, also write JSON, Markdown
    and plots."""
    from rich.console import Console

    from rankdistill.data.qrels import read_qrels
    from rankdistill.evaluation.metrics import (
        PNR_TIE_MODES,
        UnknownMetricError,
        evaluate_run,
        parse_metrics,
    )
    from rankdistill.evaluation.report import (
        plot_score_distributions,
        render_rich_table,
        report_dict,
        write_eval_outputs,
    )
    from rankdistill.evaluation.reporting.comparisons import compare_with_baseline
    from rankdistill.evaluation.segments import per_segment
    from rankdistill.evaluation.significance import TEST_METHODS

    _check_choice("--test", test, TEST_METHODS)
    _check_choice("--pnr-ties", pnr_ties, PNR_TIE_MODES)
    _check_choice("--missing-queries", missing_queries, ("ignore", "zero"))
    try:
        parse_metrics(metrics)
    except UnknownMetricError as exc:
        raise typer.BadParameter(str(exc)) from exc
    judgments = read_qrels(qrels)
    run_paths = _unique_names(runs)
    if baseline is not None and baseline not in run_paths:
        raise typer.BadParameter(f"--baseline {baseline!r} is not one of: {', '.join(run_paths)}")
    loaded = {name: read_run_file(path) for name, path in run_paths.items()}
    results = {
        name: evaluate_run(
            run, judgments, metrics, pnr_ties=pnr_ties, missing_queries=missing_queries
        )
        for name, run in loaded.items()
    }
    segment_of = _segment_map(segments, segment_split, queries, length_buckets)
    base = baseline or next(iter(results))
    comparisons = (
        compare_with_baseline(results, baseline=base, method=test) if len(results) > 1 else {}
    )
    paths: dict[str, Path] = {}
    if out is not None:
        paths = write_eval_outputs(
            results, out, segments=segment_of, baseline=base, comparisons=comparisons
        )
        scores_png = out / "score_distributions.png"
        paths["scores"] = plot_score_distributions(loaded, judgments, scores_png)
    if as_json:
        tables = {n: per_segment(r, segment_of) for n, r in results.items()} if segment_of else None
        typer.echo(json.dumps(_jsonable(report_dict(results, comparisons, tables, base)), indent=2))
        return
    console = Console()
    console.print(render_rich_table(results, comparisons, title=f"evaluation ({qrels.name})"))
    for kind, path in paths.items():
        console.print(f"[dim]{kind}:[/] {path}")


def _check_choice(option: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise typer.BadParameter(f"{option} must be one of {', '.join(choices)}, got {value!r}")


def _segment_map(
    segments: Path | None, split: str | None, queries: Path | None, length_buckets: str
) -> dict[str, str] | None:
    if segments is not None and queries is not None:
        raise typer.BadParameter("give --segments or --queries (length buckets), not both")
    if segments is not None:
        return read_segments(segments, split)
    if queries is not None:
        from rankdistill.cli.retrieve import read_queries_file
        from rankdistill.evaluation.segments import length_segments

        try:
            edges = [int(x) for x in length_buckets.split(",") if x.strip()]
        except ValueError as exc:
            raise typer.BadParameter(f"--length-buckets {length_buckets!r}: not integers") from exc
        return length_segments(read_queries_file(queries), edges)
    return None


def _jsonable(value: Any) -> Any:
    """Replace nan/inf (not valid JSON) by null, recursively."""
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


def register(app: typer.Typer) -> None:
    """Add this module's commands to the main app."""
    app.command("evaluate", cls=HelpCommand)(evaluate)
