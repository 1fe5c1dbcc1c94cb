"""Rationales for RRA-GPT (SPEC section 2, step 6).

A (smaller) LLM is given the query, one document and the teacher's verdict and writes a
short reason; RRA-GPT learns to generate it after its yes/no answer. The verdict comes
from the teacher's labels: "relevant" for a positive grade; for score-only teachers,
(reconstructed) a score above the query's median.
"""

from __future__ import annotations

import statistics

from rankdistill.data.records import LabelRecord, Query
from rankdistill.labeling.methods.base import Corpus, LabelMethod, LLMLabeler

RELEVANT = "relevant"
NOT_RELEVANT = "not relevant"


def verdicts(record: LabelRecord) -> dict[str, str]:
    """The teacher's binary verdict per labelled document."""
    if record.grades:
        return {d: RELEVANT if g > 0 else NOT_RELEVANT for d, g in record.grades.items()}
    if not record.scores:
        return {}
    median = statistics.median(record.scores.values())
    return {d: RELEVANT if s > median else NOT_RELEVANT for d, s in record.scores.items()}


class RationaleWriter(LLMLabeler):
    """Writes one short reason per (query, document, verdict)."""

    default_template = "rationale"
    default_max_new_tokens = 48

    def add_rationales(self, record: LabelRecord, corpus: Corpus) -> LabelRecord:
        """Fill ``record.rationales``; the cost goes to ``extra["rationale_cost"]`` so the
        teacher's own call and token counts stay comparable across methods."""
        judged = verdicts(record)
        docids = list(judged)
        prompts = [
            self.template.render(
                query=record.query, passage=self.passage(corpus, d), verdict=judged[d]
            )
            for d in docids
        ]
        generations = self.generate(prompts) if prompts else []
        record.rationales = {d: g.text.strip() for d, g in zip(docids, generations, strict=True)}
        record.extra["rationale_verdicts"] = judged
        record.extra["rationale_cost"] = {
            "model": self.backend.model_id,
            "template_id": self.template.id,
            "template_version": self.template.version,
            "llm_calls": len(generations),
            "prompt_tokens": sum(g.prompt_tokens for g in generations),
            "completion_tokens": sum(g.completion_tokens for g in generations),
        }
        return record


class WithRationales:
    """Any label method followed by rationales for the documents it labelled."""

    def __init__(self, inner: LabelMethod, writer: RationaleWriter) -> None:
        self.inner = inner
        self.writer = writer
        self.name = inner.name
        self.uses_prerank = inner.uses_prerank
        self.candidate_depth = inner.candidate_depth

    def label_query(
        self, query: Query, candidates: list[tuple[str, float]], corpus: Corpus
    ) -> LabelRecord:
        return self.writer.add_rationales(self.inner.label_query(query, candidates, corpus), corpus)
