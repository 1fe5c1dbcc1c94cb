"""InPars / Promptagator: an LLM writes a query for a passage after a few examples.

The prompt is a versioned template shipped as YAML package data in
``generation/prompts/`` (``generate-keyword``, ``generate-question``, ``generate-tail``:
one per query style). A template holds ``id``, ``version``, ``description``, an optional
``system`` message, a ``user`` message with the placeholders ``{examples}`` and
``{passage}``, an ``example_format`` with ``{passage}`` and ``{query}`` that renders one
example, and built-in ``examples``. As with the labelling prompts, an unknown placeholder
is rejected when the template is loaded, and field values are inserted verbatim.

The few-shot examples are real training queries with their passages when the caller
gives some (:func:`examples_from_ranking`: each query with its top first-stage passage),
else the template's own. The prompts of a passage show different windows of one shuffle
of the examples (seeded by the seed and the docid), so they are different calls: the LLM
cache answers each distinct prompt once (with no examples, or more prompts than the pool
has windows, prompts repeat and so do their answers). With ``example_order: fixed`` the
shuffle is one for all passages, as InPars' fixed examples: every first prompt then starts
with the same examples, and a backend that keeps the KV cache of a shared prefix
(llama.cpp, vLLM) reads only the new passage. The prompts are the same in every rerun and
shard and they are the cache's keys: a killed run resumes without repeating a call.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import KW_ONLY, dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from rankdistill.data.errors import DataFormatError
from rankdistill.data.records import Document, RankingData
from rankdistill.generation.crop import seeded_rng
from rankdistill.generation.methods import PassageQueries, PassageQueryWriter
from rankdistill.generation.records import GeneratedQuery
from rankdistill.labeling.backends.base import ChatMessages, Generation, LLMBackend
from rankdistill.labeling.prompts import (
    check_placeholders,
    check_template_keys,
    clean_passage,
    placeholders,
)

if TYPE_CHECKING:
    from rankdistill.generation.config import ExampleOrder, GenerationConfig

METHOD = "llm"
MESSAGE_FIELDS = frozenset({"examples", "passage"})
EXAMPLE_FIELDS = frozenset({"passage", "query"})
_KEYS = {"id", "version", "description", "system", "user", "example_format", "examples"}
# Labels a model may put before its query ("Query:", "1.", "- ", quotes).
_LEADING_LABEL = re.compile(r"^\s*(?:(?:search\s+)?(?:query|question)\s*\d*\s*[:\-]\s*)", re.I)
_LEADING_BULLET = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s+")
EMPTY = "empty"
TOO_LONG = "too_long"


@dataclass(frozen=True)
class FewShotExample:
    """A real (or built-in) query and the passage it was asked about."""

    query: str
    passage: str


@dataclass(frozen=True)
class GenerationTemplate:
    id: str
    version: str
    description: str
    user: str
    example_format: str
    examples: tuple[FewShotExample, ...]
    system: str | None = None

    def render(self, passage: str, examples: Sequence[FewShotExample]) -> ChatMessages:
        """Chat messages asking for one query about ``passage`` after ``examples``."""
        shown = "\n\n".join(
            self.example_format.format_map({"passage": e.passage, "query": e.query})
            for e in examples
        )
        values = {"examples": shown, "passage": passage}
        messages: ChatMessages = []
        if self.system:
            messages.append({"role": "system", "content": self.system.format_map(values)})
        messages.append({"role": "user", "content": self.user.format_map(values)})
        return messages


def _parse_examples(items: Any, source: str) -> tuple[FewShotExample, ...]:
    if items is None:
        return ()
    if not isinstance(items, list):
        raise DataFormatError(source, "must be a list of {passage, query}", field="examples")
    out = []
    for i, item in enumerate(items):
        if not isinstance(item, dict) or not item.get("passage") or not item.get("query"):
            raise DataFormatError(
                source, "needs a non-empty passage and query", field=f"examples[{i}]"
            )
        out.append(FewShotExample(str(item["query"]).strip(), str(item["passage"]).strip()))
    return tuple(out)


def parse_generation_template(data: Any, source: str) -> GenerationTemplate:
    """Validate a template mapping read from ``source`` (a file name for errors)."""
    check_template_keys(data, source, ("id", "version", "user", "example_format"), _KEYS)
    template = GenerationTemplate(
        id=str(data["id"]),
        version=str(data["version"]),
        description=str(data.get("description", "")),
        user=str(data["user"]),
        example_format=str(data["example_format"]),
        examples=_parse_examples(data.get("examples"), source),
        system=None if data.get("system") is None else str(data["system"]),
    )
    check_placeholders(source, "user", template.user, MESSAGE_FIELDS)
    check_placeholders(source, "system", template.system or "", MESSAGE_FIELDS)
    check_placeholders(source, "example_format", template.example_format, EXAMPLE_FIELDS)
    if "passage" not in placeholders(template.user):
        raise DataFormatError(source, "must contain {passage}", field="user")
    return template


def _template_dir() -> Any:
    return resources.files("rankdistill.generation") / "prompts"


def list_generation_templates() -> list[str]:
    """Ids of the generation templates shipped with the package."""
    return sorted(
        p.name.removesuffix(".yaml") for p in _template_dir().iterdir() if p.name.endswith(".yaml")
    )


def _read_yaml(text: str, source: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise DataFormatError(source, f"invalid YAML: {exc}") from exc


@cache
def load_generation_template(template_id: str) -> GenerationTemplate:
    """A shipped template by id, or a user's template given as a path to a YAML file."""
    if template_id.endswith((".yaml", ".yml")) and Path(template_id).is_file():
        path = Path(template_id)
        return parse_generation_template(_read_yaml(path.read_text("utf-8"), str(path)), str(path))
    shipped = list_generation_templates()
    if template_id not in shipped:
        raise KeyError(
            f"unknown generation template {template_id!r}; shipped: {', '.join(shipped)} "
            "(or give a path to a .yaml file)"
        )
    source = f"<template {template_id}>"
    text = (_template_dir() / f"{template_id}.yaml").read_text(encoding="utf-8")
    template = parse_generation_template(_read_yaml(text, source), source)
    if template.id != template_id:
        raise DataFormatError(source, f"id {template.id!r} differs from the file name", field="id")
    return template


