"""Training corpora: the readers, the SQuAD reader, and evaluation data kept out."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from rankdistill.data.corpus import (
    CorpusSpec,
    Exclusion,
    TrainingSource,
    exclude,
    normalise_query,
    pool_rankllm_corpus,
    read_squad,
    read_training_source,
    squad_paragraph_id,
)
from rankdistill.data.errors import DataFormatError
from rankdistill.data.rankllm import read_rankllm
from rankdistill.data.records import Document, Query, RankingData


def _squad(articles: list[dict[str, Any]]) -> dict[str, Any]:
    return {"version": "1.1", "data": articles}


ARTICLE = {
    "title": "Solar_System",
    "paragraphs": [
        {
            "context": "The Sun holds 99.86 percent of the Solar System's mass.",
            "qas": [
                {"id": "q1", "question": " How much mass does the Sun hold? ", "answers": []},
                {"id": "q2", "question": "What holds most of the mass?", "answers": []},
            ],
        },
        {
            "context": "Jupiter is the largest planet.",
            "qas": [{"id": "q3", "question": "Which planet is largest?", "answers": []}],
        },
    ],
}


def _write(path: Path, obj: Any) -> Path:
    path.write_text(json.dumps(obj), encoding="utf-8")
    return path


def _rankllm(path: Path, entries: list[tuple[str, str, list[tuple[str, str]]]]) -> Path:
    rows = [
        {
            "query": text,
            "hits": [
                {"qid": qid, "docid": d, "rank": r, "score": 10.0 - r, "content": c}
                for r, (d, c) in enumerate(hits, start=1)
            ],
        }
        for qid, text, hits in entries
    ]
    return _write(path, rows)


# --------------------------------------------------------------------------- SQuAD
def test_squad_questions_paragraphs_and_positives(tmp_path: Path) -> None:
    source = read_squad(_write(tmp_path / "squad.json", _squad([ARTICLE])))
    first, second = squad_paragraph_id("Solar System", 0), squad_paragraph_id("Solar System", 1)
    assert list(source.corpus) == [first, second]
    context = ARTICLE["paragraphs"][0]["context"]
    assert source.corpus[first] == Document(first, context, "Solar System")
    assert source.queries == {
        "q1": Query("q1", "How much mass does the Sun hold?"),
        "q2": Query("q2", "What holds most of the mass?"),
        "q3": Query("q3", "Which planet is largest?"),
    }
    assert source.positives == {"q1": first, "q2": first, "q3": second}


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda d: d.pop("data"), "data"),
        (lambda d: d["data"][0]["paragraphs"][1].pop("context"), "data[0].paragraphs[1].context"),
        (lambda d: d["data"][0].pop("paragraphs"), "data[0].paragraphs"),
        (lambda d: d["data"][0]["paragraphs"][0].update(qas={}), "data[0].paragraphs[0].qas"),
        (
            lambda d: d["data"][0]["paragraphs"][0]["qas"][1].update(question=7),
            "data[0].paragraphs[0].qas[1].question",
        ),
        (
            lambda d: d["data"][0]["paragraphs"][1]["qas"][0].update(id="q1"),
            "data[0].paragraphs[1].qas[0].id",
        ),
        (lambda d: d["data"][0].update(title=None), "data[0].title"),
    ],
)
def test_malformed_squad_names_file_and_field(tmp_path: Path, mutate: Any, field: str) -> None:
    data = json.loads(json.dumps(_squad([ARTICLE])))
    mutate(data)
    path = _write(tmp_path / "bad-squad.json", data)
    with pytest.raises(DataFormatError) as info:
        read_squad(path)
    assert info.value.path == str(path)
    assert info.value.field == field
    assert str(info.value).startswith(f"{path}: field {field!r}")


def test_squad_that_is_not_json_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{"data": [\n  {"title": }\n]}', encoding="utf-8")
    with pytest.raises(DataFormatError, match=r"broken\.json:2: invalid JSON"):
        read_squad(path)


@pytest.mark.shared_data
def test_real_squad_dev(shared_data: Path) -> None:
    path = shared_data / "squad-v1.1-dev" / "dev-v1.1.json"
    if not path.is_file():
        pytest.skip(f"SQuAD v1.1 dev not found at {path}")
    source = read_squad(path)
    assert len(source.queries) == 10_570
    assert len(source.corpus) == 2_067
    raw = json.loads(path.read_text(encoding="utf-8"))
    # Each question's known positive is its own paragraph: it holds the question's answers.
    for article in raw["data"]:
        for paragraph in article["paragraphs"]:
            for qa in paragraph["qas"]:
                passage = source.corpus[source.positives[qa["id"]]].text
                assert passage == paragraph["context"]
                assert all(a["text"] in passage for a in qa["answers"])


# --------------------------------------------------------------------------- other readers
def test_rankllm_passages_are_pooled_and_deduplicated(tmp_path: Path) -> None:
    bm25 = _rankllm(tmp_path / "bm25.json", [("1", "q one", [("a", "text a"), ("b", "text b")])])
    splade = _rankllm(
        tmp_path / "splade.json",
        [("1", "q one", [("b", "other b"), ("c", "text c")]), ("2", "q two", [("a", "x")])],
    )
    pooled = pool_rankllm_corpus([bm25, splade])
    assert list(pooled) == ["a", "b", "c"]
    assert pooled["b"].text == "text b"  # the first text seen wins
    source = read_training_source(CorpusSpec(format="rankllm", paths=[str(bm25), str(splade)]))
    assert source.corpus == pooled and source.name == "rankllm" and not source.queries


def test_beir_jsonl_tsv_and_squad_sources(tmp_path: Path) -> None:
    beir = tmp_path / "beir"
    beir.mkdir()
    lines = [{"_id": "d1", "title": "T", "text": "beir one"}, {"_id": "d2", "text": "beir two"}]
    (beir / "corpus.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    source = read_training_source(CorpusSpec(format="beir", paths=[str(beir)], name="nf"))
    assert source.name == "nf"
    assert source.corpus == {
        "d1": Document("d1", "beir one", "T"),
        "d2": Document("d2", "beir two"),
    }
    jsonl = tmp_path / "c.jsonl"
    jsonl.write_text(json.dumps({"docid": "j1", "text": "json one"}) + "\n")
    assert read_training_source(CorpusSpec(format="jsonl", paths=["c.jsonl"]), tmp_path).corpus == {
        "j1": Document("j1", "json one")
    }
    tsv = tmp_path / "c.tsv"
    tsv.write_text("t1\ttsv one\nt2\ttsv two\n")
    assert list(read_training_source(CorpusSpec(format="tsv", paths=[str(tsv)])).corpus) == [
        "t1",
        "t2",
    ]
    squad = _write(tmp_path / "squad.json", _squad([ARTICLE]))
    source = read_training_source(CorpusSpec(format="squad", paths=[str(squad)]))
    assert len(source.queries) == 3 and len(source.positives) == 3


# --------------------------------------------------------------------------- exclusion
def test_exclude_drops_evaluation_passages_and_queries() -> None:
    source = TrainingSource(
        name="train",
        corpus={
            "t1": Document("t1", "a training passage"),
            "e1": Document("e1", "an evaluation passage"),
            "e1-v2": Document("e1-v2", "An evaluation passage."),  # same text, another docid
        },
        queries={
            "ok": Query("ok", "a fine training query"),
            "same": Query("same", "What is an EVALUATION query?"),
            "towards": Query("towards", "a query whose positive is evaluation data"),
        },
        positives={"ok": "t1", "towards": "e1"},
    )
    evaluation = RankingData(
        queries={"e": Query("e", "what is an evaluation query")},
        corpus={"e1": Document("e1", "an evaluation passage")},
    )
    exclusion = Exclusion.from_datasets([evaluation])
    kept, counts = exclude(source, exclusion)
    assert list(kept.corpus) == ["t1"]
    assert list(kept.queries) == ["ok"]
    assert kept.positives == {"ok": "t1"}
    assert counts.as_dict() == {"documents_dropped": 2, "queries_dropped": 2}


def test_no_evaluation_data_reaches_a_training_source(tmp_path: Path) -> None:
    """Training files that share passages and a query with the evaluation set."""
    evaluation_file = _rankllm(
        tmp_path / "dl20.json",
        [("100", "how do vaccines work", [("e1", "vaccines train the immune system")])],
    )
    training_file = _rankllm(
        tmp_path / "dl21.json",
        [
            ("200", "How do vaccines work?", [("t1", "bread rises with yeast"), ("e1", "x")]),
            ("201", "why is the sky blue", [("t2", "vaccines train the immune system")]),
        ],
    )
    squad = _squad(
        [
            {
                "title": "Vaccines",
                "paragraphs": [
                    {
                        "context": "Vaccines train the immune system.",
                        "qas": [{"id": "s1", "question": "what do vaccines train?"}],
                    },
                    {
                        "context": "Blue light scatters more in the air.",
                        "qas": [{"id": "s2", "question": "how do vaccines work"}],
                    },
                ],
            }
        ]
    )
    evaluation = read_rankllm(evaluation_file)
    exclusion = Exclusion.from_datasets([evaluation])
    sources = [
        read_training_source(CorpusSpec(format="rankllm", paths=[str(training_file)])),
        read_squad(_write(tmp_path / "squad.json", squad)),
    ]
    training = [exclude(source, exclusion)[0] for source in sources]
    evaluation_texts = {normalise_query(d.text) for d in evaluation.corpus.values()}
    evaluation_queries = {normalise_query(q.text) for q in evaluation.queries.values()}
    for source in training:
        assert not set(source.corpus) & set(evaluation.corpus), source.name
        assert not {normalise_query(d.text) for d in source.corpus.values()} & evaluation_texts
        assert not {normalise_query(q.text) for q in source.queries.values()} & evaluation_queries
        assert set(source.positives.values()) <= set(source.corpus)
    assert sorted(training[0].corpus) == ["t1"]
    assert sorted(training[1].queries) == []  # s1's paragraph is an evaluation passage
    assert len(training[1].corpus) == 1


def test_judged_evaluation_documents_are_excluded_too() -> None:
    """A judged document of an evaluation query is evaluation data even when the
    evaluation candidates (and so their texts) do not include it."""
    evaluation = RankingData(
        queries={"e": Query("e", "how do tides work")},
        corpus={"c1": Document("c1", "the moon pulls the oceans")},
        qrels={"e": {"c1": 2, "judged-only": 3}},
    )
    source = TrainingSource(
        name="pool",
        corpus={
            "judged-only": Document("judged-only", "tides follow the moon"),
            "t1": Document("t1", "bread rises with yeast"),
        },
    )
    kept, counts = exclude(source, Exclusion.from_datasets([evaluation]))
    assert list(kept.corpus) == ["t1"]
    assert counts.documents == 1
