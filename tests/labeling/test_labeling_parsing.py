"""Parsing LLM answers, grading listwise answers, prompt templates and top/bottom selection."""

from __future__ import annotations

from pathlib import Path

import pytest

from rankdistill.data.errors import DataFormatError
from rankdistill.labeling.grading import grades_from_order
from rankdistill.labeling.parsing import parse_grade, parse_ranking
from rankdistill.labeling.prerank import select_top_bottom
from rankdistill.labeling.prompts import list_templates, load_template, load_template_file


# --------------------------------------------------------------------------- parse_ranking
@pytest.mark.parametrize(
    ("text", "order"),
    [
        ("[3] > [1] > [2]", [2, 0, 1]),
        ("[3][1]", [2, 0]),
        ("3, 1, 2", [2, 0, 1]),
        ("3 > 1", [2, 0]),
        ("Passage 4 is best, then passage 2.", [3, 1]),
        ("1. [4]\n2. [2]\n3. [5]", [3, 1, 4]),  # enumeration numbers are not identifiers
        ("1. 3\n2. 1", [2, 0]),
        ("4\n2\n", [3, 1]),
        ("The most relevant are [5] > [2], then [1].", [4, 1, 0]),
        ("Ranking: [ 2 ] > [ 1 ]", [1, 0]),
    ],
)
def test_parse_ranking_well_formed_and_loose_shapes(text: str, order: list[int]) -> None:
    parsed = parse_ranking(text, 5)
    assert parsed.order == order
    assert parsed.problems == []
    assert parsed.ok
    assert parsed.missing == sorted(set(range(5)) - set(order))
    assert parsed.raw == text


def test_parse_ranking_truncated_answer() -> None:
    # "[1" may have been "[12]": a cut-off identifier is not read.
    parsed = parse_ranking("[2] > [4] > [1", 15)
    assert parsed.order == [1, 3]
    assert "truncated" in parsed.problems
    assert parse_ranking("[2] > [4] >", 5).problems == ["truncated"]
    # The backend's finish_reason marks a cut-off answer even when it ends cleanly.
    cut = parse_ranking("[2] > [4]", 5, finish_reason="length")
    assert cut.order == [1, 3] and cut.problems == ["truncated"]
    assert parse_ranking("[2] > [4]", 5, finish_reason="stop").problems == []


def test_parse_ranking_repeated_identifiers_keep_first_occurrence() -> None:
    parsed = parse_ranking("[2] > [1] > [2] > [3] > [1] > [2]", 4)
    assert parsed.order == [1, 0, 2]
    assert parsed.repeated == [1, 0, 1]
    assert parsed.missing == [3]
    assert parsed.problems == ["repeated"]
    assert not parsed.ok


def test_parse_ranking_hallucinated_identifiers_are_dropped() -> None:
    parsed = parse_ranking("[7] > [2] > [0] > [21] > [1]", 4)
    assert parsed.order == [1, 0]
    assert parsed.unknown == [7, 0, 21]
    assert parsed.missing == [2, 3]
    assert parsed.problems == ["unknown"]


@pytest.mark.parametrize("text", ["", "   \n", None])
def test_parse_ranking_empty(text: str | None) -> None:
    parsed = parse_ranking(text, 3)
    assert parsed.order == []
    assert parsed.missing == [0, 1, 2]
    assert parsed.problems == ["empty"]


@pytest.mark.parametrize("text", ["none", "None.", "No passage is relevant.", "  NONE"])
def test_parse_ranking_explicit_none(text: str) -> None:
    parsed = parse_ranking(text, 3)
    assert parsed.order == []
    assert parsed.missing == [0, 1, 2]
    assert parsed.problems == ["explicit_none"]
    assert parsed.ok  # "none" is a valid RRADistill answer: every document is a negative


def test_parse_ranking_chatter_without_identifiers() -> None:
    parsed = parse_ranking("1. How long does it take to remove a wisdom tooth?\n2. Why", 4)
    assert parsed.order == []
    assert parsed.problems == ["no_identifiers"]
    assert parse_ranking("1. 1.1.1.1.1", 4).problems == ["no_identifiers"]


# --------------------------------------------------------------------------- parse_grade
@pytest.mark.parametrize(
    ("text", "grade"),
    [
        ("2", 2),
        ("3.", 3),
        ("Relevance: 1", 1),
        ("0 - irrelevant", 0),
        (" 2/3", 2),
        ("The answer is 3", 3),
        ("4", None),
        ("2.5", None),
        ("", None),
        (None, None),
        ("Yes", None),
        ("12", None),
    ],
)
def test_parse_grade(text: str | None, grade: int | None) -> None:
    assert parse_grade(text) == grade


