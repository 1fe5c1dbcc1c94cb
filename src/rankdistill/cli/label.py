"""CLI: ``rankdistill label`` — LLM (or any-ranker) teacher labels for a set of queries.

Example (one listwise call per query with the packaged SmolLM2 through llama.cpp)::

    rankdistill label --method rradistill --data ../shared/data/trec-dl-2021/bm25-top100.json \\
        --out runs/labels --backend llama-cpp --model smollm2-135m --limit 10

The run is resumable: rerun the same command and finished queries are skipped.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from rankdistill.data.records import RankingData
    from rankdistill.labeling.config import LabelingConfig
    from rankdistill.scoring import Scorer

from rankdistill.cli.choices import BACKENDS, METHODS, choice_command
from rankdistill.cli.options import (
    BackendOption,
    DeviceOption,
    ModelOption,
    ProgressOption,
    config_option,
    data_files_option,
    method_option,
    out_option,
    qrels_option,
    set_option,
)

DATA_HELP = "rank_llm JSON file(s) with queries, candidates and passage texts (repeatable)."
OUT_HELP = "Output folder: labels.jsonl, label_stats.json, LLM cache."
QRELS_HELP = (
    "Optional judgments (JSON, TREC or BEIR TSV): statistics then report the labels' "
    "agreement with them."
)
LIMIT_HELP = "Label only the first N queries of the data."
SET_EXAMPLE = "prerank.top_k=5 --set num_shards=2"


def labeling_config(
    config: str | None,
    method: str | None,
    backend: str | None,
    model: str | None,
    overrides: list[str],
) -> LabelingConfig:
    """The ``labeling`` section of a run config (or the defaults) with the CLI's changes.

    ``--set`` keys are relative to the labeling section (``prerank.top_k=5``); a leading
    ``labeling.`` is accepted too.
    """
    from rankdistill.config import load_section

    flags = {"method": method, "backend.kind": backend, "backend.model": model}
    return load_section(config, "labeling", overrides, flags)


def prerank_scorer(cfg: LabelingConfig, data: RankingData, device: str) -> Scorer | None:
    """The pre-ranker named by ``cfg.prerank`` (None: keep the first-stage scores)."""
    from rankdistill.scoring import build_scorer

    spec = cfg.prerank.scorer_spec()
    return None if spec is None else build_scorer(spec, device, data)


def load_label_data(paths: list[Path], qrels: Path | None, limit: int | None) -> RankingData:
    from rankdistill.data.qrels import read_qrels
    from rankdistill.data.rankllm import read_rankllm

    data = read_rankllm(paths)
    if limit is not None:
        data = data.subset(list(data.queries)[:limit])
    if qrels is not None:
        judged = read_qrels(qrels)
        data.qrels = {q: v for q, v in judged.items() if q in data.queries}
    return data


def label(
    data: Annotated[list[Path], data_files_option(DATA_HELP, exists=True, dir_okay=False)],
    out: Annotated[Path, out_option(OUT_HELP, "-o")],
    method: Annotated[str | None, method_option("Labelling method")] = None,
    backend: BackendOption = None,
    model: ModelOption = None,
    qrels: Annotated[Path | None, qrels_option(QRELS_HELP, exists=True, dir_okay=False)] = None,
    config: Annotated[str | None, config_option("labeling")] = None,
    limit: Annotated[int | None, typer.Option(metavar="N", min=1, help=LIMIT_HELP)] = None,
    overrides: Annotated[list[str], set_option(SET_EXAMPLE)] = [],  # noqa: B006 (typer)
    device: DeviceOption = "auto",
    progress: ProgressOption = True,
) -> None:
    """Label queries with an LLM teacher (RRADistill, RankGPT sliding window, pointwise)
    or a fusion of rankers, resumably."""
    from rankdistill.labeling.methods import METHODS as METHOD_TABLE
    from rankdistill.labeling.runner import run_labeling
    from rankdistill.labeling.stats import format_statistics, label_statistics
    from rankdistill.labeling.store import read_labels
    from rankdistill.scoring import build_scorer
    from rankdistill.utils import atomic_write_json

    cfg = labeling_config(config, method, backend, model, overrides)
    dataset = load_label_data(data, qrels, limit)
    entry = METHOD_TABLE.require(cfg.method)
    ranker_scorers = None
    if entry.uses_ranker_models:
        ranker_scorers = {m: build_scorer(m, device, dataset) for m in cfg.ranker_models}
    scorer = prerank_scorer(cfg, dataset, device) if entry.uses_prerank else None
    result = run_labeling(
        dataset,
        cfg,
        out,
        prerank_scorer=scorer,
        ranker_scorers=ranker_scorers,
        progress=progress,
    )
    stats = result.stats
    if dataset.qrels:
        stats = label_statistics(read_labels(result.labels_path), qrels=dataset.qrels)
        atomic_write_json(result.stats_path, stats)
    typer.echo(format_statistics(stats))
    typer.echo(f"labels: {result.labels_path}\nstatistics: {result.stats_path}")


def register(app: typer.Typer) -> None:
    """Add this module's commands to the main app."""
    app.command("label", cls=choice_command({"method": METHODS, "backend": BACKENDS}))(label)
