"""``teacher``: the DisRanker teacher (CPT on clicks, SFT on the labels, then scoring).

It learns from the ``label`` stage's labels, so re-labelling sets its outputs aside
too. With ``teacher.enabled`` false it does nothing and hands the label stage's labels
on: either way its output names the labels the students learn from.
"""

from __future__ import annotations

from dataclasses import dataclass

from rankdistill.pipeline.context import RunContext
from rankdistill.pipeline.stage import Stage
from rankdistill.pipeline.stages.label import LABEL
from rankdistill.pipeline.stages.prerank import PRERANK


@dataclass
class TeacherOutput:
    labels: dict[str, str]  # split -> the labels students learn from (and evaluate shows)
    skipped: str | None = None
    cpt: str | None = None
    sft: str | None = None


def teacher(ctx: RunContext) -> TeacherOutput:
    labelled = {split: s.labels for split, s in ctx.output(LABEL).splits().items()}
    if not ctx.config.teacher.enabled:
        return TeacherOutput(labelled, skipped="teacher.enabled is false")
    return disranker(ctx, labelled)


def disranker(ctx: RunContext, labelled: dict[str, str]) -> TeacherOutput:
    """CPT on clicks (``data.clicks``, else simulated from the labels), SFT on the labels,
    then the fine-tuned LLM scores every pre-ranked candidate."""
    from rankdistill.data.clicks import read_click_log
    from rankdistill.labeling.store import read_labels
    from rankdistill.teachers.chain import train_disranker_teacher
    from rankdistill.teachers.scoring import score_pairs
    from rankdistill.teachers.sft import LLMTeacherScorer

    cfg = ctx.config.teacher
    clicks_file = ctx.config.data.clicks
    clicks = read_click_log(ctx.base_dir / clicks_file) if clicks_file else None
    labels = read_labels(labelled["train"])
    prerank = ctx.output(PRERANK).runs
    train = ctx.data("train", prerank["train"])
    folder = ctx.stage_dir(TEACHER)
    init, sft_dir = train_disranker_teacher(cfg, labels, train, folder, clicks, ctx.device)
    scorer = LLMTeacherScorer.from_dir(sft_dir, device=ctx.device, batch_size=cfg.score_batch_size)
    scored = {}
    for split in labelled:
        data = ctx.data(split, prerank[split])
        path = folder / f"{split}-scores.jsonl"
        score_pairs(scorer, data, path, k=cfg.score_k, teacher=scorer.name)
        scored[split] = str(path)
    return TeacherOutput(scored, cpt=str(init) if init else None, sft=str(sft_dir))


TEACHER = Stage(
    "teacher",
    ("teacher",),
    (LABEL,),
    TeacherOutput,
    teacher,
    help="DisRanker LLM teacher (when teacher.enabled)",
)
