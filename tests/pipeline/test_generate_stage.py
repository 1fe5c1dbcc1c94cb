"""The ``generate`` stage: extra training sources (generated and SQuAD queries) joined to
the train split, evaluation data kept out, and no change to runs that have no source."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from rankdistill.config import load_config
from rankdistill.data.builtin import builtin_dataset
from rankdistill.data.corpus import normalise_query
from rankdistill.data.trec import read_trec_run
from rankdistill.labeling.store import read_labels
from rankdistill.pipeline import GENERATE, RETRIEVE, SELECT, TRAIN, RunContext, run_pipeline
from rankdistill.pipeline.stages.generate import training_source_notes

TOPICS = [
    ("harbour", "ships", "cranes", "tides"),
    ("orchard", "apples", "frost", "bees"),
    ("library", "manuscripts", "readers", "candles"),
    ("observatory", "telescopes", "comets", "nights"),
    ("bakery", "ovens", "flour", "mornings"),
    ("railway", "engines", "tunnels", "signals"),
    ("vineyard", "grapes", "cellars", "harvests"),
    ("glacier", "ice", "valleys", "meltwater"),
    ("market", "spices", "traders", "stalls"),
    ("forge", "iron", "hammers", "sparks"),
    ("lighthouse", "lamps", "storms", "keepers"),
    ("meadow", "horses", "grass", "fences"),
]
# The first dev queries (data.dev.max_queries keeps these) and passages with 20+ words.
DEV_QUERIES = 3


def _passage(i: int, place: str, a: str, b: str, c: str) -> str:
    return (
        f"The {place} of Varnholt number {i} is known for its {a}. Every season the {b} "
        f"of the {place} draw visitors from far away, and the locals speak proudly of "
        f"the {c} that shape daily life around the old {place} of Varnholt."
    )


def _dev() -> Any:
    dev = builtin_dataset("dev")
    return dev.subset(list(dev.queries)[:DEV_QUERIES])


def _dev_passages(n: int) -> list[Any]:
    dev = builtin_dataset("dev")
    return [d for d in dev.corpus.values() if len(d.text.split()) >= 20][:n]


def write_corpus(path: Path) -> tuple[set[str], set[str]]:
    """Fresh passages plus dev passages (one under its own docid, one under a new docid:
    only its text betrays it); returns (fresh docids, dev docids as written)."""
    rows = [
        {"docid": f"fresh-{i}", "text": _passage(i, *topic)} for i, topic in enumerate(TOPICS * 2)
    ]
    leaked = _dev_passages(2)
    rows.append({"docid": leaked[0].docid, "text": leaked[0].text})
    rows.append({"docid": "renamed-dev-passage", "text": leaked[1].text})
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return {r["docid"] for r in rows[:-2]}, {leaked[0].docid, "renamed-dev-passage"}


def write_squad(path: Path) -> dict[str, str]:
    """A tiny SQuAD v1.1 file: question id -> its paragraph's docid, for the questions
    that must survive. One question repeats a dev query, one asks about a dev passage."""
    dev_query = next(iter(_dev().queries.values())).text
    dev_passage = _dev_passages(3)[2].text
    paragraphs = [
        {
            "context": _passage(100 + i, *topic),
            "qas": [
                {"id": f"q{i}a", "question": f"What is the {topic[0]} of Varnholt known for?"},
                {"id": f"q{i}b", "question": f"Which {topic[2]} shape life at the {topic[0]}?"},
            ],
        }
        for i, topic in enumerate(TOPICS[:5])
    ]
    paragraphs[0]["qas"].append({"id": "leak-query", "question": dev_query.upper() + " ?"})
    paragraphs.append({"context": dev_passage, "qas": [{"id": "leak-doc", "question": "Who?"}]})
    root = {"version": "1.1", "data": [{"title": "Varnholt", "paragraphs": paragraphs}]}
    path.write_text(json.dumps(root), encoding="utf-8")
    return {f"q{i}{s}": f"squad-Varnholt-{i}" for i in range(5) for s in "ab"}


def config(tmp_path: Path, sources: list[dict[str, Any]], train: str = "none") -> Any:
    student = {
        "student": "cross-encoder",
        "max_steps": 2,
        "group_size": 4,
        "batch_size": 2,
        "max_length": 64,
        "eval_steps": 1000,
        "known_positive": "floor",
    }
    return load_config(
        "demo",
        [
            f"output_dir={tmp_path / 'run'}",
            f"data.train={json.dumps({'format': train, 'split': 'train'})}",
            f"data.dev.max_queries={DEV_QUERIES}",
            "selection.enabled=false",
            "retrieval.k=8",
            "labeling.method=ranker",
            "labeling.ranker_models=[bi-encoder:minilm-l6]",
            "labeling.prerank.scorer=first-stage",
            "labeling.prerank.candidates=10",
            "evaluation.teacher_on_dev=false",
            f"training.students=[{json.dumps(student)}]",
            f"generate.sources={json.dumps(sources)}",
        ],
    )


def sources(tmp_path: Path) -> list[dict[str, Any]]:
    crop = {"method": "crop", "filters": {"round_trip": {"k": 5}}}
    return [
        {
            "name": "crop",
            "corpus": {"format": "jsonl", "paths": [str(tmp_path / "corpus.jsonl")]},
            "generation": crop,
            "candidates": 5,
        },
        {
            "name": "squad",
            "corpus": {"format": "squad", "paths": [str(tmp_path / "squad.json")]},
            "candidates": 4,
        },
    ]


@pytest.mark.slow
def test_generate_retrieve_label_train_keeps_evaluation_data_out(tmp_path: Path) -> None:
    fresh, dev_written = write_corpus(tmp_path / "corpus.jsonl")
    squad_positives = write_squad(tmp_path / "squad.json")
    cfg = config(tmp_path, sources(tmp_path))
    ctx = run_pipeline(cfg, until="train")

    # No evaluation passage or query anywhere in the train split or its labels.
    dev = _dev()
    dev_texts = {normalise_query(q.text) for q in dev.queries.values()}
    dev_hashes = {
        hashlib.sha1(normalise_query(d.text).encode()).hexdigest() for d in dev.corpus.values()
    }
    retrieved = ctx.output(RETRIEVE)
    run = read_trec_run(retrieved.runs["train"])
    train = ctx.data("train", retrieved.runs["train"])
    labels = read_labels(ctx.run_dir / "label" / "train" / "labels.jsonl")
    seen_docs = {d for docs in run.values() for d in docs} | {d for r in labels for d in r.docids}
    assert not seen_docs & (set(dev.corpus) | dev_written)
    assert all(
        hashlib.sha1(normalise_query(train.corpus[d].text).encode()).hexdigest() not in dev_hashes
        for d in seen_docs
    )
    assert not {normalise_query(q.text) for q in train.queries.values()} & dev_texts
    assert {r.qid for r in labels} == set(run)

    made = {s.name: s for s in ctx.output(GENERATE).sources}
    # crop: the two dev passages are dropped (by docid, and by text under another docid).
    assert made["crop"].documents == len(fresh) and made["crop"].documents_excluded == 2
    crop_rows = [json.loads(x) for x in (tmp_path / "run/generate/crop/queries.jsonl").open()]
    assert made["crop"].queries == len(crop_rows) == made["crop"].filters["max_queries"] > 0
    assert all(r["known_positive"] in fresh for r in crop_rows)
    # squad: the dev-query question and the question on the dev passage are dropped.
    assert (made["squad"].documents, made["squad"].documents_excluded) == (5, 1)
    assert made["squad"].queries_excluded == 2
    assert made["squad"].queries == made["squad"].positives == len(squad_positives)

    # The train split is the union, and each source query's positive is a candidate.
    assert retrieved.sources is not None
    assert {n: c.queries for n, c in retrieved.sources.items()} == {
        n: m.queries for n, m in made.items()
    }
    assert len(run) == made["crop"].queries + made["squad"].queries
    for qid, docid in squad_positives.items():
        assert docid in run[f"squad/{qid}"]
        assert len(run[f"squad/{qid}"]) <= 4 + 1
    for row in crop_rows:
        assert row["known_positive"] in run[row["qid"]]

    # The report's data line counts the queries per source.
    (note,) = training_source_notes(ctx)
    assert note.startswith("Training queries: 0 from data.train; ")
    assert f"{made['crop'].queries} from crop (crop, {len(fresh)} passages" in note
    assert f"{made['squad'].queries} from squad (questions, 5 passages" in note

    trained = ctx.output(TRAIN).students["0-cross-encoder"]
    assert list(Path(trained.model_dir).glob("*.safetensors"))
    # A rerun of the same config skips every finished stage.
    again = run_pipeline(cfg, until="train")
    assert again.rerun_reasons == {}
    assert again.run_id(TRAIN) == ctx.run_id(TRAIN)


def test_a_run_without_sources_keeps_the_fingerprints_of_a_pipeline_without_the_stage(
    tmp_path: Path,
) -> None:
    """A run folder made before the generate stage existed (no generate/ folder, the
    retrieve marker naming select as its only input) is not re-run."""
    cfg = load_config(
        "demo",
        [f"output_dir={tmp_path / 'run'}", "data.train.max_queries=6", "selection.enabled=false"],
    )
    assert "known_positive" not in json.dumps(cfg.model_dump(mode="json")["training"])
    ctx = RunContext(cfg)
    # The fingerprint formula of a retrieve stage whose one upstream is select.
    sections = {
        "retrieval": cfg.model_dump(mode="json")["retrieval"],
        "upstream": ctx.fingerprint(SELECT),
    }
    expected = hashlib.sha256(json.dumps(sections, sort_keys=True).encode()).hexdigest()[:16]
    assert ctx.fingerprint(RETRIEVE) == expected

    first = run_pipeline(cfg, until="retrieve")
    marker = json.loads((first.run_dir / "retrieve" / "_done.json").read_text())
    assert list(marker["upstream_runs"]) == ["select"] and "sources" not in marker
    shutil.rmtree(first.run_dir / "generate")  # as a run dir of the old pipeline
    again = run_pipeline(cfg, until="retrieve")
    assert again.rerun_reasons == {"generate": ""}
    assert again.summary(GENERATE)["skipped"] == "generate.sources is empty"
    assert again.run_id(RETRIEVE) == first.run_id(RETRIEVE)

    # Adding a source makes retrieve depend on generate: it runs again.
    corpus = tmp_path / "corpus.jsonl"
    write_corpus(corpus)
    source = {
        "name": "crop",
        "corpus": {"format": "jsonl", "paths": [str(corpus)]},
        "generation": {"method": "crop", "filters": {"round_trip": {"enabled": False}}},
    }
    with_source = load_config(
        "demo",
        [
            f"output_dir={tmp_path / 'run'}",
            "data.train.max_queries=6",
            "selection.enabled=false",
            f"generate.sources=[{json.dumps(source)}]",
        ],
    )
    third = run_pipeline(with_source, until="retrieve")
    assert third.rerun_reasons == {
        "generate": "config changed",
        "retrieve": "its input (generate) was just re-made",
    }
    queries = read_trec_run(third.output(RETRIEVE).runs["train"])
    assert len(queries) == 6 + third.output(GENERATE).sources[0].queries


def test_a_source_without_questions_of_its_own_needs_a_generation_section(
    tmp_path: Path,
) -> None:
    write_corpus(tmp_path / "corpus.jsonl")
    source = {
        "name": "plain",
        "corpus": {"format": "jsonl", "paths": [str(tmp_path / "corpus.jsonl")]},
    }
    cfg = config(tmp_path, [source])
    with pytest.raises(ValueError, match=r"generate.sources.0.generation: .* no questions"):
        run_pipeline(cfg, until="generate")


def test_source_names_must_be_unique(tmp_path: Path) -> None:
    from rankdistill.config import ConfigError

    twice = sources(tmp_path)[1]
    with pytest.raises(ConfigError, match=r"generate\.sources: the name 'squad' is used twice"):
        config(tmp_path, [twice, twice])


def test_the_shipped_scale_config_validates() -> None:
    cfg = load_config("trec-dl-scale")
    names = [s.name for s in cfg.generate.sources]
    assert names == ["crop", "squad", "crop-keyword"]
    crop, squad, keyword = cfg.generate.sources
    assert crop.corpus.format == "rankllm" and len(crop.corpus.paths) == 6
    assert crop.generation is not None and crop.generation.method == "crop"
    assert keyword.corpus == crop.corpus and keyword.generation is not None
    assert (keyword.generation.style, keyword.generation.seed) == ("keyword", 14)
    assert squad.corpus.format == "squad" and squad.generation is None
    assert cfg.labeling.prerank.scorer == "first-stage"
    assert [s.format for s in cfg.generate.exclude] == ["rankllm", "rankllm", "beir", "beir"]
    student = cfg.training.students[0]
    assert (student.group_size, student.batch_size, student.max_length) == (8, 4, 128)
    assert (student.learning_rate, student.precision, student.eval_steps) == (7e-5, "auto", 300)
    assert (student.loss, student.alpha, student.groups_per_query) == ("hybrid", 4.0, 2)
