"""``generate``: extra training sources beside ``data.train`` (``generate.sources``).

Each source is a corpus with queries whose known positive passage is known: a SQuAD
question and its own paragraph, or a query generated for a passage
(:func:`~rankdistill.generation.run.generate_queries`) and that passage. Evaluation data
is kept out by construction: the docids, passage texts and query texts of the dev split
and of ``generate.exclude`` are dropped from every source before any query is made.

Per source it writes ``RUN_DIR/generate/<name>/queries.jsonl`` (``qid``, ``text``,
``known_positive``; qids are ``<name>/<qid>``) and ``corpus.jsonl``. The ``retrieve``
stage gives the queries BM25 candidates over their own corpus, and from then on the train
split is ``data.train`` plus every source (:func:`with_training_sources`). With no source
the stage is idle: it writes nothing and the stages after it do not depend on it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from rankdistill.pipeline.context import RunContext
from rankdistill.pipeline.stage import Stage
from rankdistill.pipeline.stages.select import SELECT

if TYPE_CHECKING:
    from rankdistill.config import RunConfig
    from rankdistill.data.corpus import Exclusion, TrainingSource
    from rankdistill.data.records import RankingData, Run
    from rankdistill.generation.config import TrainingSourceConfig
    from rankdistill.generation.llm import FewShotExample
    from rankdistill.generation.run import GenerationResult
    from rankdistill.retrieval.config import RetrievalConfig

QUERIES_FILE = "queries.jsonl"
CORPUS_FILE = "corpus.jsonl"
MERGED = "train+sources"


@dataclass
class SourceOutput:
    """What one source holds after exclusion (and generation)."""

    name: str
    folder: str
    queries: int
    documents: int
    positives: int
    documents_excluded: int
    queries_excluded: int
    method: str  # the generation method, or "questions" for the corpus's own
    # Queries each filter kept, in the order applied (generated sources only).
    filters: dict[str, int] = field(default_factory=dict)
    generated: int | None = None  # queries written before the filters


@dataclass
class GenerateOutput:
    sources: list[SourceOutput]
    skipped: str | None = None


def no_sources(config: RunConfig) -> bool:
    return not config.generate.sources


def generate(ctx: RunContext) -> GenerateOutput:
    cfg = ctx.config.generate
    if not cfg.sources:
        return GenerateOutput([], skipped="generate.sources is empty")
    exclusion = evaluation_exclusion(ctx)
    made = []
    for index, source_cfg in enumerate(cfg.sources):
        folder = ctx.stage_dir(GENERATE) / source_cfg.name
        made.append(make_source(ctx, index, source_cfg, exclusion, folder))
    return GenerateOutput(made)


def evaluation_exclusion(ctx: RunContext) -> Exclusion:
    """The dev split and every ``generate.exclude`` set, as one :class:`Exclusion`."""
    from rankdistill.data.corpus import Exclusion
    from rankdistill.data.loading import load_dataset

    exclusion = Exclusion.from_datasets([ctx.raw("dev")])
    for spec in ctx.config.generate.exclude:
        exclusion.add(load_dataset(spec, base_dir=ctx.base_dir))
    return exclusion


def make_source(
    ctx: RunContext,
    index: int,
    cfg: TrainingSourceConfig,
    exclusion: Exclusion,
    folder: Path,
) -> SourceOutput:
    """Read one source, drop evaluation data, take or generate its queries, write them."""
    from rankdistill.data.corpus import exclude, read_training_source
    from rankdistill.data.jsonl import write_corpus_jsonl

    source, dropped = exclude(read_training_source(cfg.corpus, ctx.base_dir), exclusion)
    if not source.corpus:
        raise ValueError(
            f"generate.sources.{index} ({cfg.name}): no passage is left once the evaluation "
            "data is kept out"
        )
    filters: dict[str, int] = {}
    generated = None
    if cfg.generation is None:
        if not source.queries:
            raise ValueError(
                f"generate.sources.{index}.generation: the corpus ({cfg.corpus.format}) has no "
                "questions of its own; give the source a generation section"
            )
        method = "questions"
        keep = seeded_sample(sorted(source.queries), cfg.max_queries, cfg.seed)
        rows = [(q, source.queries[q].text, source.positives.get(q)) for q in keep]
    else:
        method = cfg.generation.method
        result, rows = generated_queries(ctx, cfg, source, exclusion, folder / "generation")
        generated = result.generated
        filters = {str(f["name"]): int(f["kept"]) for f in result.filters}
    write_source_queries(folder / QUERIES_FILE, cfg.name, rows)
    write_corpus_jsonl(source.corpus, folder / CORPUS_FILE)
    return SourceOutput(
        name=cfg.name,
        folder=str(folder),
        queries=len(rows),
        documents=len(source.corpus),
        positives=sum(positive is not None for _, _, positive in rows),
        documents_excluded=dropped.documents,
        queries_excluded=dropped.queries,
        method=method,
        filters=filters,
        generated=generated,
    )


def generated_queries(
    ctx: RunContext,
    cfg: TrainingSourceConfig,
    source: TrainingSource,
    exclusion: Exclusion,
    out_dir: Path,
) -> tuple[GenerationResult, list[tuple[str, str, str | None]]]:
    """Queries written for the source's passages (resumable in ``out_dir``)."""
    from rankdistill.generation.run import generate_queries, read_generated_queries

    assert cfg.generation is not None
    gen_cfg = cfg.generation
    if cfg.max_queries is not None:
        budget = min(cfg.max_queries, gen_cfg.max_queries or cfg.max_queries)
        gen_cfg = gen_cfg.model_copy(update={"max_queries": budget})
    result = generate_queries(
        source.corpus,
        gen_cfg,
        out_dir,
        examples=few_shot_examples(ctx, exclusion) if gen_cfg.method == "llm" else None,
        exclusion=exclusion,
        progress=False,
    )
    rows = [(q.qid, q.text, q.source_docid) for q in read_generated_queries(result.queries_path)]
    return result, rows


