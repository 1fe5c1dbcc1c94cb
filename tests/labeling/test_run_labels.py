"""Labels from an existing ranking (``labeling.method: run``).

The real check: the published RankGPT (gpt-3.5-turbo) and RankVicuna-7B runs over the
DL 2020 BM25 top-100, turned into labels and read back as a run, score the nDCG@10
that ../shared/data/README.md gives for them (0.6385 and 0.6549).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rankdistill.data.errors import DataFormatError
from rankdistill.data.records import Document, LabelRecord, Query, RankingData
from rankdistill.data.trec import read_trec_run, write_trec_run
from rankdistill.evaluation.metrics import evaluate_run
from rankdistill.evaluation.teacher import teacher_run
from rankdistill.labeling.config import LabelingConfig
from rankdistill.labeling.methods import build_method, method_needs_llm
from rankdistill.labeling.methods.run_labels import RunLabeler, labels_from_order
from rankdistill.labeling.run_input import read_ranking
from rankdistill.labeling.runner import run_labeling
from rankdistill.labeling.store import read_labels

LLM_RUNS = [
    ("rankgpt-gpt-3.5-turbo-bm25-top100.trec", 0.6385),
    ("rankvicuna-7b-bm25-top100.trec", 0.6549),
]


def _run_config(path: Path, **run: object) -> LabelingConfig:
    return LabelingConfig.model_validate(
        {"method": "run", "run": {"path": str(path), **run}, "prerank": {"candidates": 100}}
    )


def _labels_as_run(records: list[LabelRecord], tmp_path: Path) -> dict[str, dict[str, float]]:
    """The labels' targets written as a TREC run and read back."""
    path = write_trec_run({r.qid: r.targets() for r in records}, tmp_path / "labels.trec")
    return read_trec_run(path)


@pytest.fixture(scope="module")
def dl2020_data(dl2020: Path) -> tuple[RankingData, dict[str, dict[str, int]]]:
    from rankdistill.data.qrels import read_qrels
    from rankdistill.data.rankllm import read_rankllm

    return read_rankllm(dl2020 / "bm25-top100.json"), read_qrels(dl2020 / "qrels.json")


@pytest.mark.shared_data
@pytest.mark.parametrize(("run_file", "published"), LLM_RUNS)
def test_labels_from_llm_runs_give_their_published_ndcg(
    dl2020: Path, dl2020_data, tmp_path: Path, run_file: str, published: float
) -> None:
    data, qrels = dl2020_data
    result = run_labeling(data, _run_config(dl2020 / run_file), tmp_path, progress=False)
    records = read_labels(result.labels_path)
    assert len(records) == 54
    as_run = _labels_as_run(records, tmp_path)
    assert round(evaluate_run(as_run, qrels, ["nDCG@10"]).aggregate["nDCG@10"], 4) == published
    # The teacher's dev ranking (what the pipeline reports for it) sees the same order.
    dev = teacher_run(records, data.candidates)
    assert round(evaluate_run(dev, qrels, ["nDCG@10"]).aggregate["nDCG@10"], 4) == published
    # The run file itself, evaluated directly, is the independent reference.
    direct = evaluate_run(read_trec_run(dl2020 / run_file), qrels, ["nDCG@10"]).aggregate
    assert round(direct["nDCG@10"], 4) == published


@pytest.mark.shared_data
def test_cut_turns_the_lower_ranks_into_missing_negatives(
    dl2020: Path, dl2020_data, tmp_path: Path
) -> None:
    data, qrels = dl2020_data
    run_file, published = LLM_RUNS[0]
    result = run_labeling(data, _run_config(dl2020 / run_file, cut=10), tmp_path, progress=False)
    records = read_labels(result.labels_path)
    ranking = read_ranking(dl2020 / run_file)
    for record in records:
        top10 = ranking[record.qid][:10]
        assert [d for d in record.docids if record.grades[d] > 0] == top10
        assert [record.grades[d] for d in top10] == [float(10 - i) for i in range(10)]
        assert len(record.missing) == 90 and set(record.missing).isdisjoint(top10)
        assert all(record.grades[d] == 0.0 for d in record.missing)
    as_run = _labels_as_run(records, tmp_path)
    # Below the cut everything ties at 0, which cannot move the top 10.
    assert round(evaluate_run(as_run, qrels, ["nDCG@10"]).aggregate["nDCG@10"], 4) == published


