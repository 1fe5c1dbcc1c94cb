"""The label stage hands each method the candidates its capabilities ask for."""

from __future__ import annotations

from pathlib import Path

from rankdistill.config import load_config
from rankdistill.data.trec import read_trec_run
from rankdistill.labeling.methods import METHODS
from rankdistill.labeling.store import read_labels
from rankdistill.pipeline import LABEL, PRERANK, RETRIEVE, run_pipeline


def _top(run: dict[str, dict[str, float]], qid: str, k: int) -> list[str]:
    return [d for d, _ in sorted(run[qid].items(), key=lambda x: -x[1])[:k]]


def test_a_ranker_teacher_labels_the_pre_rankers_top_k_on_dev(tmp_path: Path) -> None:
    cfg = load_config(
        "demo",
        [
            "data.train.max_queries=3",
            "data.dev.max_queries=3",
            "selection.enabled=false",
            "retrieval.k=12",
            "labeling.method=ranker",
            "labeling.ranker_models=[bm25]",
            "labeling.prerank.scorer=bi-encoder",
            "labeling.prerank.candidates=4",
            f"output_dir={tmp_path / 'run'}",
        ],
    )
    assert not METHODS["ranker"].reads_first_stage and METHODS["slidingwindow"].reads_first_stage
    ctx = run_pipeline(cfg, until="label")
    prerank = read_trec_run(ctx.output(PRERANK).runs["dev"])
    first_stage = read_trec_run(ctx.output(RETRIEVE).runs["dev"])
    dev = read_labels(ctx.output(LABEL).dev.labels)
    assert len(dev) == 3
    differs = 0
    for record in dev:
        assert sorted(record.scores) == sorted(_top(prerank, record.qid, 4))
        differs += set(_top(prerank, record.qid, 4)) != set(_top(first_stage, record.qid, 4))
    assert differs > 0  # the two candidate sources really differ here