def few_shot_examples(ctx: RunContext, exclusion: Exclusion) -> list[FewShotExample] | None:
    """The real training queries with their top candidate, evaluation queries left out
    (``None`` when ``data.train`` has no ranked queries: the template's own examples)."""
    from rankdistill.generation.llm import examples_from_ranking

    shots = [
        e
        for e in examples_from_ranking(ctx.data("train", sources=False))
        if not exclusion.blocks_query(e.query)
    ]
    return shots or None


def seeded_sample(ids: list[str], n: int | None, seed: int) -> list[str]:
    """``n`` of ``ids`` drawn without replacement, the same for the same seed and ids."""
    order = sorted(ids, key=lambda i: hashlib.sha256(f"{seed}:{i}".encode()).hexdigest())
    return order if n is None else order[:n]


def write_source_queries(path: Path, name: str, rows: list[tuple[str, str, str | None]]) -> Path:
    from rankdistill.utils import write_jsonl

    return write_jsonl(
        path,
        ({"qid": f"{name}/{qid}", "text": text, "known_positive": pos} for qid, text, pos in rows),
    )


def read_source(folder: str | Path) -> tuple[RankingData, dict[str, str]]:
    """One source as the stage wrote it: its queries and corpus, and qid -> known positive."""
    from rankdistill.data.jsonl import read_corpus_jsonl, read_queries_jsonl
    from rankdistill.data.records import RankingData
    from rankdistill.utils import iter_jsonl

    folder = Path(folder)
    queries = read_queries_jsonl(folder / QUERIES_FILE)
    positives = {
        str(obj["qid"]): str(obj["known_positive"])
        for _, obj in iter_jsonl(folder / QUERIES_FILE)
        if obj.get("known_positive") is not None
    }
    return RankingData(queries, read_corpus_jsonl(folder / CORPUS_FILE)), positives


@dataclass
class SourceCandidates:
    """The first stage of one source's queries (the ``retrieve`` stage's summary)."""

    queries: int
    candidates: int  # BM25 top-k over the source's corpus
    positives_retrieved: int  # known positives BM25 ranked in that top k
    positives_added: int  # known positives it missed, added below its last candidate