def _write_rankllm_result_jsonl(ranking: dict[str, list[str]], path: Path) -> Path:
    lines = [
        json.dumps(
            {
                "query": {"text": f"query {qid}", "qid": int(qid)},
                "candidates": [
                    {"docid": d, "score": float(-i), "doc": {"contents": ""}}
                    for i, d in enumerate(docids)
                ],
            }
        )
        for qid, docids in ranking.items()
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.shared_data
def test_rankllm_output_gives_the_same_labels_as_the_trec_run(
    dl2020: Path, dl2020_data, tmp_path: Path
) -> None:
    data, _ = dl2020_data
    trec = dl2020 / LLM_RUNS[1][0]
    ranking = read_ranking(trec)
    jsonl = _write_rankllm_result_jsonl(ranking, tmp_path / "rerank.jsonl")
    hits = tmp_path / "rerank-hits.json"
    hits.write_text(
        json.dumps(
            [
                {
                    "query": "q",
                    "hits": [{"qid": qid, "docid": d, "rank": i + 1} for i, d in enumerate(ds)],
                }
                for qid, ds in ranking.items()
            ]
        ),
        encoding="utf-8",
    )
    assert read_ranking(jsonl) == ranking == read_ranking(hits, "rankllm")
    qid = next(iter(ranking))
    query, candidates = data.queries[qid], list(data.candidates[qid].items())
    by_trec = build_method(_run_config(trec)).label_query(query, candidates, data.corpus)
    by_json = build_method(_run_config(jsonl)).label_query(query, candidates, data.corpus)
    assert by_json.grades == by_trec.grades and by_json.docids == by_trec.docids


def test_malformed_run_file_is_a_one_line_error_naming_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.trec"
    bad.write_text("1 Q0 d1 1 3.0 tag\n1 Q0 d2 2 2.0 tag\n1 Q0 d3 3 tag\n", encoding="utf-8")
    with pytest.raises(DataFormatError) as err:
        build_method(_run_config(bad))
    assert str(err.value) == f"{bad}:3: expected 6 whitespace-separated columns, got 5"
    assert "\n" not in str(err.value)
    bad_score = tmp_path / "bad-score.trec"
    bad_score.write_text("1 Q0 d1 1 high tag\n", encoding="utf-8")
    with pytest.raises(DataFormatError, match=rf"^{bad_score}:1: field 'score': not a number"):
        build_method(_run_config(bad_score))
    bad_json = tmp_path / "bad.jsonl"
    bad_json.write_text('{"query": {"qid": 1, "text": "q"}, "candidates": [{"score": 1}]}\n')
    with pytest.raises(DataFormatError, match=r"bad\.jsonl:1: field 'candidates\[0\]\.docid'"):
        build_method(_run_config(bad_json))


def test_run_method_needs_no_llm_and_a_path() -> None:
    cfg = LabelingConfig(method="run")
    assert not method_needs_llm(cfg)
    with pytest.raises(ValueError, match=r"labeling\.run\.path"):
        build_method(cfg)


def test_grades_follow_the_listwise_rule_and_unranked_candidates_are_missing() -> None:
    corpus = {d: Document(d, f"text {d}") for d in ("a", "b", "c", "d", "e")}
    candidates = [(d, 1.0) for d in corpus]
    labeler = RunLabeler({"q": ["c", "x", "a", "e", "b"]}, cut=2)
    record = labeler.label_query(Query("q", "query"), candidates, corpus)
    # c and a are the run's top 2 among the candidates (x is not a candidate).
    assert record.grades == {"c": 2.0, "a": 1.0, "e": 0.0, "b": 0.0, "d": 0.0}
    assert record.docids == ["c", "a", "e", "b", "d"]
    assert record.missing == ["e", "b", "d"]
    assert record.extra["outside_candidates"] == 1
    assert record.extra["run_rank"] == {"c": 1, "a": 3, "e": 4, "b": 5}
    unlabelled = RunLabeler({"q": ["c", "a"]}, missing_as_negative=False)
    record = unlabelled.label_query(Query("q", "query"), candidates, corpus)
    assert record.grades == {"c": 2.0, "a": 1.0} and record.missing == ["b", "d", "e"]
    with pytest.raises(ValueError, match="no entry for query 'other'"):
        labeler.label_query(Query("other", "query"), candidates, corpus)


def test_labels_from_order_matches_reciprocal_grading() -> None:
    grades, missing = labels_from_order(["b", "a"], ["a", "b", "c"], "reciprocal")
    assert grades == {"b": 1.0, "a": 0.5, "c": 0.0} and missing == ["c"]
    with pytest.raises(ValueError, match="not among the shown"):
        labels_from_order(["z"], ["a"])
