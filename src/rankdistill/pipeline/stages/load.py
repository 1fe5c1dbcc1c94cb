"""``load``: read the configured train and dev splits and count what they hold."""

from __future__ import annotations

from dataclasses import dataclass

from rankdistill.pipeline.context import RunContext
from rankdistill.pipeline.stage import Stage

SPLITS = ("train", "dev")


@dataclass
class SplitCounts:
    queries: int
    documents: int
    queries_with_candidates: int
    judged_queries: int


@dataclass
class LoadOutput:
    train: SplitCounts
    dev: SplitCounts


def load(ctx: RunContext) -> LoadOutput:
    counts = {}
    for split in SPLITS:
        data = ctx.raw(split)
        counts[split] = SplitCounts(
            queries=len(data.queries),
            documents=len(data.corpus),
            queries_with_candidates=len(data.candidates),
            judged_queries=0 if data.qrels is None else len(data.qrels),
        )
    return LoadOutput(**counts)


LOAD = Stage("load", ("data",), (), LoadOutput, load, help="read the data")
