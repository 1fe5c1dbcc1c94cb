"""CLI: ``rankdistill export MODEL_DIR --out DIR``: ONNX (fp32, int8) and CrossEncoder folders."""

from __future__ import annotations

from pathlib import Path

import typer

FORMAT_CHOICES = ("onnx", "onnx-int8", "sentence-transformers")


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
    formats: list[str] = typer.Option(
        ["onnx", "onnx-int8"],
        "--format",
        help="onnx, onnx-int8 or sentence-transformers; repeat for several.",
    ),
    opset: int = typer.Option(17, help="ONNX opset version."),
) -> None:
    """Export a student for serving: fp32 ONNX, dynamic-int8 ONNX, CrossEncoder folder."""
    from rankdistill.serving.export import export_model

    unknown = [f for f in formats if f not in FORMAT_CHOICES]
    if unknown:
        raise typer.BadParameter(
            f"unknown format(s) {', '.join(unknown)}; choose from {', '.join(FORMAT_CHOICES)}",
            param_hint="--format",
        )
    for fmt in dict.fromkeys(formats):
        target = export_model(model_dir, out / fmt, fmt, opset=opset)
        typer.echo(f"{fmt}: {target}")


def register(app: typer.Typer) -> None:
    """Add this module's commands to the main app."""
    app.command("export")(export_command)
