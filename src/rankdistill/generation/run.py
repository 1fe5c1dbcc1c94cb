"""Generate training queries for the passages of a corpus: the ``generate`` entry point.

Output folder layout::

    out_dir/passages.jsonl          one record per passage, appended as each is written
                                    (its queries, LLM calls, tokens, parse problems)
    out_dir/queries.jsonl           the queries that passed the filters (GeneratedQuery)
    out_dir/generation_summary.json counts per filter, query lengths, tokens
    out_dir/generation_config.json  the GenerationConfig used
    out_dir/llm_cache.sqlite        every LLM call, when the backend is built here

Resuming: passages already in ``passages.jsonl`` are skipped, and the LLM calls of a
passage that was cut off come from the cache. The filters are deterministic, so
``queries.jsonl`` and the summary are rewritten from the passage records on every run.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rankdistill.data.corpus import Exclusion
from rankdistill.data.records import Document, LabelRecord
from rankdistill.generation.config import GenerationConfig
from rankdistill.generation.crop import sample_passages
from rankdistill.generation.filters import FilterReport, apply_filters
from rankdistill.generation.llm import FewShotExample
from rankdistill.generation.methods import record_queries
from rankdistill.generation.records import GeneratedQuery
from rankdistill.generation.scaleout import PASSAGES_FILE, passage_data, write_passages
from rankdistill.labeling.backends.base import LLMBackend
from rankdistill.labeling.store import LabelStore
from rankdistill.utils import atomic_write_json, write_jsonl

QUERIES_FILE = "queries.jsonl"
SUMMARY_FILE = "generation_summary.json"
CONFIG_FILE = "generation_config.json"


# The settings a stored passage record depends on. The others (filters, budget, passage
# count, scale-out) may change between runs on one folder: the stored queries are reused.
WRITER_SETTINGS = (
    "method",
    "style",
    "per_passage",
    "min_passage_words",
    "seed",
    "template",
    "shots",
    "max_doc_words",
    "max_query_words",
    "max_new_tokens",
)
WRITER_BACKEND_SETTINGS = ("kind", "model", "gguf_file", "temperature")


class GenerationSettingsChanged(ValueError):
    """The output folder holds queries written with other settings."""


def check_writer_settings(out_dir: Path, cfg: GenerationConfig) -> None:
    """Refuse to extend passage records that other writer settings produced."""
    config_path, store_path = out_dir / CONFIG_FILE, out_dir / PASSAGES_FILE
    if not (config_path.is_file() and store_path.is_file()):
        return
    old = json.loads(config_path.read_text(encoding="utf-8"))
    new = cfg.model_dump(mode="json")
    changed = [k for k in WRITER_SETTINGS if old.get(k) != new[k]]
    old_backend = old.get("backend") or {}
    changed += [
        f"backend.{k}" for k in WRITER_BACKEND_SETTINGS if old_backend.get(k) != new["backend"][k]
    ]
    if changed:
        raise GenerationSettingsChanged(
            f"{store_path} holds queries written with other settings ({', '.join(changed)}); "
            "write to a new folder or delete that file"
        )


@dataclass
class GenerationResult:
    """What a generation run made (the ``generate`` stage's output)."""

    queries_path: str
    summary_path: str
    passages: int  # passages that were asked for queries
    generated: int  # queries written, before the filters
    kept: int  # queries in queries.jsonl
    parse_failures: dict[str, int]
    filters: list[dict[str, Any]]  # one FilterReport each, in the order applied
    query_words: dict[str, float]  # length distribution of the kept queries
    tokens: dict[str, float]


def eligible_passages(
    corpus: Mapping[str, Document], cfg: GenerationConfig, exclusion: Exclusion | None = None
) -> list[str]:
    """The docids that get queries: long enough, not evaluation passages, seeded sample."""
    usable = {
        d: doc
        for d, doc in corpus.items()
        if len(doc.text.split()) >= cfg.min_passage_words
        and (exclusion is None or not exclusion.blocks_document(doc))
    }
    return sample_passages(usable, cfg.max_passages, cfg.seed)


def length_distribution(queries: Sequence[GeneratedQuery]) -> dict[str, float]:
    """Mean and percentiles of the queries' lengths in words."""
    lengths = sorted(len(q.text.split()) for q in queries)
    if not lengths:
        return {"count": 0}

    def percentile(p: float) -> float:
        # Linear interpolation between closest ranks (numpy's default method).
        position = (len(lengths) - 1) * p
        low = int(position)
        high = min(low + 1, len(lengths) - 1)
        return lengths[low] + (lengths[high] - lengths[low]) * (position - low)

    return {
        "count": len(lengths),
        "mean": statistics.fmean(lengths),
        "min": lengths[0],
        "p10": percentile(0.10),
        "p50": percentile(0.50),
        "p90": percentile(0.90),
        "max": lengths[-1],
    }


def token_accounting(records: Sequence[LabelRecord], generated: int) -> dict[str, float]:
    """LLM calls and tokens of the passage records, in total and per generated query."""
    calls = sum(r.llm_calls for r in records)
    prompt = sum(r.prompt_tokens for r in records)
    completion = sum(r.completion_tokens for r in records)
    per = max(1, generated)
    return {
        "llm_calls": calls,
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "prompt_tokens_per_query": prompt / per,
        "completion_tokens_per_query": completion / per,
    }


def _drop_evaluation_queries(
    queries: list[GeneratedQuery], exclusion: Exclusion | None
) -> tuple[list[GeneratedQuery], FilterReport]:
    kept = [q for q in queries if exclusion is None or not exclusion.blocks_query(q.text)]
    return kept, FilterReport("evaluation_queries", len(queries), len(kept))


def generate_queries(
    corpus: Mapping[str, Document],
    cfg: GenerationConfig,
    out_dir: str | Path,
    backend: LLMBackend | None = None,
    examples: Sequence[FewShotExample] | None = None,
    *,
    exclusion: Exclusion | None = None,
    progress: bool = True,
) -> GenerationResult:
    """Write ``cfg.per_passage`` queries for each selected passage of ``corpus``, filter
    them and write ``queries.jsonl`` and the summary under ``out_dir`` (resumable).

    ``backend``: an LLM backend used as is (in-process runs only); ``None`` builds one
    from ``cfg.backend``, cached at ``out_dir/llm_cache.sqlite`` when ``cfg.cache``.
    ``examples``: real training queries with their passages for the few-shot prompt
    (``None``: the template's own). ``exclusion``: evaluation passages get no query, and a
    generated query whose text is an evaluation query is dropped.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if exclusion is not None:  # also out of the round trip's BM25 index
        corpus = {d: doc for d, doc in corpus.items() if not exclusion.blocks_document(doc)}
    check_writer_settings(out_dir, cfg)
    atomic_write_json(out_dir / CONFIG_FILE, cfg.model_dump(mode="json"))
    docids = eligible_passages(corpus, cfg, exclusion)
    data = passage_data(corpus, docids)
    store = LabelStore(out_dir / PASSAGES_FILE)
    write_passages(data, docids, cfg, out_dir, store, backend, examples, progress)

    by_docid = {r.qid: r for r in store.records() if r.qid in data.queries}
    records = [by_docid[d] for d in docids if d in by_docid]
    generated = [q for r in records for q in record_queries(r)]
    survivors, evaluation = _drop_evaluation_queries(generated, exclusion)
    kept, reports = apply_filters(survivors, corpus, cfg, progress)
    reports.insert(0, evaluation)
    queries_path = write_jsonl(out_dir / QUERIES_FILE, (q.to_dict() for q in kept))

    failures: dict[str, int] = {}
    for record in records:
        for problem, count in record.parse_problems.items():
            failures[problem] = failures.get(problem, 0) + count
    result = GenerationResult(
        queries_path=str(queries_path),
        summary_path=str(out_dir / SUMMARY_FILE),
        passages=len(docids),
        generated=len(generated),
        kept=len(kept),
        parse_failures=dict(sorted(failures.items())),
        filters=[asdict(r) for r in reports],
        query_words=length_distribution(kept),
        tokens=token_accounting(records, len(generated)),
    )
    summary = {
        "method": cfg.method,
        "style": cfg.style,
        **asdict(result),
        "generated_query_words": length_distribution(generated),
    }
    atomic_write_json(out_dir / SUMMARY_FILE, summary)
    return result


_QUERY_FIELDS = {"qid": str, "text": str, "source_docid": str, "method": str}


def read_generated_queries(path: str | Path) -> list[GeneratedQuery]:
    """The queries of a ``queries.jsonl`` written by :func:`generate_queries`; a bad line
    raises naming the file, line and field."""
    from rankdistill.data.errors import DataFormatError
    from rankdistill.utils import iter_jsonl

    known = set(GeneratedQuery.__dataclass_fields__)
    out: list[GeneratedQuery] = []
    for line, obj in iter_jsonl(path):
        for name, kind in _QUERY_FIELDS.items():
            if not isinstance(obj.get(name), kind):
                raise DataFormatError(path, "missing or not a string", line=line, field=name)
        for name in set(obj) - known:
            raise DataFormatError(path, "unknown field", line=line, field=name)
        logprob = obj.get("logprob")
        if logprob is not None and (
            isinstance(logprob, bool) or not isinstance(logprob, int | float)
        ):
            raise DataFormatError(path, "not a number", line=line, field="logprob")
        out.append(GeneratedQuery.from_dict(obj))
    return out
