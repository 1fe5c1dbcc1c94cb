"""Token Selection on hand cases, with the real MiniLM WordPiece tokenizer."""

from __future__ import annotations

from typing import Any

import pytest

from rankdistill.resources import resolve_model
from rankdistill.students.token_selection import TokenSelector


@pytest.fixture(scope="module")
def tokenizer() -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(resolve_model("minilm-l6").path)


def selected(
    tokenizer: Any, query: str, document: str, **options: Any
) -> tuple[list[str], list[str]]:
    """The selected tokens of the query and of the document, as token strings."""
    encoding = tokenizer(query, document, return_offsets_mapping=True).encodings[0]
    flags = TokenSelector(**options).select(encoding, query, document)
    by_sequence: tuple[list[str], list[str]] = ([], [])
    for token, seq, flag in zip(encoding.tokens, encoding.sequence_ids, flags, strict=True):
        if flag:
            by_sequence[seq].append(token)
    return by_sequence


def test_exact_match_marks_both_sides(tokenizer: Any) -> None:
    q, d = selected(tokenizer, "running shoes for kids", "Shoes made for running fast.")
    assert q == ["running", "shoes"]  # "for" is a stopword, "kids" is absent
    assert d == ["shoes", "running"]


def test_word_pieces_merge_into_one_word(tokenizer: Any) -> None:
    # "snowboarding" is snow ##boarding: all its pieces are selected together ...
    q, d = selected(tokenizer, "snowboarding lessons", "Snowboarding is taught here.")
    assert q == ["snow", "##boarding"]
    assert d == ["snow", "##boarding"]
    # ... and the piece "snow" of "snowboarding" is not the word "snow".
    q, d = selected(tokenizer, "snow depth", "Snowboarding is taught here.")
    assert (q, d) == ([], [])


def test_case_and_punctuation(tokenizer: Any) -> None:
    q, d = selected(tokenizer, "Is PARIS big?", "paris, france! Big city?")
    assert q == ["paris", "big"]  # "?" is never a term, "is" a stopword
    assert d == ["paris", "big"]


def test_no_match_selects_nothing(tokenizer: Any) -> None:
    assert selected(tokenizer, "quantum chromodynamics", "A recipe for apple pie.") == ([], [])


def test_repeated_document_words_are_all_marked(tokenizer: Any) -> None:
    q, d = selected(tokenizer, "cats", "Cats and cats: cats!")
    assert q == ["cats"]
    assert d == ["cats", "cats", "cats"]


def test_stem_rule(tokenizer: Any) -> None:
    # joggers = jo ##gger ##s, jogger = jo ##gger; exact: different words; stem: "jogger".
    assert selected(tokenizer, "joggers", "a jogger ran") == ([], [])
    q, d = selected(tokenizer, "joggers", "a jogger ran", match_rule="stem")
    assert q == ["jo", "##gger", "##s"]
    assert d == ["jo", "##gger"]


def test_stopwords_can_be_kept(tokenizer: Any) -> None:
    q, _ = selected(tokenizer, "the cat", "the dog", ignore_stopwords=False)
    assert q == ["the"]
    assert selected(tokenizer, "the cat", "the dog") == ([], [])


def test_unknown_rule_is_rejected() -> None:
    with pytest.raises(ValueError, match="match_rule"):
        TokenSelector(match_rule="fuzzy")  # type: ignore[arg-type]
