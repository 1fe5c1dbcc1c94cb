"""``select``: head / torso / tail segments of every query, and the training queries kept."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from rankdistill.pipeline.context import RunContext
from rankdistill.pipeline.stage import Stage
from rankdistill.pipeline.stages.load import LOAD, SPLITS
from rankdistill.utils import atomic_write_json


@dataclass
class SelectOutput:
    train_qids: list[str]
    train_segment_counts: dict[str, int]
    segments_file: str

    def segments(self, split: str) -> dict[str, str]:
        """qid -> segment of one split."""
        path = Path(self.segments_file)
        return json.loads(path.read_text(encoding="utf-8")).get(split, {})


def select(ctx: RunContext) -> SelectOutput:
    from rankdistill.data.selection import assign_segments, select_queries

    cfg = ctx.config.selection
    segments = {split: assign_segments(ctx.raw(split).queries, cfg) for split in SPLITS}
    path = ctx.stage_dir(SELECT) / "segments.json"
    atomic_write_json(path, segments)
    train = ctx.raw("train").queries
    selected = sorted(select_queries(train, cfg)) if cfg.enabled else sorted(train)
    if not selected and not ctx.config.generate.sources:
        raise ValueError(
            f"selection kept no training query (keep_segments={cfg.keep_segments}); "
            "loosen the thresholds or set selection.enabled=false"
        )
    counts = {s: sum(v == s for v in segments["train"].values()) for s in ("head", "torso", "tail")}
    return SelectOutput(selected, counts, str(path))


SELECT = Stage(
    "select", ("selection",), (LOAD,), SelectOutput, select, help="pick the training queries"
)
