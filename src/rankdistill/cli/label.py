"""CLI: ``rankdistill label`` — LLM (or any-ranker) teacher labels for a set of queries.

Example (one listwise call per query with the packaged SmolLM2 through llama.cpp)::

    rankdistill label --method rradistill --data ../shared/data/trec-dl-2021/bm25-top100.json \\
        --out runs/labels --backend llama-cpp --model smollm2-135m --limit 10

The run is resumable: rerun the same command and finished queries are skipped.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from rankdistill.data.records import RankingData
    from rankdistill.labeling.config import LabelingConfig
    from rankdistill.scoring import Scorer

from rankdistill.cli.choices import BACKENDS, METHODS, choice_command


def labeling_config(
    config: Path | None,
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
    data: list[Path] = typer.Option(
        ...,
        "--data",
        "-d",
        exists=True,
        dir_okay=False,
        help="rank_llm JSON file(s) with queries, candidates and passage texts (repeatable).",
    ),
    out: Path = typer.Option(
        ..., "--out", "-o", help="Output folder: labels.jsonl, label_stats.json, LLM cache."
    ),
    method: str | None = typer.Option(
        None,
        "--method",
        "-m",
        help="Labelling method (default: from the config).",
    ),
    backend: str | None = typer.Option(
        None, "--backend", "-b", help="LLM backend (default: from the config)."
    ),
    model: str | None = typer.Option(
        None,
        "--model",
        help="LLM: packaged alias (smollm2-135m), local path, GGUF file or hub id.",
    ),
    qrels: Path | None = typer.Option(
        None,
        "--qrels",
        exists=True,
        dir_okay=False,
        help="Optional judgments (JSON, TREC or BEIR TSV): statistics then report the "
        "labels' agreement with them.",
    ),
    config: Path | None = typer.Option(
        None,
        "--config",
        "-c",
        exists=True,
        dir_okay=False,
        help="A run config YAML whose `labeling` section is the starting point.",
    ),
    limit: int | None = typer.Option(
        None, "--limit", min=1, help="Label only the first N queries of the data."
    ),
    overrides: list[str] = typer.Option(
        [],
        "--set",
        "-s",
        help="Override a labeling setting, e.g. --set prerank.top_k=5 --set num_shards=2.",
    ),
    device: str = typer.Option("auto", "--device", help="Device of pre-ranker/ranker models."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show progress bars."),
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
