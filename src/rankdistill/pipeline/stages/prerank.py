"""``prerank``: the pre-ranker's order of the training candidates (what labelling sees)
and of the dev candidates (reported as the ``pre-ranker`` row)."""

from __future__ import annotations

from dataclasses import dataclass

from rankdistill.pipeline.context import RunContext, top_k_run
from rankdistill.pipeline.stage import Stage
from rankdistill.pipeline.stages.retrieve import RETRIEVE


@dataclass
class PrerankOutput:
    scorer: str
    model: str
    train_candidates: int
    runs: dict[str, str]  # split -> TREC run of the pre-ranker


def prerank(ctx: RunContext) -> PrerankOutput:
    from rankdistill.data.trec import write_trec_run
    from rankdistill.scoring import rerank_run

    cfg = ctx.config.labeling.prerank
    first_stage = ctx.output(RETRIEVE).runs
    out = ctx.stage_dir(PRERANK)
    spec = cfg.scorer_spec()
    runs = {}
    for split, k in (("train", cfg.candidates), ("dev", ctx.config.retrieval.k)):
        data = ctx.data(split, first_stage[split])
        scorer = None if spec is None else ctx.scorer(spec, data)
        run = top_k_run(data, k) if scorer is None else rerank_run(scorer, data, k=k)
        runs[split] = str(write_trec_run(run, out / f"{split}.trec", tag=f"prerank-{cfg.scorer}"))
    return PrerankOutput(cfg.scorer, cfg.model, cfg.candidates, runs)


PRERANK = Stage(
    "prerank",
    ("labeling.prerank",),
    (RETRIEVE,),
    PrerankOutput,
    prerank,
    help="pre-rank the candidates",
)
