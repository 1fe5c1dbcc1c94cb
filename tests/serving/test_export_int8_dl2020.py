"""Dynamic int8 keeps ranking quality: nDCG@10 on real TREC DL 2020 queries within 0.01 of
the fp32 export of the same weights (BM25 top-20 of the first 10 judged queries).

Slow (about 30 s of CPU, longer on a busy machine): run with `pytest -m slow`.
"""

from __future__ import annotations

import json
from pathlib import Path

import ir_measures
import pytest
from ir_measures import nDCG

from rankdistill.serving.engine import Reranker
from tests.fixtures.students import build_cross_encoder_dir, build_once, export_once

QUERIES = 10
DEPTH = 20
NDCG_TOL = 0.01


def _dl2020(dl2020: Path) -> tuple[list[dict], dict[str, dict[str, int]]]:
    entries = json.loads((dl2020 / "bm25-top100.json").read_text(encoding="utf-8"))
    raw_qrels = json.loads((dl2020 / "qrels.json").read_text(encoding="utf-8"))
    qrels = {q: {d: int(g) for d, g in docs.items()} for q, docs in raw_qrels.items()}
    judged = [e for e in entries if e["hits"] and str(e["hits"][0]["qid"]) in qrels]
    return judged[:QUERIES], qrels


def _run(engine: Reranker, entries: list[dict]) -> dict[str, dict[str, float]]:
    run = {}
    for entry in entries:
        hits = entry["hits"][:DEPTH]
        scores = engine.score(entry["query"], [h["content"] for h in hits])
        run[str(hits[0]["qid"])] = {h["docid"]: s for h, s in zip(hits, scores, strict=True)}
    return run


@pytest.mark.slow
@pytest.mark.shared_data
def test_int8_ndcg_within_001_of_fp32(
    dl2020: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    models = tmp_path_factory.getbasetemp() / "serving-models"
    student = build_once(models / "cross-encoder", build_cross_encoder_dir)
    fp32 = Reranker.load(
        export_once(student, models / "cross-encoder-onnx", "onnx"), "onnx", threads=1
    )
    int8 = Reranker.load(
        export_once(student, models / "cross-encoder-int8", "onnx-int8"), "onnx-int8", threads=1
    )
    entries, qrels = _dl2020(dl2020)
    assert len(entries) == QUERIES
    qrels = {q: qrels[q] for q in (str(e["hits"][0]["qid"]) for e in entries)}
    fp32_run, int8_run = _run(fp32, entries), _run(int8, entries)
    fp32_ndcg = ir_measures.calc_aggregate([nDCG @ 10], qrels, fp32_run)[nDCG @ 10]
    int8_ndcg = ir_measures.calc_aggregate([nDCG @ 10], qrels, int8_run)[nDCG @ 10]
    assert abs(fp32_ndcg - int8_ndcg) <= NDCG_TOL, (fp32_ndcg, int8_ndcg)
    # The runs differ (a different graph), yet rank the same way.
    assert any(fp32_run[q][d] != int8_run[q][d] for q in fp32_run for d in fp32_run[q])
