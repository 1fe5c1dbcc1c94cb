"""``rankdistill run`` as a library: the run context, the stages, the runner, the report.

>>> from rankdistill.config import load_config
>>> from rankdistill.pipeline import run_pipeline
>>> ctx = run_pipeline(load_config("demo"), until="label")
>>> ctx.output(LABEL).train.labels        # typed outputs of finished stages
"""

from __future__ import annotations

from rankdistill.pipeline.context import DONE_MARKER, PREVIOUS, RunContext, dev_evaluator
from rankdistill.pipeline.report import describe_teacher, write_report
from rankdistill.pipeline.runner import run_pipeline
from rankdistill.pipeline.stage import Stage
from rankdistill.pipeline.stages import (
    BENCHMARK,
    EVALUATE,
    EXPORT,
    GENERATE,
    LABEL,
    LOAD,
    PRERANK,
    RETRIEVE,
    SELECT,
    STAGE_NAMES,
    STAGES,
    TEACHER,
    TRAIN,
    stage_named,
)
from rankdistill.pipeline.stages.label import LabelQualityError

__all__ = [
    "BENCHMARK",
    "DONE_MARKER",
    "EVALUATE",
    "EXPORT",
    "GENERATE",
    "LABEL",
    "LOAD",
    "PRERANK",
    "PREVIOUS",
    "RETRIEVE",
    "SELECT",
    "STAGES",
    "STAGE_NAMES",
    "TEACHER",
    "TRAIN",
    "LabelQualityError",
    "RunContext",
    "Stage",
    "describe_teacher",
    "dev_evaluator",
    "run_pipeline",
    "stage_named",
    "write_report",
]
