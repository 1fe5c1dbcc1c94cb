"""The demo's log carries no third-party warning the user cannot act on.

A reduced demo runs through ``export`` (student training from a plain encoder, evaluation,
the report, ONNX export and int8 quantisation: every step that used to print such
warnings), and its whole output goes through :func:`unwanted_warnings`. The filter itself
is checked against the messages as the libraries print them, so the test can fail. The
package metadata is built the way pip's setuptools backend builds it, warnings recorded.
The same run checks that the report's configuration section is the run's resolved
configuration (overrides applied).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
# Warning -> a pattern of its text in a log.
UNWANTED: dict[str, str] = {
    "transformers' weight-load report": r"LOAD REPORT|\|\s*MISSING\s*\|",
    "torch.onnx tracer warning": r"TracerWarning",
    "torch.onnx advanced-indexing note": r"Exporting aten::index operator of advanced indexing",
    "onnxruntime pre-processing advice": r"consider to run pre-processing before quantization",
    "setuptools project.license deprecation": r"`?project\.license`? as a TOML table is deprecated",
}
# The lines as transformers, torch, onnxruntime and setuptools print them.
PRINTED = {
    "transformers' weight-load report": (
        "[transformers] BertForSequenceClassification LOAD REPORT from: /m\n"
        "classifier.weight | MISSING | "
    ),
    "torch.onnx tracer warning": (
        "masking_utils.py:244: TracerWarning: Converting a tensor to a Python boolean might "
        "cause the trace to be incorrect."
    ),
    "torch.onnx advanced-indexing note": (
        "symbolic_opset11.py:954: UserWarning: Exporting aten::index operator of advanced "
        "indexing in opset 17 is achieved by combination of multiple ONNX operators"
    ),
    "onnxruntime pre-processing advice": (
        "WARNING:root:Please consider to run pre-processing before quantization. Refer to "
        "example: https://github.com/microsoft/onnxruntime-inference-examples"
    ),
    "setuptools project.license deprecation": (
        "SetuptoolsDeprecationWarning: `project.license` as a TOML table is deprecated"
    ),
}
# The demo, reduced to seconds of work per stage (one training step, a handful of queries).
REDUCED = [
    "data.train.max_queries=4",
    "data.dev.max_queries=3",
    "selection.enabled=false",
    "retrieval.k=12",
    "labeling.prerank.candidates=8",
    "labeling.prerank.top_k=4",
    "labeling.prerank.bottom_k=4",
    "training.students=[{student: cross-encoder, loss: hybrid, max_steps: 1, group_size: 4, "
    "batch_size: 1, max_length: 48, eval_steps: 1}]",
    "export.formats=[onnx-int8]",
    "evaluation.metrics=[nDCG@10, PNR]",
]


def unwanted_warnings(log: str) -> list[str]:
    """The names of the :data:`UNWANTED` warnings that ``log`` contains."""
    return [name for name, pattern in UNWANTED.items() if re.search(pattern, log)]


def test_the_filter_finds_each_warning_as_printed() -> None:
    for name, line in PRINTED.items():
        assert unwanted_warnings(f"ok train in 3s\n{line}\nok export\n") == [name]
    assert unwanted_warnings("WARNING: labels for q1 are missing; parse problem\n") == []


def test_package_metadata_builds_without_a_license_deprecation() -> None:
    from setuptools.config.pyprojecttoml import apply_configuration
    from setuptools.dist import Distribution

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        dist = apply_configuration(Distribution(), REPO / "pyproject.toml")
    printed = "\n".join(f"{w.category.__name__}: {w.message}" for w in caught)
    assert unwanted_warnings(printed) == [], printed
    assert dist.metadata.license_expression == "Apache-2.0"


@pytest.mark.slow
def test_reduced_demo_log_has_no_unwanted_warning(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    command = [sys.executable, "-m", "rankdistill", "run", "demo", "-o", str(run_dir)]
    command += ["--until", "export"]
    for item in REDUCED:
        command += ["--set", item]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    done = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=900, cwd=tmp_path
    )
    log = done.stdout + done.stderr
    assert done.returncode == 0, log[-4000:]
    for stage in ("train", "evaluate", "export"):
        assert re.search(rf"^ok {stage} in", log, flags=re.MULTILINE), f"{stage} did not run"
    assert unwanted_warnings(log) == [], log[-4000:]

    report = (run_dir / "report.md").read_text(encoding="utf-8")
    fenced = re.search(r"## Configuration\n\n```yaml\n(.*)\n```", report, flags=re.DOTALL)
    assert fenced, "the report has no configuration block"
    config = yaml.safe_load(fenced.group(1))
    assert config["data"]["train"]["max_queries"] == 4
    (student,) = config["training"]["students"]
    assert (student["max_steps"], student["max_length"]) == (1, 48)
    assert config["output_dir"] == str(run_dir)
