"""Query groups from teacher labels, and the collator that batches them."""

from __future__ import annotations

import pytest
import torch

from rankdistill.data.errors import DataFormatError
from rankdistill.data.records import Document, LabelRecord, Query
from rankdistill.students import CrossEncoderStudent
from rankdistill.training.data import (
    QueryGroupCollator,
    QueryGroupDataset,
    build_query_groups,
    cut_group,
    groups_needed,
)

CORPUS = {f"d{i}": Document(f"d{i}", f"passage number {i}") for i in range(30)}


def listwise(
    qid: str, shown: list[str], listed: list[str], missing_as_negative: bool = True
) -> LabelRecord:
    """An RRADistill-style record: listed docs graded k..1, the rest missing (grade 0)."""
    grades = {d: float(len(listed) - i) for i, d in enumerate(listed)}
    missing = [d for d in shown if d not in grades]
    if missing_as_negative:
        grades.update({d: 0.0 for d in missing})
    return LabelRecord(
        qid, f"query {qid}", shown, "rradistill", "llm", grades=grades, missing=missing
    )


def test_missing_documents_are_grade_zero_hard_negatives() -> None:
    record = listwise("q1", ["d0", "d1", "d2", "d3"], ["d2", "d0"])
    (group,) = build_query_groups([record], CORPUS, None, group_size=8, targets="grades")
    assert group.docids == ["d0", "d1", "d2", "d3"]
    assert group.targets == [1.0, 0.0, 2.0, 0.0]
    assert group.answers == [True, False, True, False]
    assert group.documents[2] == "passage number 2"
    assert group.query == "query q1"


def test_without_missing_as_negative_the_missing_are_left_out() -> None:
    record = listwise("q1", ["d0", "d1", "d2", "d3"], ["d2", "d0"], missing_as_negative=False)
    (group,) = build_query_groups([record], CORPUS, None, group_size=8, targets="grades")
    assert group.docids == ["d0", "d2"]
    assert group.targets == [1.0, 2.0]


def test_scores_preferred_then_grades() -> None:
    record = LabelRecord(
        "q1", "q", ["d0", "d1"], "ranker", "bm25", grades={"d0": 1.0}, scores={"d0": 5.0, "d1": 2.5}
    )
    (by_score,) = build_query_groups([record], CORPUS, targets="scores")
    assert by_score.targets == [5.0, 2.5]
    (by_grade,) = build_query_groups([record], CORPUS, targets="grades")
    assert by_grade.targets == [1.0]  # d1 has no grade: left out
    only_scores = LabelRecord("q2", "q", ["d0", "d1"], "ranker", "bm25", scores={"d0": 1.0})
    (group,) = build_query_groups([only_scores], CORPUS, targets="grades")
    assert group.docids == ["d0"]  # no grades: fall back to scores; unscored doc left out
    assert group.answers == [None]


def test_query_text_from_queries_mapping() -> None:
    record = listwise("q1", ["d0"], ["d0"])
    queries = {"q1": Query("q1", "the real text")}
    (group,) = build_query_groups([record], CORPUS, queries, group_size=4, targets="grades")
    assert group.query == "the real text"


def test_unknown_document_names_query_and_field() -> None:
    record = listwise("q7", ["d0", "nope"], ["d0"])
    with pytest.raises(DataFormatError, match=r"'q7'.*'nope'") as info:
        build_query_groups([record], CORPUS, targets="grades")
    assert info.value.field == "docids"


def test_cut_keeps_the_best_and_a_seeded_mix() -> None:
    docs = [(f"d{i}", float(i % 7)) for i in range(20)]
    kept = cut_group(docs, 8, seed=1, qid="q", sampling="top-and-random")
    assert len(kept) == 8
    # the top quarter (2 docs) by target are always kept: targets 6 (d6, d13)
    assert {"d6", "d13"} <= {d for d, _ in kept}
    assert kept == sorted(kept, key=lambda x: int(x[0][1:]))  # original order
    assert kept == cut_group(docs, 8, seed=1, qid="q", sampling="top-and-random")
    others = [cut_group(docs, 8, seed=s, qid="q", sampling="top-and-random") for s in range(2, 6)]
    assert any(o != kept for o in others)  # the random part depends on the seed
    assert cut_group(docs, 8, 1, "q", "first") == docs[:8]
    assert cut_group(docs[:5], 8, 1, "q", "top-and-random") == docs[:5]


def test_cuts_of_one_query_cover_every_document() -> None:
    docs = [(f"d{i}", float(i % 7)) for i in range(20)]
    # group 8 keeps the 2 best, so 18 others in slices of 6: 3 cuts show every document
    assert groups_needed(20, 8, "top-and-random") == 3
    assert groups_needed(8, 8, "top-and-random") == 1
    assert groups_needed(20, 8, "first") == 1
    cuts = [cut_group(docs, 8, 1, "q", "top-and-random", index=k) for k in range(3)]
    shown = [{d for d, _ in cut} for cut in cuts]
    assert all({"d6", "d13"} <= s and len(s) == 8 for s in shown)
    assert set.union(*shown) == {d for d, _ in docs}
    others = [s - {"d6", "d13"} for s in shown]
    assert not (others[0] & others[1]) and not (others[1] & others[2])  # disjoint slices


