"""Labelling methods end to end on small synthetic cases with known answers.

LLM calls go over real HTTP to the local OpenAI-protocol test server
(``tests/openai_server.py``), whose default responder ranks the numbered passages of a
prompt by word overlap with its query line and leaves out passages sharing no word. The
sliding-window test uses an in-process oracle backend instead: it verifies the window
arithmetic, which needs a judge whose full order is known.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

import numpy as np
import pytest

from rankdistill.data.records import Document
from rankdistill.labeling.backends.base import ChatMessages, Generation, TokenScores
from rankdistill.labeling.config import BackendConfig, LabelingConfig, PrerankConfig
from rankdistill.labeling.methods import build_method
from rankdistill.labeling.methods.pointwise import yes_logprob
from rankdistill.labeling.methods.ranker import RankerTeacher, rrf_fusion, zscore_fusion
from rankdistill.labeling.methods.rradistill import RRADistillLabeler, shuffled
from rankdistill.labeling.methods.sliding_window import (
    SlidingWindowLabeler,
    sliding_window_calls,
    window_starts,
)
from rankdistill.retrieval.bm25 import BM25Scorer
from rankdistill.retrieval.config import RetrievalConfig
from tests.fixtures.labeling import CORPUS, QUERY, TEXTS, ranked
from tests.openai_server import OpenAITestServer

pytest_plugins = ["tests.openai_server"]

# First-stage / pre-ranker scores, best first.
CANDIDATES = ranked(list(TEXTS))


def _overlap(docid: str) -> int:
    return len(set(QUERY.text.split()) & set(TEXTS[docid].split()))


def _openai_cfg(server: OpenAITestServer, **changes: object) -> LabelingConfig:
    cfg = LabelingConfig(
        backend=BackendConfig(kind="openai", model="test-model", base_url=server.base_url),
        prerank=PrerankConfig(scorer="first-stage", candidates=6, top_k=3, bottom_k=3),
        cache=False,
    )
    return cfg.model_copy(update=changes)


def _backend(cfg: LabelingConfig):
    from rankdistill.labeling.backends import build_backend

    return build_backend(cfg.backend)


# --------------------------------------------------------------------------- RRADistill
@pytest.mark.parametrize("scheme", ["linear", "reciprocal", "binary"])
@pytest.mark.parametrize("missing_as_negative", [True, False])
def test_rradistill_labels_from_one_listwise_call(
    openai_server: OpenAITestServer, scheme: str, missing_as_negative: bool
) -> None:
    cfg = _openai_cfg(openai_server, grading=scheme, missing_as_negative=missing_as_negative)
    method = build_method(cfg, _backend(cfg))
    record = method.label_query(QUERY, CANDIDATES, CORPUS)

    assert len(openai_server.chat_requests()) == 1  # one call per query, no window
    assert sorted(record.docids) == sorted(TEXTS)  # 3 + 3 of 6: all shown, shuffled
    assert record.docids == shuffled(list(TEXTS), cfg.seed, QUERY.qid)
    # The oracle lists overlapping docs by overlap, ties by shown position; omits others.
    expected_listed = sorted(
        (d for d in record.docids if _overlap(d) > 0),
        key=lambda d: (-_overlap(d), record.docids.index(d)),
    )
    assert record.extra["listed"] == expected_listed
    assert sorted(record.missing) == ["d3", "d4"]
    k = len(expected_listed)
    expected = {
        "linear": {d: float(k - i) for i, d in enumerate(expected_listed)},
        "reciprocal": {d: 1.0 / (i + 1) for i, d in enumerate(expected_listed)},
        "binary": dict.fromkeys(expected_listed, 1.0),
    }[scheme]
    if missing_as_negative:
        expected |= {"d3": 0.0, "d4": 0.0}
    assert record.grades == pytest.approx(expected)
    assert record.targets() == pytest.approx(expected)  # missing docs excluded when off
    # Provenance and cost.
    assert record.teacher.startswith("openai:test-model")
    assert (record.template_id, record.template_version) == ("rradistill-listwise", "1")
    assert record.llm_calls == 1 and record.prompt_tokens > 50
    assert record.completion_tokens == 2 * k - 1  # the server counts words of "[a] > [b]"
    assert len(record.raw_response_hashes) == 1
    assert record.parse_problems == {}
    assert record.extra["prerank_scores"] == dict(CANDIDATES)


def test_rradistill_shows_top_and_bottom_only(openai_server: OpenAITestServer) -> None:
    cfg = _openai_cfg(openai_server, prerank=PrerankConfig(candidates=6, top_k=2, bottom_k=1))
    record = build_method(cfg, _backend(cfg)).label_query(QUERY, CANDIDATES, CORPUS)
    assert sorted(record.docids) == ["d0", "d1", "d5"]
    prompt = openai_server.chat_requests()[0].body["messages"][-1]["content"]
    assert "Below are 3 passages" in prompt
    for position, docid in enumerate(record.docids, start=1):
        assert f"[{position}] {TEXTS[docid]}" in prompt


def test_rradistill_records_parse_problems(openai_server: OpenAITestServer) -> None:
    openai_server.responder = lambda body: "[2] > [9] > [2] > [1"
    cfg = _openai_cfg(openai_server)
    record = build_method(cfg, _backend(cfg)).label_query(QUERY, CANDIDATES, CORPUS)
    assert record.extra["listed"] == [record.docids[1]]
    assert record.extra["unknown_ids"] == [9]
    assert record.parse_problems == {"repeated": 1, "truncated": 1, "unknown": 1}
    assert len(record.missing) == 5
    # A cut-off answer never reached the other documents: they get no label...
    assert record.grades == {record.docids[1]: 1.0}
    # ...unless truncated answers are configured to make hard negatives too.
    cfg = _openai_cfg(openai_server, truncated_missing_as_negative=True)
    record = build_method(cfg, _backend(cfg)).label_query(QUERY, CANDIDATES, CORPUS)
    assert record.grades == {d: 1.0 if d == record.docids[1] else 0.0 for d in record.docids}


def test_shuffle_is_seeded_per_query() -> None:
    docs = [f"d{i}" for i in range(20)]
    assert shuffled(docs, 13, "q1") == shuffled(docs, 13, "q1")
    assert sorted(shuffled(docs, 13, "q1")) == sorted(docs)
    assert shuffled(docs, 13, "q1") != shuffled(docs, 14, "q1")
    assert shuffled(docs, 13, "q1") != shuffled(docs, 13, "q2")


# --------------------------------------------------------------------------- sliding window
class OracleRanker:
    """Deterministic judge: orders the numbered passages of a prompt by a hidden relevance.

    It implements the LLMBackend protocol in-process (a test double for the window
    arithmetic, not for any model behaviour).
    """

    model_id = "oracle"

    def __init__(self, relevance: dict[str, float]) -> None:
        self.relevance = relevance
        self.windows: list[list[str]] = []

    def generate(
        self, prompts: Sequence[ChatMessages], max_new_tokens: int, temperature: float = 0.0
    ) -> list[Generation]:
        out = []
        for messages in prompts:
            passages = re.findall(r"^\[(\d+)\] (.+)$", messages[-1]["content"], re.M)
            self.windows.append([text for _, text in passages])
            ranked = sorted(passages, key=lambda p: -self.relevance[p[1]])
            out.append(Generation(" > ".join(f"[{n}]" for n, _ in ranked), 100, len(ranked)))
        return out

    def next_token_logprobs(
        self, prompts: Sequence[ChatMessages], candidates: Sequence[str]
    ) -> list[TokenScores]:
        raise NotImplementedError

    def count_tokens(self, messages: ChatMessages) -> int:
        return len(str(messages).split())

    def close(self) -> None:
        pass


def test_window_arithmetic() -> None:
    assert window_starts(100, 20, 10) == [80, 70, 60, 50, 40, 30, 20, 10, 0]
    assert sliding_window_calls(100, 20, 10) == 9
    assert window_starts(30, 10, 5) == [20, 15, 10, 5, 0]
    assert window_starts(25, 10, 10) == [15, 5, 0]  # clamped: the front is never skipped
    assert window_starts(8, 10, 5) == [0]
    assert window_starts(0, 10, 5) == []
    for n, w, s in [(100, 20, 10), (30, 10, 5), (25, 10, 10), (8, 10, 5), (57, 12, 7)]:
        assert len(window_starts(n, w, s)) == sliding_window_calls(n, w, s)


def test_sliding_window_finds_the_oracle_top() -> None:
    rng = np.random.default_rng(0)
    docids = [f"doc{i:02d}" for i in range(30)]
    texts = {d: f"passage number {d}" for d in docids}
    hidden = dict(zip(texts.values(), rng.permutation(30).astype(float), strict=True))
    first_stage = [(d, float(30 - i)) for i, d in enumerate(docids)]  # unrelated order
    oracle = OracleRanker(hidden)
    labeler = SlidingWindowLabeler(oracle, candidates=30, window_size=10, step=5)
    record = labeler.label_query(QUERY, first_stage, {d: Document(d, t) for d, t in texts.items()})

    assert record.llm_calls == sliding_window_calls(30, 10, 5) == 5
    assert [len(w) for w in oracle.windows] == [10] * 5
    assert oracle.windows[0] == [texts[d] for d in docids[20:30]]  # back to front
    final = record.extra["final_order"]
    truth = sorted(docids, key=lambda d: -hidden[texts[d]])
    # Each window hands its best w - s = 5 to the next: the top 5 is exactly the oracle's.
    assert final[:5] == truth[:5]
    assert sorted(final) == sorted(docids)
    assert record.scores[final[0]] == 30.0 and record.scores[final[-1]] == 1.0
    assert record.prompt_tokens == 5 * 100 and record.parse_problems == {}


# --------------------------------------------------------------------------- pointwise
def test_pointwise_yes_no_scores(openai_server: OpenAITestServer) -> None:
    cfg = _openai_cfg(openai_server, method="pointwise")
    record = build_method(cfg, _backend(cfg)).label_query(QUERY, CANDIDATES, CORPUS)
    assert len(openai_server.chat_requests()) == 6  # one per judged document
    # Server distribution: Yes .45 + " Yes" .15 against No .25 + " No" .05.
    assert record.scores == pytest.approx(dict.fromkeys(TEXTS, math.log(0.6 / 0.9)))
    assert record.llm_calls == 6 and record.completion_tokens == 0
    body = openai_server.chat_requests()[0].body
    assert "Does the passage answer the search query?" in body["messages"][-1]["content"]


def test_yes_logprob_combines_spellings_and_ignores_floors() -> None:
    lp = {"Yes": math.log(0.3), "yes": math.log(0.1), "No": math.log(0.4), "no": math.log(0.2)}
    assert yes_logprob(lp, ["Yes", "yes"], ["No", "no"]) == pytest.approx(math.log(0.4))
    floored = dict(lp, no=math.log(0.35))
    assert yes_logprob(floored, ["Yes", "yes"], ["No", "no"], floored=["no"]) == pytest.approx(
        math.log(0.4 / 0.8)
    )


def test_pointwise_graded(openai_server: OpenAITestServer) -> None:
    answers = {"d0": "3", "d1": "Grade: 2", "d2": "1", "d3": "0", "d4": "I am not sure"}

    def responder(body: dict) -> str:
        content = body["messages"][-1]["content"]
        return next((a for d, a in answers.items() if TEXTS[d] in content), "2")

    openai_server.responder = responder
    cfg = _openai_cfg(openai_server, method="pointwise-graded")
    record = build_method(cfg, _backend(cfg)).label_query(QUERY, CANDIDATES, CORPUS)
    assert record.grades == {"d0": 3.0, "d1": 2.0, "d2": 1.0, "d3": 0.0, "d5": 2.0}
    assert record.parse_problems == {"no_grade": 1}
    assert record.template_id == "pointwise-graded" and record.llm_calls == 6


# --------------------------------------------------------------------------- rationales
def test_rationales_follow_the_teacher_verdict(openai_server: OpenAITestServer) -> None:
    def responder(body: dict) -> str:
        content = body["messages"][-1]["content"]
        if "decided that this passage" in content:
            verdict = "relevant" if "passage is relevant" in content else "irrelevant"
            return f"Because it is {verdict}."
        return "[1] > [2]"

    openai_server.responder = responder
    cfg = _openai_cfg(openai_server, rationales=True)
    record = build_method(cfg, _backend(cfg)).label_query(QUERY, CANDIDATES, CORPUS)
    listed = record.docids[:2]
    assert record.rationales == {
        d: "Because it is relevant." if d in listed else "Because it is irrelevant."
        for d in record.docids
    }
    cost = record.extra["rationale_cost"]
    assert cost["llm_calls"] == 6 and record.llm_calls == 1  # teacher cost kept apart
    assert len(openai_server.chat_requests()) == 7


# --------------------------------------------------------------------------- any ranker
def test_ranker_teacher_fuses_real_scorers() -> None:
    scorers = {
        "bm25": BM25Scorer(),
        "bm25-nostem": BM25Scorer(RetrievalConfig(stemmer=None, stopwords=None, k1=1.5, b=0.9)),
    }
    texts = [TEXTS[d] for d, _ in CANDIDATES]
    raw = {name: np.array(s.score(QUERY.text, texts)) for name, s in scorers.items()}

    record = RankerTeacher(scorers, fusion="zscore").label_query(QUERY, CANDIDATES, CORPUS)
    z = sum((v - v.mean()) / v.std() for v in raw.values()) / 2
    assert [record.scores[d] for d, _ in CANDIDATES] == pytest.approx(z.tolist())
    assert record.teacher == "zscore(bm25+bm25-nostem)" and record.llm_calls == 0
    assert max(record.scores, key=record.scores.get) == "d0"

    rrf = RankerTeacher(scorers, fusion="rrf", rrf_k=60).label_query(QUERY, CANDIDATES, CORPUS)
    expected = {d: 0.0 for d in TEXTS}
    for values in raw.values():
        for rank, i in enumerate(np.argsort(-values, kind="stable"), start=1):
            expected[CANDIDATES[i][0]] += 1 / (60 + rank)
    assert rrf.scores == pytest.approx(expected)

    # A single scorer is standardised per query (z-score), its raw scores kept aside.
    single = RankerTeacher({"bm25": scorers["bm25"]}).label_query(QUERY, CANDIDATES, CORPUS)
    bm25 = raw["bm25"]
    standard = (bm25 - bm25.mean()) / bm25.std()
    assert [single.scores[d] for d, _ in CANDIDATES] == pytest.approx(standard.tolist())
    assert [single.extra["scorer_scores"]["bm25"][d] for d, _ in CANDIDATES] == pytest.approx(
        bm25.tolist()
    )


def test_fusions_on_hand_computed_values() -> None:
    runs = [{"a": 3.0, "b": 1.0, "c": 2.0}, {"a": 10.0, "b": 10.0, "c": 40.0}]
    z = zscore_fusion(runs)
    std0 = math.sqrt(2 / 3)
    std1 = math.sqrt(200)
    assert z["a"] == pytest.approx((1 / std0 + (-10) / std1) / 2)
    assert rrf_fusion(runs, rrf_k=1) == pytest.approx(
        {"a": 1 / 2 + 1 / 3, "b": 1 / 4 + 1 / 4, "c": 1 / 3 + 1 / 2}
    )


def test_build_method_errors() -> None:
    with pytest.raises(ValueError, match="needs an LLM backend"):
        build_method(LabelingConfig(method="rradistill"))
    with pytest.raises(ValueError, match="ranker_scorers"):
        build_method(LabelingConfig(method="ranker"))
    assert isinstance(build_method(LabelingConfig(), OracleRanker({})), RRADistillLabeler)
