"""Run the stages in order: skip the finished ones, re-run the out-of-date ones.

Each stage writes its outputs under ``RUN_DIR/<stage>/`` and, last, a ``_done.json``
marker holding its typed output, a fingerprint of the config it ran with, an id of this
execution and the ids of the upstream executions it read. A stage whose marker exists is
skipped, so rerunning a killed run resumes at the first unfinished stage (and the label
and train stages resume *inside* themselves). A stage runs again when it is forced, when
an upstream stage's outputs were re-made since it ran, or when the config sections it
reads changed. Its old outputs then move to ``RUN_DIR/previous/<stage>/`` (one
generation is kept), except the LLM call caches, which stay: a prompt asked before is not
asked again.
"""

from __future__ import annotations

import shutil
import time
import uuid
from pathlib import Path
from typing import Any

from rich.console import Console

from rankdistill.config import RunConfig, save_config
from rankdistill.pipeline.context import DONE_MARKER, PREVIOUS, RESOLVED_CONFIG, RunContext
from rankdistill.pipeline.report import write_report
from rankdistill.pipeline.stage import OutputFormatError, Stage, output_to_json
from rankdistill.pipeline.stages import STAGE_NAMES, STAGES, stage_named
from rankdistill.pipeline.stages.train import CONFIG_CHANGED
from rankdistill.utils import atomic_write_json, set_seed

console = Console(stderr=True)


def why_run(
    ctx: RunContext, stage: Stage[Any], force: tuple[str, ...], ran: set[str]
) -> str | None:
    """Why a stage must run: "" when it never finished, a reason to print when its output
    is present but out of date, ``None`` when it is done and can be skipped."""
    if not ctx.is_done(stage):
        return ""
    if stage.name in force:
        return "forced"
    for upstream in stage.inputs(ctx.config):
        if upstream.name in ran:
            return f"its input ({upstream.name}) was just re-made"
    # Re-made by an earlier invocation that stopped before this stage (`--until`).
    recorded = ctx.summary(stage).get("upstream_runs")
    if recorded is not None:
        for name, run_id in ctx.upstream_runs(stage).items():
            if recorded.get(name) != run_id:
                return f"its input ({name}) was re-made since it ran"
    recorded_fingerprint = ctx.summary(stage).get("config_fingerprint")
    if recorded_fingerprint is not None and recorded_fingerprint != ctx.fingerprint(stage):
        return CONFIG_CHANGED
    try:
        ctx.output(stage)
    except OutputFormatError:
        return "its record is from another version"
    return None


def set_aside(ctx: RunContext, stage: Stage[Any]) -> None:
    """Move a finished stage's outputs to ``previous/<stage>/`` before it runs again, so
    the new run starts clean (labels and checkpoints are not resumed from) and the old
    ones are not lost; LLM caches are copied back."""
    from rankdistill.labeling.runner import CACHE_FILE

    current = ctx.run_dir / stage.name
    old = ctx.run_dir / PREVIOUS / stage.name
    if old.exists():
        shutil.rmtree(old)
    old.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(current), str(old))
    # LLM caches are valid whatever the config: they are keyed by the prompt.
    for cached in old.rglob(CACHE_FILE):
        target = current / cached.relative_to(old)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(cached, target)


def run_stage(ctx: RunContext, stage: Stage[Any]) -> dict[str, Any]:
    """Run one stage and write its marker; returns what the marker holds."""
    upstream_runs = ctx.upstream_runs(stage)
    start = time.perf_counter()
    output = stage.run(ctx)
    if not isinstance(output, stage.output):
        raise TypeError(f"stage {stage.name!r} returned {type(output).__name__}")
    record = ctx.relocatable(output_to_json(output))
    record["seconds"] = round(time.perf_counter() - start, 2)
    record["config_fingerprint"] = ctx.fingerprint(stage)
    record["run_id"] = uuid.uuid4().hex[:16]
    record["upstream_runs"] = upstream_runs
    atomic_write_json(ctx.stage_dir(stage) / DONE_MARKER, record)
    return ctx.summary(stage)


def run_pipeline(
    config: RunConfig,
    *,
    base_dir: Path | None = None,
    until: str | None = None,
    force: tuple[str, ...] = (),
) -> RunContext:
    """Run the stages in order up to ``until``; skip finished ones unless forced."""
    for name in [*([until] if until else []), *force]:
        stage_named(name)  # an unknown name raises, listing the stages
    ctx = RunContext(config, base_dir=base_dir or Path.cwd())
    ctx.run_dir.mkdir(parents=True, exist_ok=True)
    save_config(config, ctx.run_dir / RESOLVED_CONFIG)
    set_seed(config.seed)
    stop = STAGE_NAMES.index(until) if until else len(STAGES) - 1
    ran: set[str] = set()
    for stage in STAGES[: stop + 1]:
        why = why_run(ctx, stage, force, ran)
        if why is None:
            console.print(f"[dim]done[/] {stage.name} (output present, skipped)")
            continue
        console.rule(f"[bold]{stage.name}")
        ctx.rerun_reasons[stage.name] = why
        if why:
            shown = why
            if why == CONFIG_CHANGED:
                sections = ", ".join(stage.reads)
                shown = f"the config changed since it ran ({sections} or an earlier stage's)"
            console.print(f"[yellow]re-run[/] {stage.name}: {shown}")
            set_aside(ctx, stage)
        record = run_stage(ctx, stage)
        ran.add(stage.name)
        if record.get("skipped"):
            console.print(f"[yellow]skipped[/] {stage.name}: {record['skipped']}")
        else:
            console.print(f"[green]ok[/] {stage.name} in {record['seconds']:.1f}s")
        if stage.report:
            report = write_report(ctx)
            if report is not None:
                console.print(f"report: {report}")
    return ctx
