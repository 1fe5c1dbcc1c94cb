"""The teacher as a system on the dev table: its labels turned into a ranking."""

from __future__ import annotations

from rankdistill.data.records import LabelRecord, Run, rank_docs


def teacher_run(records: list[LabelRecord], prerank: Run) -> Run:
    """The teacher's ranking of each query's pre-ranked candidates, for evaluation.

    Documents the teacher scored come first, in its order (scores when it gave scores,
    else grades). Listwise teachers only see top-k + bottom-k, so unshown candidates keep
    the pre-ranker's order below the documents the teacher listed, and documents the
    teacher judged irrelevant (grade 0, e.g. RRADistill's "missing") go to the bottom.
    """
    run: Run = {}
    for rec in records:
        order = [d for d, _ in rank_docs(prerank.get(rec.qid, {}))]
        n = len(order)
        scores = {d: -float(i) for i, d in enumerate(order)}  # pre-ranker order, in (-n, 0]
        if rec.scores:
            ranked = [d for d, _ in rank_docs(rec.scores)]
            scores.update({d: 2.0 * n + len(ranked) - i for i, d in enumerate(ranked)})
        else:
            for d, grade in rec.grades.items():
                scores[d] = (
                    2.0 * n + grade * n + scores.get(d, 0.0)
                    if grade > 0
                    else -2.0 * n + scores.get(d, 0.0)
                )
        run[rec.qid] = scores
    return run