# --------------------------------------------------------------------------- grading
def test_linear_grades_with_missing_as_negative() -> None:
    grades = grades_from_order([3, 0, 4], num_shown=6, scheme="linear")
    assert grades == {3: 3.0, 0: 2.0, 4: 1.0, 1: 0.0, 2: 0.0, 5: 0.0}


def test_missing_as_negative_off_leaves_missing_unlabelled() -> None:
    grades = grades_from_order([3, 0, 4], num_shown=6, scheme="linear", missing_as_negative=False)
    assert grades == {3: 3.0, 0: 2.0, 4: 1.0}


def test_reciprocal_and_binary_schemes() -> None:
    assert grades_from_order([2, 0], 4, scheme="reciprocal") == {2: 1.0, 0: 0.5, 1: 0.0, 3: 0.0}
    assert grades_from_order([2, 0], 4, scheme="binary") == {2: 1.0, 0: 1.0, 1: 0.0, 3: 0.0}
    assert grades_from_order([2, 0], 4, "binary", missing_as_negative=False) == {2: 1.0, 0: 1.0}


def test_empty_order_makes_every_document_a_negative() -> None:
    assert grades_from_order([], 3) == {0: 0.0, 1: 0.0, 2: 0.0}
    assert grades_from_order([], 3, missing_as_negative=False) == {}


def test_grading_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="repeated"):
        grades_from_order([1, 1], 3)
    with pytest.raises(ValueError, match="outside"):
        grades_from_order([5], 3)
    with pytest.raises(ValueError, match="unknown grading scheme"):
        grades_from_order([0], 3, scheme="cubic")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- selection
def test_select_top_bottom_keeps_best_and_worst_in_score_order() -> None:
    scored = [(f"d{i}", float(i)) for i in range(10)]  # d9 best
    assert select_top_bottom(scored, 3, 2) == ["d9", "d8", "d7", "d1", "d0"]
    assert select_top_bottom(scored, 3, 0) == ["d9", "d8", "d7"]
    assert select_top_bottom(scored[:4], 3, 2) == ["d3", "d2", "d1", "d0"]  # no doc twice
    # Ties keep input order.
    assert select_top_bottom([("a", 1.0), ("b", 1.0), ("c", 0.0)], 1, 1) == ["a", "c"]


# --------------------------------------------------------------------------- templates
def test_every_shipped_template_loads_and_renders() -> None:
    ids = list_templates()
    assert {
        "rradistill-listwise",
        "rankgpt-window",
        "pointwise-yesno",
        "pointwise-graded",
        "rationale",
    } <= set(ids)
    for template_id in ids:
        template = load_template(template_id)
        assert template.id == template_id and template.version
        fields = {"query": "q", "passages": ["a", "b"], "passage": "p", "verdict": "relevant"}
        messages = template.render(**fields)
        assert messages[-1]["role"] == "user"
        assert "{" not in messages[-1]["content"]


def test_listwise_render_numbers_passages_and_is_format_safe() -> None:
    template = load_template("rradistill-listwise")
    tricky = "Use {query} or {0} in f-strings {passages}"
    messages = template.render(query="what is {x}?", passages=[tricky, "second\n  passage"])
    user = messages[-1]["content"]
    assert messages[0]["role"] == "system"
    assert f"[1] {tricky}" in user  # braces inside passages are left exactly as they are
    assert "[2] second passage" in user  # one line per passage
    assert "Search query: what is {x}?" in user
    assert "Below are 2 passages" in user


def test_template_errors_name_the_field(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("id: bad\nversion: 1\nuser: 'Query: {qeury}'\n", encoding="utf-8")
    with pytest.raises(DataFormatError, match=r"user.*qeury"):
        load_template_file(bad)
    missing = tmp_path / "missing.yaml"
    missing.write_text("id: x\nuser: hi\n", encoding="utf-8")
    with pytest.raises(DataFormatError, match="version"):
        load_template_file(missing)
    with pytest.raises(KeyError, match="unknown prompt template"):
        load_template("no-such-template")
    with pytest.raises(KeyError, match="passage"):
        load_template("pointwise-yesno").render(query="q")