def source_candidates(
    ctx: RunContext, retrieval: RetrievalConfig
) -> tuple[Run, dict[str, SourceCandidates]]:
    """BM25's top ``candidates`` of every source query over its own source's corpus, with
    the query's known positive added when BM25 misses it."""
    from rankdistill.retrieval.bm25 import BM25Retriever

    run: Run = {}
    counts: dict[str, SourceCandidates] = {}
    by_name = {s.name: s for s in ctx.config.generate.sources}
    for made in ctx.output(GENERATE).sources:
        k = by_name[made.name].candidates
        data, positives = read_source(made.folder)
        found: Run = {}
        if data.queries:
            bm25 = BM25Retriever(retrieval.model_copy(update={"k": k}), progress=False)
            found = bm25.index(data.corpus).retrieve(data.queries, k)
        retrieved = added = 0
        for qid in data.queries:
            scores = found.setdefault(qid, {})
            positive = positives.get(qid)
            if positive is None:
                continue
            if positive in scores:
                retrieved += 1
            else:  # a known positive: the teacher must see it, after BM25's own top k
                scores[positive] = min(scores.values(), default=1.0) - 1e-3
                added += 1
        run.update(found)
        counts[made.name] = SourceCandidates(len(data.queries), k, retrieved, added)
    return run, counts


def training_source_notes(ctx: RunContext) -> list[str]:
    """The report's line on the training queries per source (none without sources)."""
    from rankdistill.pipeline.stages.retrieve import RETRIEVE

    if no_sources(ctx.config) or not ctx.is_done(GENERATE) or not ctx.is_done(RETRIEVE):
        return []
    retrieved = ctx.output(RETRIEVE).sources or {}
    parts = [f"{len(ctx.data('train', sources=False).queries)} from data.train"]
    for made in ctx.output(GENERATE).sources:
        first = retrieved.get(made.name)
        text = f"{made.queries} from {made.name} ({made.method}, {made.documents} passages"
        if first is not None:
            text += (
                f"; BM25 top {first.candidates}, known positive retrieved for "
                f"{first.positives_retrieved}, added for {first.positives_added}"
            )
        excluded = f"{made.documents_excluded} passages, {made.queries_excluded} queries"
        parts.append(f"{text}; evaluation data kept out: {excluded})")
    return [f"Training queries: {'; '.join(parts)}."]


def known_positives(ctx: RunContext) -> dict[str, str]:
    """qid -> known positive docid of every source query (empty without sources)."""
    if no_sources(ctx.config) or not ctx.is_done(GENERATE):
        return {}
    out: dict[str, str] = {}
    for source in ctx.output(GENERATE).sources:
        out.update(read_source(source.folder)[1])
    return out


def with_training_sources(
    ctx: RunContext, data: RankingData, cache: dict[str, RankingData]
) -> RankingData:
    """``data`` (the selected ``data.train`` queries) plus every source's queries and
    corpus, built once per run context so that every stage shares one corpus object."""
    if no_sources(ctx.config) or not ctx.is_done(GENERATE):
        return data
    if MERGED not in cache:
        parts = [("data.train", data)]
        parts += [(s.name, read_source(s.folder)[0]) for s in ctx.output(GENERATE).sources]
        cache[MERGED] = merge_training_data(parts)
    return cache[MERGED]


def merge_training_data(parts: list[tuple[str, RankingData]]) -> RankingData:
    """The union of the parts' queries and corpora; a docid two parts give different
    texts (or a qid both hold) is an error, not a silent overwrite."""
    from rankdistill.data.records import Document, Query, RankingData

    queries: dict[str, Query] = {}
    corpus: dict[str, Document] = {}
    candidates: Run = {}
    origin: dict[str, str] = {}
    for name, part in parts:
        for qid, query in part.queries.items():
            if qid in queries:
                raise ValueError(f"training source {name!r}: query id {qid!r} is used twice")
            queries[qid] = query
        candidates.update(part.candidates)
        for docid, doc in part.corpus.items():
            seen = corpus.get(docid)
            if seen is not None and seen.full_text != doc.full_text:
                raise ValueError(
                    f"training source {name!r}: docid {docid!r} names another text in "
                    f"{origin[docid]!r}; give one of the corpora other docids"
                )
            if seen is None:
                corpus[docid], origin[docid] = doc, name
    return RankingData(queries, corpus, candidates)


GENERATE = Stage(
    "generate",
    ("generate",),
    (SELECT,),
    GenerateOutput,
    generate,
    help="extra training sources: real or generated queries",
    idle=no_sources,
)
