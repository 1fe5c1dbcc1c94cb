"""The HTML writer: one self-contained page (inline CSS, PNGs as data URIs, no script).

Every user string goes through :func:`html.escape`.
"""

from __future__ import annotations

import base64
import html
import re
import string
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

from rankdistill.evaluation.reporting.document import Block, Figure, Paragraph, Section, Table


def _template(name: str) -> str:
    return (
        resources.files("rankdistill.evaluation")
        .joinpath("templates", name)
        .read_text(encoding="utf-8")
    )


def _anchor(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")


def _html_table(table: Table) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in table.header)

    def cell(i: int, text: str) -> str:
        css = ' class="label"' if i < table.labels else ""
        return f"<td{css}>{html.escape(text)}</td>"

    body = "\n".join(
        "<tr>" + "".join(cell(i, c) for i, c in enumerate(row)) + "</tr>" for row in table.rows
    )
    css = ' class="compact"' if table.compact else ""
    return f"<table{css}>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody>\n</table>"


def _data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def _html_paragraph(paragraph: Paragraph) -> str:
    css = f' class="{paragraph.style}"' if paragraph.style != "text" else ""
    text = "".join(
        f"<code>{html.escape(part)}</code>" if is_code else html.escape(part)
        for part, is_code in paragraph.spans()
    )
    return f"<p{css}>{text}</p>"


def _html_block(block: Block) -> str:
    if isinstance(block, Paragraph):
        return _html_paragraph(block)
    if isinstance(block, Table):
        return _html_table(block)
    if isinstance(block, Figure):
        caption = html.escape(block.caption)
        return (
            f'<figure><img src="{_data_uri(block.path)}" alt="{caption}">'
            f"<figcaption>{caption}</figcaption></figure>"
        )
    return (
        f"<details><summary>{html.escape(block.summary)}</summary>"
        f"<pre>{html.escape(block.text)}</pre></details>"
    )


def render_html(title: str, sections: Sequence[Section]) -> str:
    """One self-contained page: inline CSS, images as data URIs, no script."""
    toc = "\n".join(
        f'<li><a href="#{_anchor(s.title)}">{html.escape(s.title)}</a></li>' for s in sections
    )
    body = "\n".join(
        f'<section id="{_anchor(s.title)}">\n<h2>{html.escape(s.title)}</h2>\n'
        + "\n".join(_html_block(b) for b in s.blocks)
        + "\n</section>"
        for s in sections
    )
    page = string.Template(_template("report.html"))
    return page.substitute(
        title=html.escape(title), css=_template("report.css"), toc=toc, body=body
    )
