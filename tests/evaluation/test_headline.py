"""The report's headline: one sentence for the teacher's cost per query, one per student."""

from __future__ import annotations

from rankdistill.evaluation.reporting.headline import (
    TITLE,
    headline_section,
    student_sentence,
    teacher_sentence,
)
from rankdistill.evaluation.reporting.inputs import ReportInputs

LLM_STATS = {
    "queries": 4,
    "teachers": ["llama-cpp:qwen"],
    "documents_labelled": 80,
    "llm_calls": {"total": 4, "per_query": 1.0},
    "prompt_tokens": {"total": 6000, "per_query": 1500.0},
    "completion_tokens": {"total": 240, "per_query": 60.0},
}
RANKER_STATS = {
    "queries": 72,
    "teachers": ["bi-encoder:minilm-l6"],
    "documents_labelled": 3570,
    "llm_calls": {"total": 0, "per_query": 0.0},
    "prompt_tokens": {"total": 0, "per_query": 0.0},
    "completion_tokens": {"total": 0, "per_query": 0.0},
}
ROWS = [
    {"system": "ce", "backend": "torch", "queries": 3, "pairs": 150, "latency_ms_p50": 690.35},
    {"system": "ce", "backend": "onnx-int8", "queries": 3, "pairs": 150, "p50_ms": 395.76},
    {"system": "teacher", "backend": "transformers", "latency_ms_p50": 905.5},
]


def test_llm_teacher_sentence_counts_calls_and_tokens() -> None:
    sentence = teacher_sentence(LLM_STATS, seconds_per_query=2.5)
    assert sentence == (
        "Teacher (llama-cpp:qwen): 1.0 LLM calls and 1,560 tokens per query "
        "(1,500 prompt, 60 completion), 2,500 ms per query to pre-rank and label on this machine."
    )


def test_ranker_teacher_sentence_counts_documents() -> None:
    # 3570 documents over 72 queries: 49.6 per query, shown as 50.
    assert teacher_sentence(RANKER_STATS) == (
        "Teacher (bi-encoder:minilm-l6): no LLM calls; it scores 50 documents per query."
    )


def test_student_sentence_takes_the_fastest_backend() -> None:
    from rankdistill.evaluation.reporting.cost_sections import canonical_latency_row

    rows = [canonical_latency_row(r) for r in ROWS]
    assert student_sentence("ce", rows) == (
        "Student ce: 395.8 ms per query for 50 documents at the median (onnx-int8), "
        "with no LLM at serving time."
    )
    assert student_sentence("absent", rows) is None


def test_headline_has_one_sentence_per_cost_and_skips_the_teacher_row() -> None:
    inputs = ReportInputs(
        title="t", results={}, labeling_stats=RANKER_STATS, latency=ROWS, teacher_name="teacher"
    )
    section = headline_section(inputs)
    assert section is not None and section.title == TITLE
    texts = [block.text for block in section.blocks]  # type: ignore[union-attr]
    assert len(texts) == 2
    assert texts[0].startswith("Teacher (bi-encoder:minilm-l6)")
    assert texts[1].startswith("Student ce: 395.8 ms")
    assert headline_section(ReportInputs(title="t", results={})) is None
