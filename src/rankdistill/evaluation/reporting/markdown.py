"""The one Markdown writer: a title and :class:`Section` s to Markdown text.

Every user string is escaped, so system names, metric names and notes show as written;
a paragraph's code spans become Markdown code spans (unescaped inside); figures are
relative image links.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from rankdistill.evaluation.reporting.document import Block, Figure, Paragraph, Section, Table

# Markdown markup inside a line: table pipes, emphasis, code, links, and "<" where it could
# open an HTML tag (so "p < 0.05" stays readable while "<script>" is shown, not run).
_MD_INLINE = re.compile(r"([\\|*_`\[\]]|<(?=[A-Za-z/!?]))")


def md_escape(text: str) -> str:
    """Backslash-escape what Markdown would read as markup within a line."""
    return _MD_INLINE.sub(r"\\\1", str(text)).replace("\n", " ")


def md_escape_paragraph(text: str) -> str:
    """:func:`md_escape`, plus a heading, quote or list marker at the start."""
    escaped = md_escape(text)
    return "\\" + escaped if escaped[:1] in ("#", "+", "-", ">") else escaped


def _md_table(table: Table) -> str:
    align = [":---" if i < table.labels else "---:" for i in range(len(table.header))]
    lines = [
        "| " + " | ".join(md_escape(h) for h in table.header) + " |",
        "| " + " | ".join(align) + " |",
    ]
    lines += ["| " + " | ".join(md_escape(c) for c in row) + " |" for row in table.rows]
    return "\n".join(lines)


def md_code_span(code: str) -> str:
    """``code`` as a Markdown code span: nothing inside is escaped (a backslash there is a
    backslash); the fence is one backtick longer than the longest run inside."""
    fence = "`" * (_longest_backtick_run(code) + 1)
    pad = " " if code.startswith("`") or code.endswith("`") else ""
    return f"{fence}{pad}{code}{pad}{fence}"


def _md_paragraph(paragraph: Paragraph) -> str:
    parts = []
    for i, (text, is_code) in enumerate(paragraph.spans()):
        if is_code:
            parts.append(md_code_span(text.replace("\n", " ")))
        else:
            parts.append(md_escape_paragraph(text) if i == 0 else md_escape(text))
    text = "".join(parts)
    return f"*{text}*" if paragraph.style == "omitted" else text


def _md_block(block: Block) -> str:
    if isinstance(block, Paragraph):
        return _md_paragraph(block)
    if isinstance(block, Table):
        return _md_table(block)
    if isinstance(block, Figure):
        return f"![{md_escape(block.caption)}]({block.relpath})"
    fence = "`" * max(3, _longest_backtick_run(block.text) + 1)
    return f"{fence}{block.language}\n{block.text.rstrip()}\n{fence}"


def _longest_backtick_run(text: str) -> int:
    return max((len(m) for m in re.findall(r"`+", text)), default=0)


def render_markdown(title: str, sections: Sequence[Section]) -> str:
    """``# title``, then per section ``## section title`` (none when empty) and its blocks."""
    parts = [f"# {md_escape(title)}"]
    for section in sections:
        if section.title:
            parts.append(f"## {md_escape(section.title)}")
        parts += [_md_block(block) for block in section.blocks]
    return "\n\n".join(parts) + "\n"
