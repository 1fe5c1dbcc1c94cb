"""CLI: ``rankdistill export MODEL_DIR --out DIR``: ONNX (fp32, int8) and CrossEncoder folders."""

from __future__ import annotations

from pathlib import Path

import typer

from rankdistill.cli.choices import EXPORT_FORMATS, choice_command


def export_command(
    model_dir: Path = typer.Argument(
        ...,
        help="A saved student directory (rankdistill.json + weights + tokenizer).",
        exists=True,
        file_okay=False,
    ),
    out: Path = typer.Option(
        ...,
        "--out",
        help="Output folder; each format goes to OUT/<format>/, the layout "
        "`rankdistill serve` and Reranker.load look for.",
    ),
    formats: list[str] | None = typer.Option(
        None,
        "--format",
        metavar="FORMAT",
        help="Export format; repeat for several (default: export.formats of the config "
        "defaults, those the student supports).",
    ),
    opset: int | None = typer.Option(None, help="ONNX opset version (default: export.opset)."),
) -> None:
    """Export a student for serving: fp32 ONNX, dynamic-int8 ONNX, CrossEncoder folder."""
    from rankdistill.serving.config import ExportConfig
    from rankdistill.serving.export import export_model, unsupported_formats
    from rankdistill.serving.manifest import read_manifest

    defaults = ExportConfig()
    if not formats:
        kind = read_manifest(model_dir)["kind"]
        skipped = set(unsupported_formats(kind, defaults.formats))
        formats = [f for f in defaults.formats if f not in skipped]
    for fmt in dict.fromkeys(formats):
        target = export_model(model_dir, out / fmt, fmt, opset=opset or defaults.opset)
        typer.echo(f"{fmt}: {target}")


def register(app: typer.Typer) -> None:
    """Add this module's commands to the main app."""
    app.command("export", cls=choice_command({"formats": EXPORT_FORMATS}))(export_command)
