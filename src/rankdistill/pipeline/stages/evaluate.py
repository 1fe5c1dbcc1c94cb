"""``evaluate``: first stage, pre-ranker, teacher and every student on the dev qrels."""

from __future__ import annotations

from dataclasses import dataclass, field

from rankdistill.pipeline.context import RunContext
from rankdistill.pipeline.stage import Stage
from rankdistill.pipeline.stages.prerank import PRERANK
from rankdistill.pipeline.stages.retrieve import RETRIEVE
from rankdistill.pipeline.stages.select import SELECT
from rankdistill.pipeline.stages.teacher import TEACHER
from rankdistill.pipeline.stages.train import TRAIN

FIRST_STAGE = "first-stage"
PRE_RANKER = "pre-ranker"
TEACHER_ROW = "teacher"


@dataclass
class EvaluateOutput:
    systems: dict[str, dict[str, float]] = field(default_factory=dict)  # name -> metrics
    runs: dict[str, str] = field(default_factory=dict)  # name -> TREC run on dev
    eval_json: str | None = None
    skipped: str | None = None


def evaluate(ctx: RunContext) -> EvaluateOutput:
    from rankdistill.data.records import Run
    from rankdistill.data.trec import read_trec_run, write_trec_run
    from rankdistill.evaluation.metrics import evaluate_run
    from rankdistill.evaluation.report import write_eval_outputs
    from rankdistill.evaluation.teacher import teacher_run
    from rankdistill.labeling.store import read_labels
    from rankdistill.scoring import rerank_run
    from rankdistill.students import load_student

    first_stage = ctx.output(RETRIEVE).runs["dev"]
    dev = ctx.data("dev", first_stage)
    if dev.qrels is None:
        return EvaluateOutput(skipped="the dev split has no qrels")
    out = ctx.stage_dir(EVALUATE)
    prerank = read_trec_run(ctx.output(PRERANK).runs["dev"])
    runs: dict[str, Run] = {FIRST_STAGE: read_trec_run(first_stage), PRE_RANKER: prerank}
    dev_labels = ctx.output(TEACHER).labels.get("dev")
    if dev_labels is not None:
        runs[TEACHER_ROW] = teacher_run(read_labels(dev_labels), prerank)
    for name, student in ctx.output(TRAIN).students.items():
        scorer = load_student(student.model_dir, ctx.device)
        runs[name] = rerank_run(scorer, dev, k=ctx.config.retrieval.k)
    paths = {}
    for name, run in runs.items():
        paths[name] = str(write_trec_run(run, out / "runs" / f"{name}.trec", tag=name))
    cfg = ctx.config.evaluation
    results = {
        name: evaluate_run(
            run, dev.qrels, cfg.metrics, pnr_ties=cfg.pnr_ties, missing_queries=cfg.missing_queries
        )
        for name, run in runs.items()
    }
    segments = ctx.output(SELECT).segments("dev")
    written = write_eval_outputs(results, out, segments=segments, baseline=FIRST_STAGE)
    systems = {name: dict(r.aggregate) for name, r in results.items()}
    return EvaluateOutput(systems, paths, str(written["json"]))


EVALUATE = Stage(
    "evaluate",
    ("evaluation",),
    (TRAIN,),
    EvaluateOutput,
    evaluate,
    report=True,
    help="metrics on dev",
)
