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
from typing import TYPE_CHECKING, Any, Literal

import typer

from rankdistill.cli.options import add_options

if TYPE_CHECKING:
    from rankdistill.data.records import Qrels, RankingData
    from rankdistill.teachers.config import TeacherConfig

DATA_FORMATS = ("rankllm", "beir", "builtin")
Command = Callable[..., None]

teacher_app = typer.Typer(
    help="DisRanker LLM teacher: continued pre-training on clicks, rank-loss SFT, scoring.",
    no_args_is_help=True,
)


def teacher_config(config: str | None, overrides: list[str]) -> TeacherConfig:
    """The ``teacher`` section of a run config (or the defaults) with ``--set`` applied."""
    from rankdistill.config import load_section

    return load_section(config, "teacher", overrides)


def load_data(
    fmt: str, paths: list[Path], qrels: Path | None, max_queries: int | None
) -> RankingData:
    """Queries, corpus and candidates from rank_llm JSON files, a BEIR folder or the demo."""
    from rankdistill.data.config import DatasetSpec
    from rankdistill.data.loading import load_dataset

    if fmt not in DATA_FORMATS:
        raise typer.BadParameter(
            f"must be one of {', '.join(DATA_FORMATS)}", param_hint="--data-format"
        )
    if fmt == "rankllm":
        if not paths:
            raise typer.BadParameter("give rank_llm JSON file(s)", param_hint="--data")
        spec = DatasetSpec(
            format="rankllm",
            candidates=[str(p) for p in paths],
            qrels=None if qrels is None else str(qrels),
            max_queries=max_queries,
        )
    elif fmt == "beir":
        if len(paths) != 1:
            raise typer.BadParameter("give one BEIR folder", param_hint="--data")
        spec = DatasetSpec(format="beir", path=str(paths[0]), max_queries=max_queries)
    else:
        spec = DatasetSpec(format="builtin", max_queries=max_queries)
    return load_dataset(spec)


def _relevance(data: RankingData, labels: Path | None) -> Qrels:
    if labels is not None:
        from rankdistill.labeling.grading import grades_from_labels
        from rankdistill.labeling.store import read_labels

        return grades_from_labels(read_labels(labels))
    if data.qrels is None:
        raise typer.BadParameter("need --labels or qrels with the data (--qrels)")
    return data.qrels


# Options shared by the commands.
CONFIG_OPT = typer.Option(
    None, "--config", help="Run config YAML (or shipped name); uses its `teacher` section."
)
SET_OPT = typer.Option(
    [], "--set", help="Override a teacher setting, e.g. --set sft.margin=0.5 (repeatable)."
)
DATA_OPT = typer.Option(
    [], "--data", help="Data: rank_llm JSON file(s) (repeatable) or one BEIR folder."
)
FORMAT_OPT = typer.Option(
    "rankllm", "--data-format", help=f"Format of --data: {', '.join(DATA_FORMATS)}."
)
QRELS_OPT = typer.Option(None, "--qrels", help="Graded qrels for --data (JSON or TREC).")
MAXQ_OPT = typer.Option(None, "--max-queries", help="Use only the first N queries (smoke runs).")
DEVICE_OPT = typer.Option("auto", "--device", help="auto, cpu, cuda, cuda:1, ...")
MAX_STEPS_OPT = typer.Option(None, "--max-steps", help="Stop after N steps.")
# The options of the training commands (cpt, sft), in their order on the command line.
_TRAINING_OPTIONS = (
    ("max_queries", int | None, MAXQ_OPT),
    ("max_steps", int | None, MAX_STEPS_OPT),
    ("config", str | None, CONFIG_OPT),
    ("overrides", list[str], SET_OPT),
    ("device", str, DEVICE_OPT),
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


@teacher_app.command("cpt")
@_with_training_options("cpt")
def cpt(
    out: Path = typer.Option(..., "--out", help="Output folder (adapter/, model/, cpt.json)."),
    clicks: Path | None = typer.Option(
        None,
        "--clicks",
        help="Click log (JSONL/TSV). Without it, clicks are simulated from --data.",
    ),
    data: list[Path] = DATA_OPT,
    data_format: str = FORMAT_OPT,
    qrels: Path | None = QRELS_OPT,
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
            corpus = load_data(data_format, data, qrels, max_queries).corpus
    else:
        from rankdistill.data.clicks import simulate_clicks
        from rankdistill.data.records import RankingData

        ranking = load_data(data_format, data, qrels, max_queries)
        graded = RankingData(
            ranking.queries, ranking.corpus, ranking.candidates, _relevance(ranking, labels)
        )
        records = simulate_clicks(graded, sessions_per_query=sessions, seed=cfg.seed, progress=True)
        corpus = ranking.corpus
    examples = build_cpt_examples(records, corpus, min_clicks=cfg.cpt.min_clicks)
    typer.echo(f"CPT on {len(examples)} clicked (query, result) pairs")
    path = run_cpt(cfg, examples, out, device=device)
    typer.echo(f"CPT model written to {path}")


@teacher_app.command("sft")
@_with_training_options("sft")
def sft(
    out: Path = typer.Option(
        ..., "--out", help="Output folder (adapter/, score head, teacher.json)."
    ),
    data: list[Path] = DATA_OPT,
    data_format: str = FORMAT_OPT,
    qrels: Path | None = QRELS_OPT,
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

    ranking = load_data(data_format, data, qrels, max_queries)
    target: Any
    if labels is not None:
        from rankdistill.labeling.store import read_labels

        target = read_labels(labels)
    else:
        target = _relevance(ranking, None)
    path = run_sft(cfg, target, ranking, out, init=cpt_dir, device=device)
    typer.echo(f"teacher written to {path}")


@teacher_app.command("score")
def score(
    out: Path = typer.Option(..., "--out", help="Label store to write (JSONL of LabelRecord)."),
    teacher: Path | None = typer.Option(
        None, "--teacher", help="Fine-tuned teacher folder (from `sft`)."
    ),
    data: list[Path] = DATA_OPT,
    data_format: str = FORMAT_OPT,
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
    max_queries: int | None = MAXQ_OPT,
    device: str = DEVICE_OPT,
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

    ranking = load_data(data_format, data, None, max_queries)
    scorer = LLMTeacherScorer.from_dir(teacher, device=device, batch_size=batch_size)
    path = score_pairs(scorer, ranking, out, k=k, batch_size=batch_size, shard=shard_spec)
    typer.echo(f"teacher scores in {path}")


def register(app: typer.Typer) -> None:
    """Add the ``teacher`` sub-app to the main app."""
    app.add_typer(teacher_app, name="teacher")
