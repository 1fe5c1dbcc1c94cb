"""``retrieve``: the first-stage candidates of each split (BM25, or the data's own).

The queries of the ``generate`` stage's sources join the train split here, each with
BM25's top ``candidates`` over its own source's corpus and its known positive.
"""

from __future__ import annotations

from dataclasses import dataclass

from rankdistill.pipeline.context import RunContext, top_k_run
from rankdistill.pipeline.stage import Stage
from rankdistill.pipeline.stages.generate import GENERATE, SourceCandidates, source_candidates
from rankdistill.pipeline.stages.load import SPLITS
from rankdistill.pipeline.stages.select import SELECT


@dataclass
class RetrieveOutput:
    queries: dict[str, int]
    method: str
    k: int
    runs: dict[str, str]  # split -> TREC run of the first stage
    sources: dict[str, SourceCandidates] | None = None  # generate.sources, by name


def retrieve(ctx: RunContext) -> RetrieveOutput:
    from rankdistill.data.trec import write_trec_run

    cfg = ctx.config.retrieval
    out = ctx.stage_dir(RETRIEVE)
    sizes, runs = {}, {}
    sources = None
    for split in SPLITS:
        data = ctx.data(split, sources=False)
        if not data.queries:  # data.train of format none: only generated sources
            run = {}
        elif cfg.method == "bm25":
            from rankdistill.retrieval.bm25 import BM25Retriever

            run = BM25Retriever(cfg).index(data.corpus).retrieve(data.queries, cfg.k)
        else:
            if not data.candidates:
                raise ValueError(
                    f"data.{split} has no candidates; set retrieval.method=bm25 to retrieve them"
                )
            run = top_k_run(data, cfg.k)
        if split == "train" and ctx.config.generate.sources:
            extra, sources = source_candidates(ctx, cfg)
            run.update(extra)
        path = write_trec_run(run, out / f"{split}.trec", tag=f"first-stage-{cfg.method}")
        sizes[split] = len(run)
        runs[split] = str(path)
    return RetrieveOutput(sizes, cfg.method, cfg.k, runs, sources)


RETRIEVE = Stage(
    "retrieve",
    ("retrieval",),
    (SELECT, GENERATE),
    RetrieveOutput,
    retrieve,
    help="first-stage candidates",
)
