"""Every ``--help`` page at 80 columns: real metavars, nothing cut, no stray line breaks."""

from __future__ import annotations

import itertools
import re

import pytest
import typer.main
from typer.testing import CliRunner

from rankdistill.cli.help import reflow
from rankdistill.cli.main import app

WIDTH = 80


def _command_paths() -> list[list[str]]:
    """The argv prefix of every command and group, the top level first."""
    paths: list[list[str]] = []

    def walk(command, prefix: list[str]) -> None:
        paths.append(prefix)
        for name, sub in sorted(getattr(command, "commands", {}).items()):
            walk(sub, [*prefix, name])

    walk(typer.main.get_command(app), [])
    return paths


def _help(path: list[str]) -> str:
    result = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": str(WIDTH)})
    assert result.exit_code == 0, result.output
    return result.output


COMMANDS = _command_paths()
IDS = [" ".join(p) or "rankdistill" for p in COMMANDS]


def test_every_command_is_covered() -> None:
    # The tree is walked, not listed: a new command is checked without editing this test.
    assert {"evaluate", "label", "serve", "data convert", "teacher score"} <= set(IDS)


@pytest.mark.parametrize("path", COMMANDS, ids=IDS)
def test_help_has_real_metavars_and_nothing_cut(path: list[str]) -> None:
    page = _help(path)
    assert all(len(line) <= WIDTH for line in page.splitlines())
    # typer's type labels and brace-wrapped arguments are not shown to the user.
    assert not re.search(r"<(bool|str|int|float|path|file|dir|list\[[^\]]*\])[^>]*>", page), page
    usage = next(line for line in page.splitlines() if "Usage:" in line)
    assert "{" not in usage and "}" not in usage, usage
    assert "…" not in page, page  # a cut option name or help word


@pytest.mark.parametrize(
    ("path", "pattern"),
    [
        (["label"], r"--config\s+-c\s+PATH\|NAME\s"),
        (["label"], r"--set\s+-s\s+KEY=VALUE\s"),
        (["label"], r"--device\s+\[auto\|cpu\|cuda\]\s"),
        (["train"], r"--config\s+-c\s+PATH\|NAME\s"),
        (["teacher", "sft"], r"--set\s+-s\s+KEY=VALUE\s"),
        (["teacher", "score"], r"--device\s+\[auto\|cpu\|cuda\]\s"),
        (["generate"], r"--config\s+-c\s+PATH\s"),
        (["evaluate"], r"--out\s+-o\s+PATH\s"),
        (["serve"], r"Usage: rankdistill serve \[OPTIONS\] MODEL_DIR\s"),
        (["evaluate"], r"Usage: rankdistill evaluate \[OPTIONS\] RUN\.\.\.\s"),
        (["config", "show"], r"Usage: rankdistill config show \[OPTIONS\] \[CONFIG\]\s"),
        (["data", "convert"], r"--to\s+FORMAT\s+Output format\. Choices: rankllm, trec,"),
    ],
)
def test_options_show_what_they_take(path: list[str], pattern: str) -> None:
    assert re.search(pattern, _help(path)), _help(path)


def test_flags_show_no_value() -> None:
    page = _help(["label"])
    row = next(line for line in page.splitlines() if "--progress" in line)
    # The row holds the two flag names and the help, with no type between them.
    assert re.search(r"--progress\s+--no-progress\s+Show progress bars\.", row), row


def _inner(line: str) -> str:
    return line.strip().removeprefix("│").removesuffix("│")


def _assert_filled(lines: list[str], width: int) -> None:
    """Consecutive lines of one paragraph break only where the next word would not fit."""
    for line, following in itertools.pairwise(lines):
        if line.strip() and following.strip():
            room = len(line.rstrip()) + 1 + len(following.split()[0])
            assert room > width - 1, f"stray break after {line.strip()!r}"


def test_command_list_wraps_without_stray_breaks() -> None:
    page = _help([])
    panel = page[page.index("Commands") :].splitlines()[1:]
    rows = [_inner(line) for line in panel if line.strip().startswith("│")]
    column = min(len(r) - len(r.lstrip()) for r in rows if r[:3].strip() == "")
    width = len(rows[0]) - column - 1
    entries: list[list[str]] = []
    for row in rows:
        if row[:column].strip():
            entries.append([])
        entries[-1].append(row[column:])
    assert len(entries) >= 10
    for entry in entries:
        _assert_filled(entry, width)
    # The summary that used to break after "filter" reads on.
    joined = " ".join(" ".join(" ".join(e).split()) for e in entries)
    assert "or crops), filter them, and report" in joined


def test_description_paragraphs_wrap_to_the_terminal() -> None:
    page = _help(["data", "convert"])
    description = page[page.index("Usage:") : page.index("╭─")].splitlines()[2:]
    _assert_filled(description, WIDTH - 2)
    assert "trec -> queries.tsv, corpus.tsv" in " ".join(" ".join(description).split())


def test_reflow_joins_lines_of_a_paragraph_only() -> None:
    text = "One line\n    and its tail.\n\nSecond\nparagraph.\n\n\b\nkept\nas is"
    assert reflow(text) == "One line and its tail.\n\nSecond paragraph.\n\n\b\nkept\nas is"
