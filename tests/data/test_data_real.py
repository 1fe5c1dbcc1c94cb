"""Reading the real TREC DL files in ../shared/data (skipped when the folder is absent)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rankdistill.data.config import DatasetSpec
from rankdistill.data.loading import load_dataset, read_run
from rankdistill.data.qrels import read_qrels
from rankdistill.data.rankllm import read_rankllm, write_rankllm
from rankdistill.data.trec import read_trec_run, write_trec_run

pytestmark = pytest.mark.shared_data


def test_dl2020_bm25_and_qrels(dl2020: Path) -> None:
    data = read_rankllm(dl2020 / "bm25-top100.json")
    assert len(data.queries) == 54
    assert all(len(c) == 100 for c in data.candidates.values())
    qrels = read_qrels(dl2020 / "qrels.json")
    assert sum(len(j) for j in qrels.values()) == 11386
    assert set(qrels) == set(data.queries)
    assert {g for j in qrels.values() for g in j.values()} == {0, 1, 2, 3}
    # Independent check against the raw JSON: the first query, its first hit and its text.
    raw = json.loads((dl2020 / "bm25-top100.json").read_text())
    first = raw[0]["hits"][0]
    qid = str(first["qid"])
    assert data.queries[qid].text == raw[0]["query"]
    assert data.candidate_list(qid).docids[0] == first["docid"]
    assert data.candidates[qid][first["docid"]] == first["score"]
    assert data.corpus[first["docid"]].text == first["content"]


def test_dl2020_bm25_reference_ndcg_with_file_order(dl2020: Path) -> None:
    import ir_measures
    from ir_measures import nDCG

    data = read_rankllm(dl2020 / "bm25-top100.json", scores="file_order")
    qrels = read_qrels(dl2020 / "qrels.json")
    value = ir_measures.calc_aggregate([nDCG @ 10], qrels, data.candidates)[nDCG @ 10]
    assert value == pytest.approx(0.4796, abs=5e-5)  # the README's reference figure


def test_dl2021_and_2022_concatenate_as_training_queries(shared_data: Path) -> None:
    spec = DatasetSpec(
        format="rankllm",
        candidates=["trec-dl-2021/bm25-top100.json", "trec-dl-2022/bm25-top100.json"],
    )
    data = load_dataset(spec, base_dir=shared_data)
    assert len(data.queries) == 53 + 76 == 129
    assert sum(len(c) for c in data.candidates.values()) == 12900
    assert data.qrels is None


def test_dl2020_round_trips_through_trec_and_rankllm(dl2020: Path, tmp_path: Path) -> None:
    data = read_rankllm(dl2020 / "splade-pp-top100.json")
    assert read_trec_run(write_trec_run(data.candidates, tmp_path / "run.trec")) == data.candidates
    back = read_rankllm(write_rankllm(data, data.candidates, tmp_path / "again.json"))
    assert back.queries == data.queries and back.corpus == data.corpus
    assert back.candidates == data.candidates
    assert read_run(tmp_path / "again.json") == data.candidates


def test_novel_eval_tsv_and_q0_qrels(shared_data: Path) -> None:
    folder = shared_data / "novel-eval"
    spec = DatasetSpec(format="trec", queries="queries.tsv", corpus="corpus.tsv", qrels="qrels.txt")
    data = load_dataset(spec, base_dir=folder)
    assert len(data.queries) == 21 and len(data.corpus) == 420
    assert data.qrels is not None and set(data.qrels) == set(data.queries)
    assert {g for j in data.qrels.values() for g in j.values()} <= {0, 1, 2}
    rankllm = read_rankllm(folder / "data.json")
    assert rankllm.queries == data.queries
    # corpus.tsv quotes fields CSV-style (tabs inside); unquoted they equal data.json's text.
    assert rankllm.corpus == data.corpus
