"""Click logs: reading / writing / validation, and the seeded click simulator."""

from __future__ import annotations

import json
import random
from collections import defaultdict
from pathlib import Path

import pytest

from rankdistill.data.clicks import read_click_log, simulate_clicks, write_click_log
from rankdistill.data.errors import DataFormatError
from rankdistill.data.records import ClickRecord, Document, Query, RankingData

HEADER = "query\tdocid\ttitle\tsummary\timpressions\tclicks\tdwell_time\tposition\n"


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_read_tsv_click_log_with_columns_in_any_order(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "log.tsv",
        "clicks\timpressions\tquery\tdocid\n3\t10\tcheap flights\td7\n0\t4\tcheap flights\td8\n",
    )
    assert read_click_log(path) == [
        ClickRecord("cheap flights", 10, 3, docid="d7"),
        ClickRecord("cheap flights", 4, 0, docid="d8"),
    ]


def test_read_jsonl_click_log_with_title_and_summary(tmp_path: Path) -> None:
    rows = [
        {
            "query": "q",
            "title": "T",
            "summary": "S",
            "impressions": 5,
            "clicks": 2,
            "dwell_time": 31.5,
            "position": 2,
        },
        {"query": "q", "docid": 17, "impressions": "5", "clicks": "0"},
    ]
    path = _write(tmp_path, "log.jsonl", "".join(json.dumps(r) + "\n" for r in rows))
    assert read_click_log(path) == [
        ClickRecord("q", 5, 2, title="T", summary="S", dwell_time=31.5, position=2),
        ClickRecord("q", 5, 0, docid="17"),
    ]


@pytest.mark.parametrize("suffix", [".tsv", ".jsonl"])
def test_click_log_round_trip(tmp_path: Path, suffix: str) -> None:
    records = [
        ClickRecord(
            "a query", 10, 4, docid="d1", title="Title", summary="sum", dwell_time=12.25, position=1
        ),
        ClickRecord("another", 3, 0, title="Only title"),
    ]
    assert read_click_log(write_click_log(records, tmp_path / f"log{suffix}")) == records


@pytest.mark.parametrize(
    ("row", "field", "problem"),
    [
        ("q\td1\t\t\t5\t6\t\t", "clicks", "exceed"),
        ("q\td1\t\t\t-1\t0\t\t", "impressions", ">= 0"),
        ("q\td1\t\t\t5\tmany\t\t", "clicks", "not an integer"),
        ("q\td1\t\t\t5\t2.5\t\t", "clicks", "not an integer"),
        ("q\t\t\t\t5\t2\t\t", "docid", "docid or a title"),
        ("\td1\t\t\t5\t2\t\t", "query", "missing"),
        ("q\td1\t\t\t5\t2\t-4\t", "dwell_time", ">= 0"),
        ("q\td1\t\t\t5\t2\t\t0", "position", ">= 1"),
    ],
)
def test_click_log_row_errors(tmp_path: Path, row: str, field: str, problem: str) -> None:
    path = _write(tmp_path, "bad.tsv", HEADER + "q\td0\t\t\t9\t1\t\t\n" + row + "\n")
    with pytest.raises(DataFormatError, match=problem) as info:
        read_click_log(path)
    assert (info.value.path, info.value.line, info.value.field) == (str(path), 3, field)


