"""The stages of ``rankdistill run``, in order: the one table of the pipeline.

Adding a stage is one module here (its output dataclass, its function and its
:class:`~rankdistill.pipeline.stage.Stage`) plus one entry in :data:`STAGES`.
"""

from __future__ import annotations

from typing import Any

from rankdistill.pipeline.stage import Stage
from rankdistill.pipeline.stages.benchmark import BENCHMARK
from rankdistill.pipeline.stages.evaluate import EVALUATE
from rankdistill.pipeline.stages.export import EXPORT
from rankdistill.pipeline.stages.generate import GENERATE
from rankdistill.pipeline.stages.label import LABEL
from rankdistill.pipeline.stages.load import LOAD
from rankdistill.pipeline.stages.prerank import PRERANK
from rankdistill.pipeline.stages.retrieve import RETRIEVE
from rankdistill.pipeline.stages.select import SELECT
from rankdistill.pipeline.stages.teacher import TEACHER
from rankdistill.pipeline.stages.train import TRAIN
from rankdistill.registry import Registry

STAGES: tuple[Stage[Any], ...] = (
    LOAD,
    SELECT,
    GENERATE,
    RETRIEVE,
    PRERANK,
    LABEL,
    TEACHER,
    TRAIN,
    EVALUATE,
    EXPORT,
    BENCHMARK,
)
STAGE_NAMES: tuple[str, ...] = tuple(s.name for s in STAGES)
BY_NAME: Registry[Stage[Any]] = Registry("stage")
for _stage in STAGES:
    BY_NAME.register(_stage.name, _stage)


def stage_named(name: str) -> Stage[Any]:
    """The stage called ``name`` (a ``ValueError`` listing the stages otherwise)."""
    return BY_NAME.require(name)
