"""CLI: ``rankdistill teacher cpt|sft|score`` — the DisRanker fine-tuned LLM teacher.

::

    rankdistill teacher cpt   --clicks clicks.jsonl --out runs/t/cpt
    rankdistill teacher sft   --data train.json --labels labels.jsonl --cpt runs/t/cpt \
        --out runs/t/sft
    rankdistill teacher score --teacher runs/t/sft --data train.json --out teacher.jsonl \
        --shard 0/4
    rankdistill teacher score --out teacher.jsonl --merge 4
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer

from rankdistill.cli.help import HelpCommand, HelpGroup
from rankdistill.cli.options import (
    DataFormatOption,
    DeviceOption,
    MaxQueriesOption,
    MaxStepsOption,
    add_options,
    config_option,
    data_files_option,
    load_data_option,
    qrels_option,
    set_option,
)

if TYPE_CHECKING:
    from rankdistill.data.records import Qrels, RankingData
    from rankdistill.teachers.config import TeacherConfig

Command = Callable[..., None]
DATA_HELP = "Data: rank_llm JSON file(s) (repeatable) or one BEIR folder."

teacher_app = typer.Typer(
    cls=HelpGroup,
    help="DisRanker LLM teacher: continued pre-training on clicks, rank-loss SFT, scoring.",
    no_args_is_help=True,
)


def teacher_config(config: str | None, overrides: list[str]) -> TeacherConfig:
    """The ``teacher`` section of a run config (or the defaults) with ``--set`` applied."""
    from rankdistill.config import load_section

    return load_section(config, "teacher", overrides)


def _relevance(data: RankingData, labels: Path | None) -> Qrels:
    if labels is not None:
        from rankdistill.labeling.grading import grades_from_labels
        from rankdistill.labeling.store import read_labels

        return grades_from_labels(read_labels(labels))
    if data.qrels is None:
        raise typer.BadParameter("need --labels or qrels with the data (--qrels)")
    return data.qrels


# Options shared by the commands.
DataOption = Annotated[list[Path], data_files_option(DATA_HELP)]
QrelsOption = Annotated[Path | None, qrels_option("Graded qrels for --data (JSON or TREC).")]
# The options of the training commands (cpt, sft), in their order on the command line.
_TRAINING_OPTIONS = (
    ("max_queries", MaxQueriesOption, None),
    ("max_steps", MaxStepsOption, None),
    ("config", Annotated[str | None, config_option("teacher")], None),
    ("overrides", Annotated[list[str], set_option("sft.margin=0.5")], []),
    ("device", DeviceOption, "auto"),
)


def _with_training_options(stage: Literal["cpt", "sft"]) -> Callable[[Command], Command]:
    """The training options in place of the command's ``cfg`` (the teacher section with
    ``--set`` and ``--max-steps`` for ``stage`` applied), ``max_queries`` and ``device``."""

    def build(
        max_queries: int | None,
        max_steps: int | None,
        config: str | None,
        overrides: list[str],
        device: str,
    ) -> dict[str, Any]:
        cfg = teacher_config(config, overrides)
        if max_steps is not None:
            getattr(cfg, stage).max_steps = max_steps
        return {"cfg": cfg, "max_queries": max_queries, "device": device}

    def decorate(command: Command) -> Command:
        return add_options(command, ("cfg", "max_queries", "device"), _TRAINING_OPTIONS, build)

    return decorate


@teacher_app.command("cpt", cls=HelpCommand)
@_with_training_options("cpt")
def cpt(
    out: Path = typer.Option(..., "--out", help="Output folder (adapter/, model/, cpt.json)."),
    clicks: Path | None = typer.Option(
        None,
        "--clicks",
        help="Click log (JSONL/TSV). Without it, clicks are simulated from --data.",
    ),
    data: DataOption = [],  # noqa: B006 (typer)
    data_format: DataFormatOption = "rankllm",
    qrels: QrelsOption = None,
    labels: Path | None = typer.Option(
        None, "--labels", help="Teacher label store whose grades drive the click simulation."
    ),
    sessions: int = typer.Option(50, "--sessions", help="Simulated sessions per query."),
    *,
    cfg: TeacherConfig,
    max_queries: int | None,
    device: str,
) -> None:
    """Continued pre-training: `query -> clicked title + summary`, loss on the target only."""
    from rankdistill.teachers.cpt import build_cpt_examples, run_cpt

    corpus = None
    if clicks is not None:
        from rankdistill.data.clicks import read_click_log

        records = read_click_log(clicks)
        if data:
            corpus = load_data_option(data_format, data, qrels, max_queries=max_queries).corpus
    else:
        from rankdistill.data.clicks import simulate_clicks
        from rankdistill.data.records import RankingData

        ranking = load_data_option(data_format, data, qrels, max_queries=max_queries)
        graded = RankingData(
            ranking.queries, ranking.corpus, ranking.candidates, _relevance(ranking, labels)
        )
        records = simulate_clicks(graded, sessions_per_query=sessions, seed=cfg.seed, progress=True)
        corpus = ranking.corpus
    examples = build_cpt_examples(records, corpus, min_clicks=cfg.cpt.min_clicks)
    typer.echo(f"CPT on {len(examples)} clicked (query, result) pairs")
    path = run_cpt(cfg, examples, out, device=device)
    typer.echo(f"CPT model written to {path}")


@teacher_app.command("sft", cls=HelpCommand)
@_with_training_options("sft")
def sft(
    out: Path = typer.Option(
        ..., "--out", help="Output folder (adapter/, score head, teacher.json)."
    ),
    data: DataOption = [],  # noqa: B006 (typer)
    data_format: DataFormatOption = "rankllm",
    qrels: QrelsOption = None,
    labels: Path | None = typer.Option(
        None, "--labels", help="Label store to train on (default: the qrels of --data)."
    ),
    cpt_dir: Path | None = typer.Option(None, "--cpt", help="Start from this CPT output folder."),
    *,
    cfg: TeacherConfig,
    max_queries: int | None,
    device: str,
) -> None:
    """Fine-tune the LLM ranker (end-token score head) with a rank loss."""
    from rankdistill.teachers.sft import run_sft

    ranking = load_data_option(data_format, data, qrels, max_queries=max_queries)
    target: Any
    if labels is not None:
        from rankdistill.labeling.store import read_labels

        target = read_labels(labels)
    else:
        target = _relevance(ranking, None)
    path = run_sft(cfg, target, ranking, out, init=cpt_dir, device=device)
    typer.echo(f"teacher written to {path}")


@teacher_app.command("score", cls=HelpCommand)
def score(
    out: Path = typer.Option(..., "--out", help="Label store to write (JSONL of LabelRecord)."),
    teacher: Path | None = typer.Option(
        None, "--teacher", help="Fine-tuned teacher folder (from `sft`)."
    ),
    data: DataOption = [],  # noqa: B006 (typer)
    data_format: DataFormatOption = "rankllm",
    k: int | None = typer.Option(
        None, "--k", help="Score only the top-k candidates (default: all)."
    ),
    batch_size: int = typer.Option(16, "--batch-size", help="Pairs per forward pass."),
    shard: str = typer.Option(
        "0/1", "--shard", help="i/n: score the queries of shard i of n (one process each)."
    ),
    merge: int | None = typer.Option(
        None, "--merge", help="Only merge the N shard files of --out into --out, then exit."
    ),
    max_queries: MaxQueriesOption = None,
    device: DeviceOption = "auto",
) -> None:
    """Score (query, candidate) pairs with the teacher; resumable, shardable."""
    from rankdistill.teachers.scoring import merge_shards, parse_shard, score_pairs

    if merge is not None:
        typer.echo(f"merged into {merge_shards(out, merge)}")
        return
    if teacher is None:
        raise typer.BadParameter("required unless --merge is given", param_hint="--teacher")
    try:
        shard_spec = parse_shard(shard)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--shard") from exc
    from rankdistill.teachers.sft import LLMTeacherScorer

    ranking = load_data_option(data_format, data, None, max_queries=max_queries)
    scorer = LLMTeacherScorer.from_dir(teacher, device=device, batch_size=batch_size)
    path = score_pairs(scorer, ranking, out, k=k, batch_size=batch_size, shard=shard_spec)
    typer.echo(f"teacher scores in {path}")


def register(app: typer.Typer) -> None:
    """Add the ``teacher`` sub-app to the main app."""
    app.add_typer(teacher_app, name="teacher")