def test_click_log_structure_errors(tmp_path: Path) -> None:
    with pytest.raises(DataFormatError, match="expected 8 tab-separated columns") as info:
        read_click_log(_write(tmp_path, "a.tsv", HEADER + "q\td1\t5\t2\n"))
    assert info.value.line == 2
    with pytest.raises(DataFormatError, match="header lacks") as info:
        read_click_log(_write(tmp_path, "b.tsv", "query\tdocid\tclicks\nq\td\t1\n"))
    assert info.value.field == "impressions"
    with pytest.raises(DataFormatError, match="unknown header columns"):
        read_click_log(_write(tmp_path, "c.tsv", "query\tdoc\timpressions\tclicks\n"))
    with pytest.raises(DataFormatError, match="invalid JSON") as info:
        read_click_log(_write(tmp_path, "d.jsonl", '{"query": "q", "docid": "d", \n'))
    assert info.value.line == 1
    with pytest.raises(DataFormatError, match="exceed") as info:
        read_click_log(
            _write(
                tmp_path,
                "e.jsonl",
                '{"query": "q", "docid": "d", "impressions": 1, "clicks": 0}\n'
                '{"query": "q", "docid": "e", "impressions": 1, "clicks": 2}\n',
            )
        )
    assert (info.value.line, info.value.field) == (2, "clicks")


# ---------------------------------------------------------------- simulator

GRADES = [3, 2, 1, 0, 0, 1, 2, 3, 0, 0]


def _grid(n_queries: int = 200, seed: int = 5) -> RankingData:
    """Queries whose 10 results carry shuffled grades, so grade and position are independent."""
    rng = random.Random(seed)
    data = RankingData(queries={}, corpus={}, candidates={}, qrels={})
    assert data.qrels is not None
    for q in range(n_queries):
        qid = f"q{q}"
        data.queries[qid] = Query(qid, f"query number {q}")
        grades = GRADES[:]
        rng.shuffle(grades)
        data.candidates[qid] = {}
        data.qrels[qid] = {}
        for position, grade in enumerate(grades):
            docid = f"{qid}-d{position}"
            data.corpus[docid] = Document(docid, f"Passage {position} of {qid}. More text here.")
            data.candidates[qid][docid] = float(10 - position)
            data.qrels[qid][docid] = grade
    return data


def _attractiveness(grade: int) -> float:
    # Independent restatement of the documented default: 0.05 + 0.9 * (2^g - 1) / (2^3 - 1).
    return {0: 0.05, 1: 0.05 + 0.9 / 7, 2: 0.05 + 2.7 / 7, 3: 0.95}[grade]


def _mean_appeal_by_position(records: list[ClickRecord], grade_of: dict[str, int]) -> dict:
    """The mean attractiveness of what was shown at each position (the model's expectation)."""
    total: dict = defaultdict(float)
    count: dict = defaultdict(int)
    for record in records:
        total[record.position] += _attractiveness(grade_of[record.docid])
        count[record.position] += 1
    return {p: total[p] / count[p] for p in total}


def _ctr_by(records: list[ClickRecord], key) -> dict:
    clicks: dict = defaultdict(int)
    shown: dict = defaultdict(int)
    for record in records:
        clicks[key(record)] += record.clicks
        shown[key(record)] += record.impressions
    return {k: clicks[k] / shown[k] for k in shown}


def test_pbm_ctr_follows_grades_and_position_bias_matches_the_model() -> None:
    data = _grid()
    records = simulate_clicks(data, model="pbm", sessions_per_query=100, seed=1)
    assert len(records) == 200 * 10
    grade_of = {r.docid: data.qrels[r.docid.split("-")[0]][r.docid] for r in records}
    by_grade = _ctr_by(records, lambda r: grade_of[r.docid])
    assert by_grade[0] < by_grade[1] < by_grade[2] < by_grade[3]
    by_position = _ctr_by(records, lambda r: r.position)
    appeal = _mean_appeal_by_position(records, grade_of)
    for position, ctr in by_position.items():
        # PBM: P(click at r) = P(examine r) * attractiveness = (1 / r) ** 1 * a(grade).
        assert ctr == pytest.approx(appeal[position] / position, abs=0.015), position
    assert by_position[1] > 3 * by_position[5]
    # Same grade, worse position: fewer clicks (the bias a DisRanker teacher must see past).
    top = _ctr_by([r for r in records if grade_of[r.docid] == 3], lambda r: r.position <= 2)
    assert top[True] > 2 * top[False]


