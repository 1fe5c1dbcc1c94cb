"""Long documents in windows: how documents are split and scores aggregated, and, through
the real service, that chunking finds a relevant sentence at the end of a document three
times the model's window where truncation does not."""

from __future__ import annotations

import itertools
import math
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from rankdistill.resources import resolve_model
from rankdistill.scoring_windows import (
    WindowConfig,
    WindowedScorer,
    aggregate,
    plan_windows,
    window_starts,
)
from rankdistill.serving.engine import Reranker
from tests.fixtures.service import running_service
from tests.fixtures.students import DOCUMENTS, QUERIES


@pytest.fixture(scope="module")
def tokenizer() -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(resolve_model("minilm-l6").path)


def _tokens(tokenizer: Any, text: str) -> list[int]:
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


def _contains(haystack: list[int], needle: list[int]) -> bool:
    return any(haystack[i : i + len(needle)] == needle for i in range(len(haystack)))


def test_window_starts_cover_the_document() -> None:
    assert window_starts(10, 16, 8) == [0]
    assert window_starts(40, 16, 8) == [0, 8, 16, 24]  # the last one ends at 40
    assert window_starts(41, 16, 8) == [0, 8, 16, 24, 25]
    for n, window, stride in [(100, 16, 8), (97, 30, 30), (1000, 119, 59)]:
        covered = set()
        for start in window_starts(n, window, stride):
            covered.update(range(start, min(start + window, n)))
        assert covered == set(range(n))


def test_plan_windows_overlap_start_on_words_and_reach_the_end(tokenizer: Any) -> None:
    doc = " ".join(DOCUMENTS[:8]) * 3
    doc_tokens = _tokens(tokenizer, doc)
    plan = plan_windows(tokenizer, [doc, "short", ""], WindowConfig(), window_tokens=40)
    assert plan.counts[1:] == [1, 1] and plan.texts[-2:] == ["short", ""]
    windows = plan.texts[: plan.counts[0]]
    assert len(windows) == len(window_starts(len(doc_tokens), 40, 20))
    for text in windows:
        ids = _tokens(tokenizer, text)
        assert len(ids) <= 40 and _contains(doc_tokens, ids)
        assert text == text.strip() and doc.find(text) >= 0
        assert not tokenizer.convert_ids_to_tokens(ids[0]).startswith("##")
    assert doc.rstrip().endswith(windows[-1])  # the last window reaches the end
    # Consecutive windows overlap (stride = half the window).
    for a, b in itertools.pairwise(windows):
        assert doc.find(b) < doc.find(a) + len(a)


def test_first_aggregation_and_token_cap(tokenizer: Any) -> None:
    doc = DOCUMENTS[9]
    first = plan_windows(tokenizer, [doc], WindowConfig(aggregation="first"), window_tokens=40)
    assert first.texts == [doc] and first.counts == [1]  # whole: the scorer truncates it
    capped = plan_windows(tokenizer, [doc], WindowConfig(max_tokens_per_doc=100), window_tokens=40)
    assert _tokens(tokenizer, " ".join(capped.texts))[:5] == _tokens(tokenizer, doc)[:5]
    assert sum(capped.tokens) < 3 * 100 and len(capped.texts) == len(window_starts(100, 40, 20))
    # A request's own cap lowers the configured one and never raises it.
    lower = plan_windows(tokenizer, [doc], WindowConfig(), 40, max_tokens_per_doc=50)
    assert len(lower.texts) == len(window_starts(50, 40, 20))
    higher = plan_windows(tokenizer, [doc], WindowConfig(max_tokens_per_doc=50), 40, 10_000)
    assert higher.texts == lower.texts


def test_aggregations_and_config_checks() -> None:
    assert aggregate([0.1, 0.9, 0.5], "max") == 0.9
    assert aggregate([0.1, 0.9, 0.5], "first") == 0.1
    assert aggregate([0.1, 0.9, 0.5], "mean") == pytest.approx(0.5)
    assert math.isnan(aggregate([], "max"))
    with pytest.raises(ValidationError, match="stride_tokens"):
        WindowConfig(window_tokens=32, stride_tokens=40)
    with pytest.raises(ValidationError):
        WindowConfig(aggregation="median")  # type: ignore[arg-type]


def test_windowed_scorer_wraps_any_scorer(tokenizer: Any) -> None:
    class BasilCounter:
        """Scores a text by how often it says "basil": a transparent stand-in scorer."""

        name = "basil-count"

        def score(self, query: str, documents: list[str]) -> list[float]:
            return [float(d.lower().count("basil")) for d in documents]

    filler = DOCUMENTS[9]
    doc = filler + " " + DOCUMENTS[3] + " Basil again."  # "basil" twice, at the very end
    scorer = WindowedScorer(BasilCounter(), tokenizer, WindowConfig(), window_tokens=40)
    assert scorer.score("q", [doc, filler]) == [2.0, 0.0]  # the last window holds both
    assert scorer.windows_scored > 2 and scorer.name == "basil-count+windows[max]"
    first = WindowedScorer(BasilCounter(), tokenizer, WindowConfig(aggregation="first"), 40)
    assert first.score("q", [doc]) == [2.0]  # the whole document: the scorer's own cut
    mean = WindowedScorer(BasilCounter(), tokenizer, WindowConfig(aggregation="mean"), 40)
    assert 0 < mean.score("q", [doc])[0] < 2.0


def _rank_of_long_document(url: str, query: str, documents: list[str]) -> tuple[int, int]:
    body = {"model": "m", "query": query, "documents": documents}
    response = httpx.post(f"{url}/v2/rerank", json=body, timeout=120)
    assert response.status_code == 200, response.text
    order = [r["index"] for r in response.json()["results"]]
    return order.index(0), response.json()["meta"]["windows_scored"]


def test_chunking_finds_the_relevant_sentence_at_the_end(student_engine: Reranker) -> None:
    query, relevant = QUERIES[3], DOCUMENTS[3]  # storing basil; the basil sentence
    distractors = [d for i, d in enumerate(DOCUMENTS[:8]) if i != 3]
    alone = student_engine.score(query, [relevant, *distractors])
    assert alone[0] > max(alone[1:]), "the model must prefer the relevant sentence alone"
    # A document three times the model's window: filler, then the sentence at the very end.
    room = student_engine.document_room(query)
    sentence_tokens = len(student_engine.tokenizer(relevant, add_special_tokens=False).input_ids)
    filler = (DOCUMENTS[9] + " ") * 2
    offsets = student_engine.tokenizer(
        filler, add_special_tokens=False, return_offsets_mapping=True
    )["offset_mapping"]
    long_document = filler[: offsets[3 * room - sentence_tokens - 1][1]] + " " + relevant
    n_tokens = len(student_engine.tokenizer(long_document, add_special_tokens=False).input_ids)
    assert n_tokens == 3 * room
    candidates = [long_document, *distractors]
    # Windows the size of the sentence, overlapping by half.
    windows = {"window_tokens": sentence_tokens, "stride_tokens": sentence_tokens // 2}
    with running_service(student_engine, windows=WindowConfig(**windows)) as url:
        chunked_rank, chunked_windows = _rank_of_long_document(url, query, candidates)
    with running_service(student_engine, windows=WindowConfig(aggregation="first")) as url:
        truncated_rank, truncated_windows = _rank_of_long_document(url, query, candidates)
    assert chunked_rank == 0 and chunked_windows > 3 * len(candidates)
    assert truncated_rank > 0 and truncated_windows == len(candidates)
