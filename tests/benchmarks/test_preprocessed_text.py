"""The preprocessed-text benchmark turns text into NFCorpus's form."""

from __future__ import annotations

from rankdistill.data.records import Document, Query, RankingData
from tests.fixtures.benchmarks import load_benchmark

# The opening of PubMed abstract MED-10 as published, and as NFCorpus's corpus.jsonl has it.
ABSTRACT = (
    "Recent studies have suggested that statins, an established drug group in the "
    "prevention of cardiovascular mortality, could delay or prevent breast cancer "
    "recurrence but the effect on disease-specific mortality remains unclear."
)
NFCORPUS = (
    "recent studies suggested statins established drug group prevention cardiovascular "
    "mortality delay prevent breast cancer recurrence effect disease-specific mortality "
    "remains unclear"
)


def test_text_is_preprocessed_as_nfcorpus_preprocessed_its_abstracts() -> None:
    bench = load_benchmark("preprocessed_text")
    data = RankingData(
        {"q": Query("q", "What are the 2 effects of statins?")},
        {"d": Document("d", ABSTRACT, title="Statins and Breast Cancer")},
        {"q": {"d": 1.0}},
        {"q": {"d": 1}},
    )
    styled = bench.preprocessed(data)
    assert styled.corpus["d"].text == NFCORPUS
    assert styled.corpus["d"].title == "statins breast cancer"
    assert styled.queries["q"].text == "num effects statins"
    assert styled.candidates == data.candidates and styled.qrels == data.qrels
