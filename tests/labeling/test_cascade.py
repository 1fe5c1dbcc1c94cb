"""Cascade teacher: an LLM re-orders the pre-ranker's top-k, the pre-ranker keeps the rest.

LLM calls go over real HTTP to the local OpenAI-protocol test server
(``tests/openai_server.py``), whose default responder ranks numbered passages by word
overlap with the query and leaves out passages sharing no word.
"""

from __future__ import annotations

import re

import pytest

from rankdistill.data.records import RankingData
from rankdistill.labeling.backends import build_backend
from rankdistill.labeling.cascade import cascade_order
from rankdistill.labeling.config import BackendConfig, LabelingConfig, PrerankConfig
from rankdistill.labeling.methods import build_method
from rankdistill.labeling.runner import run_labeling
from rankdistill.labeling.store import read_labels
from tests.fixtures.labeling import CORPUS, QUERY, TEXTS, ranked
from tests.openai_server import OpenAITestServer

pytest_plugins = ["tests.openai_server"]

# The pre-ranker's order (best first): its top 3 put an irrelevant passage first.
PRERANKED = ranked(["d3", "d1", "d0", "d2", "d4", "d5"])


def _cfg(server: OpenAITestServer, llm_method: str) -> LabelingConfig:
    return LabelingConfig(
        method="cascade",
        cascade={"llm_method": llm_method, "top_k": 3},
        backend=BackendConfig(kind="openai", model="test-model", base_url=server.base_url),
        prerank=PrerankConfig(scorer="first-stage", candidates=6, top_k=10, bottom_k=10),
        cache=False,
    )


def test_cascade_order_puts_the_llm_order_on_top_of_the_prerankers() -> None:
    prerank = ["a", "b", "c", "d", "e"]
    assert cascade_order(prerank, {"c": 2.0, "a": 1.0, "b": 0.0}, 3) == ["c", "a", "b", "d", "e"]
    # A top document without a value stays in the top-k, below the judged ones; ties and
    # documents beyond the top-k keep the pre-ranker's order.
    assert cascade_order(prerank, {"b": -0.5, "c": -0.5}, 3) == ["b", "c", "a", "d", "e"]
    assert cascade_order(prerank, {"e": 9.0}, 2) == prerank
    with pytest.raises(ValueError, match="top_k"):
        cascade_order(prerank, {}, 0)


def test_listwise_cascade_reorders_only_the_top_k(openai_server: OpenAITestServer) -> None:
    cfg = _cfg(openai_server, "rradistill")
    record = build_method(cfg, build_backend(cfg.backend)).label_query(QUERY, PRERANKED, CORPUS)

    requests = openai_server.chat_requests()
    assert len(requests) == 1
    prompt = requests[0].body["messages"][-1]["content"]
    shown = set(re.findall(r"^\s*\[\d+\]\s*(.+)$", prompt, re.MULTILINE))
    assert shown == {TEXTS["d3"], TEXTS["d1"], TEXTS["d0"]}  # the top 3 only, no bottom-k
    # The LLM lists d0 (3 query words) > d1 (2) and leaves d3 out; the rest keep the
    # pre-ranker's order below.
    assert record.docids == ["d0", "d1", "d3", "d2", "d4", "d5"]
    assert record.grades == {d: float(6 - i) for i, d in enumerate(record.docids)}
    assert record.scores == record.grades and record.missing == []
    assert record.extra["llm_missing"] == ["d3"]
    assert record.llm_calls == 1 and record.prompt_tokens > 0 and record.completion_tokens > 0
    assert record.method == "cascade"
    assert record.teacher.startswith("cascade(rradistill:openai:test-model")


def test_pointwise_cascade_judges_the_top_k_only(openai_server: OpenAITestServer) -> None:
    cfg = _cfg(openai_server, "pointwise")
    record = build_method(cfg, build_backend(cfg.backend)).label_query(QUERY, PRERANKED, CORPUS)
    assert len(openai_server.chat_requests()) == 3 and record.llm_calls == 3
    assert set(record.extra["llm_values"]) == {"d3", "d1", "d0"}
    # The test server gives every prompt the same next-token distribution: equal
    # judgements, so the pre-ranker's order stands.
    assert record.docids == [d for d, _ in PRERANKED]


def test_runner_pre_ranks_for_the_cascade(openai_server: OpenAITestServer, tmp_path) -> None:
    from rankdistill.retrieval.bm25 import BM25Scorer

    data = RankingData({QUERY.qid: QUERY}, CORPUS, {QUERY.qid: dict(PRERANKED)})
    cfg = _cfg(openai_server, "rradistill")
    run_labeling(data, cfg, tmp_path, prerank_scorer=BM25Scorer(corpus=CORPUS), progress=False)
    (record,) = read_labels(tmp_path / "labels.jsonl")
    prerank = record.extra["prerank_scores"]
    # BM25 ranks d0 and d1 (both share "solar panel") above every other passage.
    assert set(sorted(prerank, key=lambda d: -prerank[d])[:2]) == {"d0", "d1"}
    assert record.docids[:2] == ["d0", "d1"]