def test_pbm_eta_zero_removes_position_bias() -> None:
    data = _grid(100)
    records = simulate_clicks(data, model="pbm", sessions_per_query=100, eta=0.0, seed=2)
    grade_of = {r.docid: data.qrels[r.docid.split("-")[0]][r.docid] for r in records}
    appeal = _mean_appeal_by_position(records, grade_of)
    for position, ctr in _ctr_by(records, lambda r: r.position).items():
        assert ctr == pytest.approx(appeal[position], abs=0.02), position


def test_cascade_has_at_most_one_click_per_session_and_strong_bias() -> None:
    data = _grid(100)
    records = simulate_clicks(data, model="cascade", sessions_per_query=60, seed=3)
    per_query: dict[str, int] = defaultdict(int)
    for record in records:
        per_query[record.query] += record.clicks
    assert max(per_query.values()) <= 60
    by_position = _ctr_by(records, lambda r: r.position)
    assert by_position[1] > by_position[3] > by_position[10]
    grade_of = {r.docid: data.qrels[r.docid.split("-")[0]][r.docid] for r in records}
    by_grade = _ctr_by(records, lambda r: grade_of[r.docid])
    assert by_grade[0] < by_grade[1] < by_grade[2] < by_grade[3]


def test_simulator_is_seeded_and_per_query_independent() -> None:
    data = _grid(20)
    first = simulate_clicks(data, seed=7)
    assert simulate_clicks(data, seed=7) == first
    assert simulate_clicks(data, seed=8) != first
    subset = simulate_clicks(data.subset(["q3", "q11"]), seed=7)
    assert subset == [r for r in first if r.query in {"query number 3", "query number 11"}]


def test_simulated_records_carry_snippets_dwell_and_respect_depth() -> None:
    data = _grid(5)
    data.corpus["q0-d0"] = Document("q0-d0", "Body\twith  tab. " + "word " * 200, "Doc title")
    records = simulate_clicks(data, depth=4, sessions_per_query=30, seed=0, summary_chars=80)
    assert len(records) == 5 * 4
    assert all(r.impressions == 30 and 0 <= r.clicks <= 30 for r in records)
    titled = next(r for r in records if r.docid == "q0-d0")
    assert titled.title == "Doc title" and "\t" not in (titled.summary or "")
    assert titled.summary is not None and len(titled.summary) <= 84
    untitled = next(r for r in records if r.docid == "q1-d1")
    assert untitled.title == "Passage 1 of q1."
    for record in records:
        assert (record.dwell_time is None) == (record.clicks == 0)


def test_simulator_uses_a_given_run_and_grade_mapping() -> None:
    data = _grid(50)
    # Show each query's results in reverse order and make only grade 1 attractive.
    run = {q: {d: -s for d, s in c.items()} for q, c in data.candidates.items()}
    records = simulate_clicks(
        data,
        run,
        sessions_per_query=40,
        seed=0,
        eta=0.0,
        grade_to_prob={0: 0.0, 1: 1.0, 2: 0.0, 3: 0.0},
    )
    assert next(r for r in records if r.docid == "q0-d9").position == 1
    for record in records:
        grade = data.qrels[record.docid.split("-")[0]][record.docid]
        assert record.clicks == (record.impressions if grade == 1 else 0)


def test_simulator_input_errors() -> None:
    data = _grid(2)
    with pytest.raises(ValueError, match="needs graded qrels"):
        simulate_clicks(RankingData(data.queries, data.corpus, data.candidates, None))
    with pytest.raises(ValueError, match="needs a ranking"):
        simulate_clicks(RankingData(data.queries, data.corpus, {}, data.qrels))
    with pytest.raises(ValueError, match="no entry in grade_to_prob"):
        simulate_clicks(data, grade_to_prob={0: 0.1})
    with pytest.raises(ValueError, match="unknown click model"):
        simulate_clicks(data, model="dbn")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="not in the corpus"):
        simulate_clicks(data, {"q0": {"ghost": 1.0}})
