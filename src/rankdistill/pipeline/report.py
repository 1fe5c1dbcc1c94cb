"""The run report (``report.md`` + ``report.html``) from the stages that have finished."""

from __future__ import annotations

from pathlib import Path

from rankdistill.config import RunConfig, dump_config
from rankdistill.pipeline.context import RunContext
from rankdistill.pipeline.stages.benchmark import BENCHMARK
from rankdistill.pipeline.stages.evaluate import EVALUATE, FIRST_STAGE, PRE_RANKER, TEACHER_ROW
from rankdistill.pipeline.stages.generate import training_source_notes
from rankdistill.pipeline.stages.label import LABEL
from rankdistill.pipeline.stages.prerank import PRERANK
from rankdistill.pipeline.stages.select import SELECT


def describe_teacher(config: RunConfig) -> str:
    """One line naming the teacher that produced the training labels."""
    from rankdistill.labeling.methods import METHODS

    lab = config.labeling
    if METHODS.require(lab.method).uses_ranker_models:
        models = ", ".join(lab.ranker_models)
        several = len(lab.ranker_models) > 1
        fused = f"a {lab.ranker_fusion} fusion of {models}" if several else models
        text = f"{fused} as a ranker teacher"
    else:
        text = f"{lab.method} labels from {lab.backend.kind}:{lab.backend.model}"
    if config.teacher.enabled:
        cpt = "CPT + " if config.teacher.cpt.enabled else ""
        text += f", then the DisRanker teacher ({cpt}SFT of {config.teacher.model}) scores"
    return text


def labeling_seconds_per_query(ctx: RunContext) -> float | None:
    """Wall time of pre-ranking plus labelling per labelled query (train and dev).

    The pre-ranking counts because the labels need it (and a ranker teacher that names the
    pre-ranker's model reuses its document scores, so the label stage alone looks free).
    """
    if not ctx.is_done(LABEL):
        return None
    queries = sum(s.stats.get("queries", 0) for s in ctx.output(LABEL).splits().values())
    if not queries:
        return None
    seconds = ctx.summary(LABEL).get("seconds", 0.0)
    if ctx.is_done(PRERANK):
        seconds += ctx.summary(PRERANK).get("seconds", 0.0)
    return seconds / queries


def write_report(ctx: RunContext) -> Path | None:
    """report.md + report.html from whatever stages have finished (None before evaluate)."""
    import json

    from rankdistill.data.trec import read_trec_run
    from rankdistill.evaluation.metrics import EvalResult
    from rankdistill.evaluation.run_report import ReportInputs, build_run_report

    if not ctx.is_done(EVALUATE):
        return None
    evaluated = ctx.output(EVALUATE)
    if evaluated.eval_json is None:
        return None
    saved = json.loads(Path(evaluated.eval_json).read_text(encoding="utf-8"))
    results = {name: EvalResult.from_dict(r) for name, r in saved["runs"].items()}
    runs = {name: read_trec_run(evaluated.runs[name]) for name in results}
    dev = ctx.raw("dev")
    stats = ctx.output(LABEL).train.stats if ctx.is_done(LABEL) else None
    latency = ctx.output(BENCHMARK).rows if ctx.is_done(BENCHMARK) else []
    inputs = ReportInputs(
        title=f"rankdistill run: {ctx.config.name}",
        results=results,
        baseline=FIRST_STAGE,
        segments=ctx.output(SELECT).segments("dev") or None,
        query_texts={q: v.text for q, v in dev.queries.items()},
        runs=runs,
        qrels=dev.qrels,
        teacher_name=TEACHER_ROW if TEACHER_ROW in results else None,
        students=[n for n in results if n not in (FIRST_STAGE, PRE_RANKER, TEACHER_ROW)],
        labeling_stats=stats,
        labeling_seconds_per_query=labeling_seconds_per_query(ctx),
        latency=latency or None,
        config_yaml=dump_config(ctx.config),
        notes=[
            f"Teacher: {describe_teacher(ctx.config)}. On dev it re-orders the pre-ranker's "
            "candidates it was shown (`rankdistill.evaluation.teacher.teacher_run`).",
            *training_source_notes(ctx),
        ],
    )
    return build_run_report(inputs, ctx.run_dir).markdown