def default_template_id(style: str) -> str:
    return f"generate-{style}"


def examples_from_ranking(
    data: RankingData, limit: int | None = None, max_words: int = 80
) -> list[FewShotExample]:
    """Each query of ``data`` with its top-ranked candidate passage, in query order."""
    out: list[FewShotExample] = []
    for qid, query in data.queries.items():
        top = data.candidate_list(qid, 1).docs
        if not top or top[0].docid not in data.corpus or not query.text.strip():
            continue
        passage = clean_passage(data.corpus[top[0].docid].full_text, max_words)
        out.append(FewShotExample(query.text.strip(), passage))
        if limit is not None and len(out) >= limit:
            break
    return out


def parse_query(text: str, max_words: int) -> tuple[str | None, str | None]:
    """``(query, None)`` from an answer's first non-empty line, or ``(None, problem)``."""
    line = next((ln for ln in text.splitlines() if ln.strip()), "")
    line = _LEADING_BULLET.sub("", _LEADING_LABEL.sub("", line))
    query = " ".join(line.strip().strip("\"'“”‘’`").split())
    if not query:
        return None, EMPTY
    if len(query.split()) > max_words:
        return None, TOO_LONG
    return query, None


@dataclass(eq=False)  # a writer is compared by identity, as any backend user
class LLMQueryWriter(PassageQueryWriter):
    """Few-shot query writing through any labelling backend."""

    name = METHOD

    backend: LLMBackend
    template: GenerationTemplate
    examples: Sequence[FewShotExample] | None = None
    _: KW_ONLY
    per_passage: int = 1
    shots: int = 3
    example_order: ExampleOrder = "per-passage"
    seed: int = 13
    max_doc_words: int = 160
    max_query_words: int = 48
    max_new_tokens: int = 48
    temperature: float = 0.0

    def __post_init__(self) -> None:
        self.examples = list(self.examples) if self.examples else list(self.template.examples)
        self.teacher = self.backend.model_id
        self.template_id = self.template.id
        self.template_version = self.template.version

    @classmethod
    def from_config(
        cls,
        cfg: GenerationConfig,
        backend: LLMBackend,
        examples: Sequence[FewShotExample] | None,
    ) -> LLMQueryWriter:
        """A writer with a :class:`~rankdistill.generation.config.GenerationConfig`'s settings."""
        template = load_generation_template(cfg.template or default_template_id(cfg.style))
        return cls(
            backend,
            template,
            examples,
            per_passage=cfg.per_passage,
            shots=cfg.shots,
            example_order=cfg.example_order,
            seed=cfg.seed,
            max_doc_words=cfg.max_doc_words,
            max_query_words=cfg.max_query_words,
            max_new_tokens=cfg.max_new_tokens,
            temperature=cfg.backend.temperature,
        )

    def shots_for(self, doc: Document, index: int) -> list[FewShotExample]:
        """The examples of ``doc``'s ``index``-th prompt (never ``doc`` itself).

        The pool is shuffled (once per passage, or once for all with ``example_order:
        fixed``) and prompt ``index`` takes the ``shots`` examples from position
        ``index * shots`` on, cyclically: a passage's prompts show different examples (so
        they are different calls) while the pool allows it.
        """
        text = clean_passage(doc.full_text)
        pool = [e for e in self.examples if clean_passage(e.passage) != text]
        if not pool or self.shots == 0:
            return []
        key = doc.docid if self.example_order == "per-passage" else "fixed"
        order = seeded_rng(self.seed, key).sample(pool, len(pool))
        start = index * self.shots
        return [order[(start + j) % len(order)] for j in range(min(self.shots, len(order)))]

    def prompt(self, doc: Document, index: int) -> ChatMessages:
        passage = clean_passage(doc.full_text, self.max_doc_words)
        return self.template.render(passage, self.shots_for(doc, index))

    def write(self, doc: Document) -> PassageQueries:
        return self.write_many([doc])[0]

    def write_many(self, docs: Sequence[Document]) -> list[PassageQueries]:
        """Every prompt of ``docs`` in one backend call (local backends batch them)."""
        prompts = [self.prompt(doc, i) for doc in docs for i in range(self.per_passage)]
        generations = self.backend.generate(prompts, self.max_new_tokens, self.temperature)
        n = self.per_passage
        return [self._queries(doc, generations[k * n : (k + 1) * n]) for k, doc in enumerate(docs)]

    def _queries(self, doc: Document, generations: Sequence[Generation]) -> PassageQueries:
        made = PassageQueries([], generations=list(generations))
        for index, generation in enumerate(generations):
            text, problem = parse_query(generation.text, self.max_query_words)
            if text is None:
                made.problems.append(problem or EMPTY)
                continue
            made.queries.append(
                GeneratedQuery(
                    qid=f"{METHOD}-{doc.docid}-{index}",
                    text=text,
                    source_docid=doc.docid,
                    method=METHOD,
                    logprob=mean_logprob(generation),
                    extra={
                        "prompt_tokens": generation.prompt_tokens,
                        "completion_tokens": generation.completion_tokens,
                    },
                )
            )
        return made


def mean_logprob(generation: Generation) -> float | None:
    """The answer's mean token log-probability (InPars' score), if the backend gave one."""
    if generation.logprob is None:
        return None
    return generation.logprob / max(1, generation.completion_tokens)
