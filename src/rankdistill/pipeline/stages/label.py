"""``label``: the teacher's labels of the training queries (and of the dev queries, to
evaluate the teacher itself), checked against the label-quality gates."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

from rankdistill.labeling.config import LabelingConfig
from rankdistill.pipeline.context import RunContext
from rankdistill.pipeline.stage import Stage
from rankdistill.pipeline.stages.prerank import PRERANK
from rankdistill.pipeline.stages.retrieve import RETRIEVE

console = Console(stderr=True)


class LabelQualityError(ValueError):
    """The labels are too broken to train on; the message has the numbers and the file."""


@dataclass
class SplitLabels:
    labels: str  # the label store (JSONL of LabelRecord)
    stats: dict[str, Any]


@dataclass
class LabelOutput:
    train: SplitLabels
    dev: SplitLabels | None = None

    def splits(self) -> dict[str, SplitLabels]:
        return {"train": self.train, **({"dev": self.dev} if self.dev is not None else {})}


def label(ctx: RunContext) -> LabelOutput:
    from rankdistill.labeling.methods import METHODS
    from rankdistill.labeling.runner import run_labeling

    cfg = ctx.config.labeling
    method = METHODS.require(cfg.method)
    splits = ["train"]
    if ctx.config.evaluation.teacher_on_dev and ctx.raw("dev").qrels is not None:
        splits.append("dev")
    # Every method sees the pre-ranker's order but RankGPT's sliding window, which slides
    # over the first-stage ranking, as in its paper.
    source = ctx.output(RETRIEVE if method.reads_first_stage else PRERANK).runs
    labelled: dict[str, SplitLabels] = {}
    for split in splits:
        data = ctx.data(split, source[split])
        ranker_scorers = None
        if method.uses_ranker_models:
            ranker_scorers = {m: ctx.scorer(m, data) for m in cfg.ranker_models}
        folder = ctx.stage_dir(LABEL) / split
        result = run_labeling(data, cfg, folder, prerank_scorer=None, ranker_scorers=ranker_scorers)
        console.print(f"{split} labels: {quality_line(result.stats)}")
        if method.parses_answers:
            check_label_quality(result.stats, cfg, result.labels_path)
        labelled[split] = SplitLabels(str(result.labels_path), result.stats)
    return LabelOutput(**labelled)


def quality_line(stats: dict[str, Any]) -> str:
    """Parse problems and missing rate of a label set, on one line."""
    queries = stats["queries"]
    problems = stats["parse_problems"]
    kinds = ", ".join(f"{k}: {v}" for k, v in problems.items()) or "none"
    missing = stats["missing"]
    return (
        f"{queries} queries; parse problems in {stats['queries_with_parse_problems']} "
        f"({kinds}); missing rate {missing['rate']:.3f} "
        f"({missing['queries_all_missing']} queries with nothing listed)"
    )


def check_label_quality(stats: dict[str, Any], cfg: LabelingConfig, labels: Path) -> None:
    """Stop when too many answers could not be parsed or too many documents went unlisted.

    Garbage labels (a weak LLM answering nonsense) would otherwise train students on
    noise without a word on the console.
    """
    queries = stats["queries"]
    if not queries:
        return
    failures = []
    parse_rate = stats["queries_with_parse_problems"] / queries
    if parse_rate > cfg.max_parse_failure_rate:
        failures.append(
            f"{stats['queries_with_parse_problems']} of {queries} answers "
            f"({parse_rate:.0%}) had parse problems {stats['parse_problems']} "
            f"(labeling.max_parse_failure_rate={cfg.max_parse_failure_rate})"
        )
    missing_rate = stats["missing"]["rate"]
    if missing_rate > cfg.max_missing_rate:
        failures.append(
            f"{missing_rate:.1%} of the documents shown were left unlisted "
            f"(labeling.max_missing_rate={cfg.max_missing_rate})"
        )
    if failures:
        raise LabelQualityError(
            f"{labels}: the labels fail the quality gate: {'; '.join(failures)}; "
            "look at the labels file, use a stronger LLM or raise the limit"
        )


LABEL = Stage("label", ("labeling",), (PRERANK,), LabelOutput, label, help="label with the teacher")
