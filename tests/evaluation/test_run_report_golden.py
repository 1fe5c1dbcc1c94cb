"""The run report's text is pinned: fixed inputs render to the stored Markdown and HTML.

Any change to a word, number or tag shows up here; a change made on purpose is re-pinned
with the command at the bottom and its diff reviewed. Figures
are compared by their links (the PNG bytes depend on the matplotlib build), the HTML with
each embedded image and the inline style sheet replaced by placeholders.
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

import pytest

from rankdistill.evaluation.run_report import ReportInputs, build_run_report
from tests.evaluation.test_run_report import LATENCY_ROWS, make_inputs

GOLDEN = Path(__file__).parent / "golden"
DATA_URI = re.compile(r"data:image/png;base64,[A-Za-z0-9+/=]+")


def cases() -> dict[str, ReportInputs]:
    """Fixed inputs: everything, a bare run, and one with absent or unmatched inputs."""
    full = make_inputs()
    throughput = [{k: v for k, v in r.items() if k != "p50_ms"} for r in LATENCY_ROWS]
    return {
        "full": full,
        "bare": ReportInputs(title="bare", results=full.results),
        "partial": make_inputs(
            baseline="bm25-typo",
            teacher_name="llm-teacher",
            baseline_labeling_cost=None,
            latency=throughput,
            segments=None,
            notes=[],
        ),
    }


def render(name: str, inputs: ReportInputs, out_dir: Path) -> dict[str, str]:
    """The report's Markdown and HTML (images and the inline style sheet replaced by
    placeholders: the style sheet is the packaged ``report.css``, verbatim)."""
    paths = build_run_report(inputs, out_dir / name)
    css = resources.files("rankdistill.evaluation").joinpath("templates", "report.css")
    html = paths.html.read_text("utf-8")
    assert html.count(css.read_text("utf-8")) == 1
    html = html.replace(css.read_text("utf-8"), "/* report.css */")
    html = DATA_URI.sub("data:image/png;base64,PNG", html)
    return {f"{name}.md": paths.markdown.read_text("utf-8"), f"{name}.html": html}


@pytest.mark.parametrize("name", ["full", "bare", "partial"])
def test_report_text_is_unchanged(name: str, tmp_path: Path) -> None:
    for file_name, text in render(name, cases()[name], tmp_path).items():
        expected = (GOLDEN / file_name).read_text("utf-8")
        assert text == expected, f"{file_name} differs from tests/evaluation/golden/{file_name}"


if __name__ == "__main__":  # re-pin: python -m tests.evaluation.test_run_report_golden OUT
    import sys

    out = Path(sys.argv[1])
    for case_name, case_inputs in cases().items():
        for file_name, text in render(case_name, case_inputs, out / "build").items():
            (out / file_name).write_text(text, encoding="utf-8")
