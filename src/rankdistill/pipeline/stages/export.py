"""``export``: every student in every format of ``export.formats``."""

from __future__ import annotations

from dataclasses import dataclass

from rankdistill.pipeline.context import RunContext
from rankdistill.pipeline.stage import Stage
from rankdistill.pipeline.stages.train import TRAIN


@dataclass
class ExportOutput:
    students: dict[str, dict[str, str]]  # student -> format -> exported folder


def export(ctx: RunContext) -> ExportOutput:
    from rankdistill.serving.export import export_model

    exported: dict[str, dict[str, str]] = {}
    for name, student in ctx.output(TRAIN).students.items():
        exported[name] = {}
        for fmt in ctx.config.export.formats:
            target = ctx.stage_dir(EXPORT) / name / fmt
            export_model(student.model_dir, target, fmt, opset=ctx.config.export.opset)
            exported[name][fmt] = str(target)
    return ExportOutput(exported)


EXPORT = Stage("export", ("export",), (TRAIN,), ExportOutput, export, help="ONNX and other formats")
