"""Corpora and query sets for training, from any reader, with evaluation data kept out.

A training source is a corpus (``docid -> Document``) and, optionally, queries with known
positive passages:

- ``rankllm``: the pooled passages of rank_llm candidate files (every first stage of
  every file, deduplicated by docid: the first text seen wins);
- ``beir``: a BEIR folder's ``corpus.jsonl``;
- ``jsonl`` / ``tsv``: a corpus file as :func:`rankdistill.data.loading.read_corpus` reads;
- ``squad``: SQuAD v1.1 JSON; its paragraphs are the corpus and each question is a real
  training query whose own paragraph is a known positive (:func:`read_squad`).

Evaluation data must never reach training. :class:`Exclusion` collects the docids and
normalised query texts of the evaluation sets a config names, and
:func:`exclude` drops them from a source, counting what it dropped.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from rankdistill.data._io import Where, as_id, as_text, load_json
from rankdistill.data.records import Document, Query, RankingData

CorpusFormat = Literal["rankllm", "beir", "jsonl", "tsv", "squad"]


class CorpusSpec(BaseModel):
    """Where one training corpus comes from (see the module docstring for formats)."""

    model_config = ConfigDict(extra="forbid")

    format: CorpusFormat
    paths: list[str] = Field(
        description="Files (rankllm: several are pooled; squad/jsonl/tsv: one or more) or "
        "one BEIR folder."
    )
    name: str | None = Field(None, description="Source name in summaries (default: format).")

    @property
    def label(self) -> str:
        return self.name or self.format


@dataclass
class TrainingSource:
    """A corpus, plus real queries and their known positive passages when the source has them."""

    name: str
    corpus: dict[str, Document]
    queries: dict[str, Query] = field(default_factory=dict)
    positives: dict[str, str] = field(default_factory=dict)  # qid -> docid


def pool_rankllm_corpus(paths: Sequence[str | Path]) -> dict[str, Document]:
    """Every passage of the candidate files, deduplicated by docid (first text wins).

    Each file is read on its own: the same query appears in the BM25, RM3 and SPLADE files
    of one year, which one rank_llm read of them all together would reject.
    """
    from rankdistill.data.rankllm import read_rankllm

    pooled: dict[str, Document] = {}
    for path in paths:
        for docid, doc in read_rankllm(path).corpus.items():
            pooled.setdefault(docid, doc)
    return pooled


def squad_paragraph_id(title: str, index: int) -> str:
    """A stable docid for a SQuAD paragraph: its article title and position."""
    slug = re.sub(r"[^A-Za-z0-9]+", "_", title).strip("_")
    return f"squad-{slug}-{index}"


def read_squad(path: str | Path, name: str = "squad") -> TrainingSource:
    """SQuAD v1.1 JSON: paragraphs as the corpus, questions as queries, each question's
    own paragraph as its known positive. A malformed file names the field at fault."""
    path = Path(path)
    root = load_json(path)
    where = Where(path)
    if not isinstance(root, dict) or not isinstance(root.get("data"), list):
        raise where.error("data", "missing or not a list (expected SQuAD v1.1 JSON)")
    source = TrainingSource(name=name, corpus={})
    for a, article in enumerate(root["data"]):
        _read_squad_article(article, Where(path, prefix=f"data[{a}]"), source)
    return source


def _each_object(
    parent: dict[str, Any], key: str, where: Where
) -> Iterator[tuple[int, Where, dict[str, Any]]]:
    """Each entry of the list ``parent[key]`` with its position, named in errors."""
    items = parent.get(key)
    if not isinstance(items, list):
        raise where.error(key, "missing or not a list")
    for i, item in enumerate(items):
        at = Where(where.path, prefix=where.field_name(f"{key}[{i}]"))
        if not isinstance(item, dict):
            raise at.error("", "must be an object")
        yield i, at, item


def _read_squad_article(article: Any, where: Where, source: TrainingSource) -> None:
    if not isinstance(article, dict):
        raise where.error("", "must be an object")
    title = as_text(article.get("title"), "title", where).replace("_", " ")
    for p, at, paragraph in _each_object(article, "paragraphs", where):
        docid = squad_paragraph_id(title, p)
        source.corpus[docid] = Document(
            docid, as_text(paragraph.get("context"), "context", at), title
        )
        for _, q_at, qa in _each_object(paragraph, "qas", at):
            qid = as_id(qa.get("id"), "id", q_at)
            if qid in source.queries:
                raise q_at.error("id", f"duplicate question id {qid!r}")
            source.queries[qid] = Query(qid, as_text(qa.get("question"), "question", q_at).strip())
            source.positives[qid] = docid


def read_training_source(spec: CorpusSpec, base_dir: Path | None = None) -> TrainingSource:
    """One training source as its spec describes (relative paths resolve against ``base_dir``)."""
    from rankdistill.data.loading import read_corpus

    paths = [p if Path(p).is_absolute() or base_dir is None else base_dir / p for p in spec.paths]
    if not paths:
        raise ValueError(f"corpus source {spec.label!r}: 'paths' is empty")
    if spec.format == "squad":
        sources = [read_squad(p, spec.label) for p in paths]
        merged = TrainingSource(name=spec.label, corpus={})
        for s in sources:
            merged.corpus.update(s.corpus)
            merged.queries.update(s.queries)
            merged.positives.update(s.positives)
        return merged
    if spec.format == "rankllm":
        return TrainingSource(spec.label, pool_rankllm_corpus(paths))
    corpus: dict[str, Document] = {}
    for path in paths:
        file = Path(path) / "corpus.jsonl" if spec.format == "beir" else path
        for docid, doc in read_corpus(file).items():
            corpus.setdefault(docid, doc)
    return TrainingSource(spec.label, corpus)


def normalise_query(text: str) -> str:
    """Lower-case words only: how query texts are compared for exclusion and duplicates."""
    return " ".join(re.findall(r"\w+", text.lower()))


@dataclass
class Exclusion:
    """Docids and normalised query texts that training must never see."""

    docids: set[str] = field(default_factory=set)
    query_texts: set[str] = field(default_factory=set)
    # Hashes of normalised passage texts: the same passage under another docid (MS MARCO
    # v1 vs v2 ids, say) is still an evaluation passage.
    text_hashes: set[str] = field(default_factory=set)

    @classmethod
    def from_datasets(cls, datasets: Iterable[RankingData]) -> Exclusion:
        out = cls()
        for data in datasets:
            out.add(data)
        return out

    def add(self, data: RankingData) -> None:
        self.query_texts.update(normalise_query(q.text) for q in data.queries.values())
        self.docids.update(data.corpus)
        # Judged documents count too, also those outside the candidates' texts.
        self.docids.update(d for judged in (data.qrels or {}).values() for d in judged)
        self.text_hashes.update(_text_hash(d.text) for d in data.corpus.values())

    def blocks_document(self, doc: Document) -> bool:
        return doc.docid in self.docids or _text_hash(doc.text) in self.text_hashes

    def blocks_query(self, text: str) -> bool:
        return normalise_query(text) in self.query_texts


def _text_hash(text: str) -> str:
    return hashlib.sha1(normalise_query(text).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class ExclusionCounts:
    documents: int
    queries: int

    def as_dict(self) -> dict[str, int]:
        return {"documents_dropped": self.documents, "queries_dropped": self.queries}


def exclude(source: TrainingSource, exclusion: Exclusion) -> tuple[TrainingSource, ExclusionCounts]:
    """The source without evaluation passages and queries.

    A query is dropped when its text is an evaluation query, or when its known positive
    is an evaluation passage (it would be trained towards that passage).
    """
    corpus = {d: doc for d, doc in source.corpus.items() if not exclusion.blocks_document(doc)}
    queries = {
        q: query
        for q, query in source.queries.items()
        if not exclusion.blocks_query(query.text)
        and (q not in source.positives or source.positives[q] in corpus)
    }
    positives = {q: d for q, d in source.positives.items() if q in queries}
    counts = ExclusionCounts(len(source.corpus) - len(corpus), len(source.queries) - len(queries))
    return TrainingSource(source.name, corpus, queries, positives), counts