def test_groups_per_query_zero_covers_and_never_repeats() -> None:
    record = listwise("q", [f"d{j}" for j in range(20)], ["d0", "d1"])
    covered = build_query_groups(
        [record], CORPUS, group_size=8, targets="grades", groups_per_query=0
    )
    assert len(covered) == 3
    assert set().union(*(g.docids for g in covered)) == {f"d{j}" for j in range(20)}
    capped = build_query_groups(
        [record], CORPUS, group_size=8, targets="grades", groups_per_query=9
    )
    assert [g.docids for g in capped] == [g.docids for g in covered]
    small = listwise("s", ["d0", "d1", "d2"], ["d0"])
    assert len(build_query_groups([small], CORPUS, group_size=8, groups_per_query=4)) == 1
    with pytest.raises(ValueError, match="groups_per_query"):
        build_query_groups([record], CORPUS, groups_per_query=-1)


def test_groups_do_not_depend_on_label_order() -> None:
    records = [listwise(f"q{i}", [f"d{j}" for j in range(20)], [f"d{i}"]) for i in range(3)]
    forward = build_query_groups(records, CORPUS, group_size=6, targets="grades", seed=3)
    backward = build_query_groups(records[::-1], CORPUS, group_size=6, targets="grades", seed=3)
    assert {g.qid: g.docids for g in forward} == {g.qid: g.docids for g in backward}


def test_collator_flattens_and_pads() -> None:
    student = CrossEncoderStudent("minilm-l6", max_length=32)
    records = [listwise("q1", ["d0", "d1", "d2"], ["d1"]), listwise("q2", ["d3"], ["d3"])]
    groups = build_query_groups(records, CORPUS, group_size=4, targets="grades")
    dataset = QueryGroupDataset(groups)
    batch = QueryGroupCollator(student)([dataset[0], dataset[1]])
    assert batch["labels"].tolist() == [[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]
    assert batch["mask"].tolist() == [[True, True, True], [True, False, False]]
    ids = batch["features"]["input_ids"]
    assert ids.shape[0] == 6  # B * N pairs, row-major
    expected = student.encode_pairs(["query q2"], ["passage number 3"])["input_ids"][0]
    assert ids[3, : expected.shape[0]].tolist() == expected.tolist()
    pad_pair = student.encode_pairs(["query q2"], [""])["input_ids"][0]
    assert ids[4, : pad_pair.shape[0]].tolist() == pad_pair.tolist()
    scores = student(batch["features"]).view_as(batch["labels"])
    assert torch.isfinite(scores).all()
    with pytest.raises(ValueError, match="no query groups"):
        QueryGroupDataset([])


def test_stratified_cut_takes_every_grade_in_turn_and_is_seeded_per_query() -> None:
    # Grades 3, 1 and ten 0s: a cut of 4 takes the 3, the 1 and two of the 0s.
    docs = [("top", 3.0), ("mid", 1.0)] + [(f"z{i}", 0.0) for i in range(10)]
    cut = cut_group(docs, 4, seed=7, qid="q1", sampling="stratified")
    assert sorted(t for _, t in cut) == [0.0, 0.0, 1.0, 3.0]
    assert [d for d, _ in cut][:2] == ["top", "mid"]  # kept in their original order
    assert cut == cut_group(docs, 4, seed=7, qid="q1", sampling="stratified")
    zeros = {
        tuple(d for d, t in cut_group(docs, 4, seed=s, qid="q1", sampling="stratified") if not t)
        for s in range(6)
    }
    assert len(zeros) > 1  # the seed picks which of the 0-graded documents come
    assert groups_needed(len(docs), 4, "stratified") == 1


def test_min_distinct_targets_drops_queries_without_a_pair() -> None:
    flat = LabelRecord("q1", "q", ["d0", "d1"], "t", "t", grades={"d0": 1.0, "d1": 1.0})
    mixed = LabelRecord("q2", "q", ["d2", "d3"], "t", "t", grades={"d2": 1.0, "d3": 0.0})
    kept = build_query_groups([flat, mixed], CORPUS, targets="grades", min_distinct_targets=2)
    assert [g.qid for g in kept] == ["q2"]
    both = build_query_groups([flat, mixed], CORPUS, targets="grades")
    assert [g.qid for g in both] == ["q1", "q2"]


def test_collator_label_scale_divides_the_targets() -> None:
    record = LabelRecord("q1", "q", ["d0", "d1"], "t", "t", grades={"d0": 3.0, "d1": 1.0})
    groups = build_query_groups([record], CORPUS, targets="grades")
    student = CrossEncoderStudent("minilm-l6", max_length=32)
    scaled = QueryGroupCollator(student, label_scale=3.0)(groups)["labels"]
    assert scaled.tolist() == [[1.0, pytest.approx(1 / 3)]]
    assert QueryGroupCollator(student)(groups)["labels"].tolist() == [[3.0, 1.0]]
