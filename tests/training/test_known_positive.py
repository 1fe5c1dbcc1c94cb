"""``known_positive: floor``: a query's known positive is trained as at least its best."""

from __future__ import annotations

from rankdistill.data.records import Document, LabelRecord
from rankdistill.training.config import StudentTrainConfig
from rankdistill.training.data import attach_known_positives, build_query_groups

CORPUS = {d: Document(d, f"text of {d}") for d in ("a", "b", "c", "p", "z")}


def _record(qid: str, scores: dict[str, float]) -> LabelRecord:
    return LabelRecord(qid, f"query {qid}", list(scores), "ranker", "bi-encoder", scores=scores)


def _targets(groups: list, qid: str) -> dict[str, float]:
    group = next(g for g in groups if g.qid == qid)
    return dict(zip(group.docids, group.targets, strict=True))


def test_floor_raises_the_known_positive_to_the_best_target_and_none_leaves_it() -> None:
    labels = [
        _record("q1", {"a": 0.9, "b": 0.2, "p": 0.4}),
        _record("q2", {"a": 0.7, "c": 0.1}),  # its positive was not labelled
        _record("q3", {"a": 0.3, "b": 0.8}),  # no known positive
        _record("q4", {"p": 0.95, "a": 0.5}),  # already the best: kept as it is
    ]
    positives = {"q1": "p", "q2": "z", "q4": "p"}
    attached = attach_known_positives(labels, positives)
    assert [r.extra.get("known_positive") for r in attached] == ["p", "z", None, "p"]
    assert labels[0].extra == {}  # the records read are not modified

    floored = build_query_groups(attached, CORPUS, known_positive="floor")
    assert _targets(floored, "q1") == {"a": 0.9, "b": 0.2, "p": 0.9}
    assert _targets(floored, "q2") == {"a": 0.7, "c": 0.1, "z": 0.7}
    assert _targets(floored, "q3") == {"a": 0.3, "b": 0.8}
    assert _targets(floored, "q4") == {"p": 0.95, "a": 0.5}

    unchanged = build_query_groups(attached, CORPUS)
    assert _targets(unchanged, "q1") == {"a": 0.9, "b": 0.2, "p": 0.4}
    assert _targets(unchanged, "q2") == {"a": 0.7, "c": 0.1}


def test_the_option_is_left_out_of_the_dump_at_its_default() -> None:
    """The dump is the train stage's fingerprint and each student's saved config: a
    config that does not use the option must dump as it did before the option existed."""
    assert "known_positive" not in StudentTrainConfig().model_dump(mode="json")
    floor = StudentTrainConfig(known_positive="floor")
    assert floor.model_dump(mode="json")["known_positive"] == "floor"
    assert StudentTrainConfig.model_validate(floor.model_dump()) == floor
