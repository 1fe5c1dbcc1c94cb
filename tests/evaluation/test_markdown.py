"""Markdown and HTML writers: code spans in notes render as code, everything else escaped."""

from __future__ import annotations

from pathlib import Path

from rankdistill.evaluation.reporting.document import Paragraph, Section
from rankdistill.evaluation.reporting.html_page import render_html
from rankdistill.evaluation.reporting.markdown import md_code_span, render_markdown
from tests.evaluation.test_run_report import build_case, make_inputs, section

NOTE = (
    "Teacher: a ranker. On dev it re-orders the candidates "
    "(`rankdistill.evaluation.teacher.teacher_run`), *not* the full <b>corpus</b>."
)


def test_a_note_with_code_renders_a_code_span(tmp_path: Path) -> None:
    case = build_case(tmp_path, make_inputs(notes=[NOTE], latency=None))
    notes = section(case.markdown, "Notes")
    assert "\\`" not in case.markdown
    # The code span is verbatim: no escaped underscores inside it.
    assert "(`rankdistill.evaluation.teacher.teacher_run`)" in notes
    # Outside the span, markup is still escaped.
    assert "\\*not\\* the full \\<b>corpus\\</b>." in notes
    assert "<code>rankdistill.evaluation.teacher.teacher_run</code>" in case.html
    assert "&lt;b&gt;corpus&lt;/b&gt;" in case.html and "<b>" not in case.html


def test_backticks_inside_code_and_plain_paragraphs() -> None:
    assert md_code_span("a`b") == "``a`b``"
    assert md_code_span("`x`") == "`` `x` ``"
    plain = Paragraph("a `literal` backtick", style="note")  # not a notes paragraph
    text = render_markdown("t", [Section("s", [plain])])
    assert "a \\`literal\\` backtick" in text
    assert "a `literal` backtick" in render_html("t", [Section("s", [plain])])
    heading = Paragraph("# not a heading with `code`", inline_code=True)
    assert "\\# not a heading with `code`" in render_markdown("t", [Section("s", [heading])])
