"""Query groups: the unit of distillation training (one query + up to N documents).

Teacher labels (:class:`LabelRecord`) become :class:`QueryGroup` s; a torch ``Dataset``
serves them and :class:`QueryGroupCollator` turns a batch of B groups into the flat
``student.encode_pairs`` features of B*N pairs plus ``labels`` [B, N] and ``mask`` [B, N]
(padding: empty documents, label 0, mask ``False``).
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

import torch
from torch import Tensor
from torch.utils.data import Dataset

from rankdistill.data.errors import DataFormatError
from rankdistill.data.records import Document, LabelRecord, Query
from rankdistill.students.base import StudentModel

Targets = Literal["scores", "grades"]
Sampling = Literal["top-and-random", "first", "stratified"]
KnownPositive = Literal["none", "floor"]
# LabelRecord.extra key of a query's known positive docid (from the generate stage).
KNOWN_POSITIVE = "known_positive"
# Share of a cut group reserved for the teacher's best documents (reconstructed).
TOP_SHARE = 0.25


@dataclass
class QueryGroup:
    """One query with its documents and the teacher's targets, aligned by position.

    ``answers`` says whether the teacher listed the document as relevant (``None`` when
    the teacher gave only scores); ``rationales`` holds its explanation, if any. Both are
    RRA-GPT's extra training inputs.
    """

    qid: str
    query: str
    docids: list[str]
    documents: list[str]
    targets: list[float]
    answers: list[bool | None]
    rationales: list[str | None]

    def __len__(self) -> int:
        return len(self.docids)


def _target_source(record: LabelRecord, prefer: Targets) -> tuple[dict[str, float], str]:
    """The record's targets (``prefer``-ed kind if present, else the other) and their kind."""
    order = ("scores", "grades") if prefer == "scores" else ("grades", "scores")
    for kind in order:
        values = getattr(record, kind)
        if values:
            return dict(values), kind
    return {}, "grades"


def _labelled_docs(record: LabelRecord, prefer: Targets) -> list[tuple[str, float]]:
    """(docid, target) for every document the teacher gave a target, in label order.

    RRADistill's hard negatives (documents the LLM left out of its list) are included as
    the labels have them: grade 0 when labelling ran with ``missing_as_negative`` (the
    default); without it they have no grade and are left out, which is that ablation.
    """
    values, _ = _target_source(record, prefer)
    docids = list(dict.fromkeys([*record.docids, *record.missing, *values]))
    return [(d, float(values[d])) for d in docids if d in values]


def _rng(seed: int, qid: str) -> random.Random:
    """A generator per (seed, query): the cut does not depend on the order of the labels."""
    digest = hashlib.sha256(f"{seed}:{qid}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def _n_top(group_size: int) -> int:
    """How many of a cut group's places go to the query's best documents."""
    return max(1, math.ceil(TOP_SHARE * group_size))


def _top_and_rest(docs: list[tuple[str, float]], group_size: int) -> tuple[list[int], list[int]]:
    """Positions of the best :func:`_n_top` documents by target, and of the rest."""
    by_target = sorted(range(len(docs)), key=lambda i: -docs[i][1])  # stable for ties
    top = by_target[: _n_top(group_size)]
    chosen = set(top)
    return top, [i for i in range(len(docs)) if i not in chosen]


def _stratified_cut(
    docs: list[tuple[str, float]], group_size: int, rng: random.Random
) -> list[tuple[str, float]]:
    """``group_size`` documents drawn in turn from each target value (highest first), each
    value's documents in a seeded random order."""
    buckets: dict[float, list[int]] = {}
    for i, (_, target) in enumerate(docs):
        buckets.setdefault(target, []).append(i)
    lists = [buckets[k] for k in sorted(buckets, reverse=True)]
    for bucket in lists:
        rng.shuffle(bucket)
    order: list[int] = []
    while any(lists):
        order += [bucket.pop() for bucket in lists if bucket]
    return [docs[i] for i in sorted(order[:group_size])]


def groups_needed(n_docs: int, group_size: int, sampling: Sampling) -> int:
    """How many cuts of one query show each of its ``n_docs`` documents at least once."""
    if n_docs <= group_size or sampling != "top-and-random":
        return 1
    n_top = _n_top(group_size)
    return math.ceil((n_docs - n_top) / (group_size - n_top)) if group_size > n_top else 1


def cut_group(
    docs: list[tuple[str, float]],
    group_size: int,
    seed: int,
    qid: str,
    sampling: Sampling,
    index: int = 0,
) -> list[tuple[str, float]]:
    """At most ``group_size`` documents, deterministically.

    ``top-and-random`` (reconstructed): the best ``ceil(TOP_SHARE * group_size)`` by
    target, then a slice of a seeded permutation of the rest, which mixes hard negatives
    (missing / low-graded documents) with middling ones. Cut ``index`` k takes the k-th
    slice (wrapping around), so cuts 0..k of one query share their top documents and
    show different others. ``first``: the first ones in label order. ``stratified``: a
    seeded sample interleaved across target values, so every group mixes grades (the
    DisRanker teacher's cut). The kept documents stay in their original order.
    """
    if len(docs) <= group_size:
        return docs
    if sampling == "first":
        return docs[:group_size]
    if sampling == "stratified":
        return _stratified_cut(docs, group_size, _rng(seed, qid))
    if sampling != "top-and-random":
        raise ValueError(
            f"unknown sampling {sampling!r}; use 'top-and-random', 'first' or 'stratified'"
        )
    top, rest = _top_and_rest(docs, group_size)
    _rng(seed, qid).shuffle(rest)
    room = group_size - len(top)
    start = (index * room) % len(rest) if rest else 0
    others = (rest[start:] + rest[:start])[:room]
    return [docs[i] for i in sorted({*top, *others})]


def floor_known_positive(
    labelled: list[tuple[str, float]], record: LabelRecord
) -> list[tuple[str, float]]:
    """The record's known positive (``extra["known_positive"]``) raised to at least the
    query's best teacher target, and added with that target when the teacher did not
    label it. A record without one, or without any target, is returned as it is."""
    positive = record.extra.get(KNOWN_POSITIVE)
    if not positive or not labelled:
        return labelled
    best = max(t for _, t in labelled)
    floored = [(d, max(t, best) if d == positive else t) for d, t in labelled]
    if all(d != positive for d, _ in labelled):
        floored.append((positive, best))
    return floored


def attach_known_positives(
    labels: Sequence[LabelRecord], positives: Mapping[str, str]
) -> list[LabelRecord]:
    """The labels with each query's known positive docid (qid -> docid) in ``extra``."""
    return [
        replace(r, extra={**r.extra, KNOWN_POSITIVE: positives[r.qid]}) if r.qid in positives else r
        for r in labels
    ]


def build_query_groups(
    labels: Sequence[LabelRecord],
    corpus: Mapping[str, Document],
    queries: Mapping[str, Query] | None = None,
    group_size: int = 16,
    targets: Targets = "scores",
    seed: int = 13,
    sampling: Sampling = "top-and-random",
    groups_per_query: int = 1,
    min_distinct_targets: int = 1,
    known_positive: KnownPositive = "none",
) -> list[QueryGroup]:
    """``groups_per_query`` :class:`QueryGroup` s per labelled query (queries without any
    target are skipped); 0 gives each query as many as it takes to show every labelled
    document once (:func:`groups_needed`), which is also the most it ever gets: a query
    with no more than ``group_size`` documents has one group. A query whose targets take
    fewer than ``min_distinct_targets`` values is skipped (2: only queries that form a
    pair for a pairwise loss).

    The query text comes from ``queries`` when it has the qid, else from the record.
    A labelled document absent from ``corpus`` raises :class:`DataFormatError`.
    ``known_positive="floor"``: see :func:`floor_known_positive`.
    """
    if group_size < 1:
        raise ValueError(f"group_size must be >= 1, got {group_size}")
    groups: list[QueryGroup] = []
    if groups_per_query < 0:
        raise ValueError(f"groups_per_query must be >= 0, got {groups_per_query}")
    for record in labels:
        labelled = _labelled_docs(record, targets)
        if known_positive == "floor":
            labelled = floor_known_positive(labelled, record)
        if not labelled or len({t for _, t in labelled}) < min_distinct_targets:
            continue
        needed = groups_needed(len(labelled), group_size, sampling)
        n_groups = needed if groups_per_query == 0 else min(groups_per_query, needed)
        for index in range(n_groups):
            docs = cut_group(labelled, group_size, seed, record.qid, sampling, index)
            groups.append(_query_group(record, docs, corpus, queries))
    return groups


def _query_group(
    record: LabelRecord,
    docs: list[tuple[str, float]],
    corpus: Mapping[str, Document],
    queries: Mapping[str, Query] | None,
) -> QueryGroup:
    """The :class:`QueryGroup` of ``docs`` (docid, target) cut from ``record``."""
    texts = []
    for docid, _ in docs:
        if docid not in corpus:
            raise DataFormatError(
                None,
                f"labels of query {record.qid!r} name document {docid!r}, "
                "which is not in the corpus",
                field="docids",
            )
        texts.append(corpus[docid].full_text)
    has_grades = bool(record.grades)
    missing = set(record.missing)
    query = queries[record.qid].text if queries and record.qid in queries else record.query
    return QueryGroup(
        qid=record.qid,
        query=query,
        docids=[d for d, _ in docs],
        documents=texts,
        targets=[t for _, t in docs],
        answers=[
            (d not in missing and record.grades.get(d, 0.0) > 0) if has_grades else None
            for d, _ in docs
        ],
        rationales=[record.rationales.get(d) for d, _ in docs],
    )


class QueryGroupDataset(Dataset):
    """A list of query groups as a map-style torch dataset."""

    def __init__(self, groups: Sequence[QueryGroup]) -> None:
        if not groups:
            raise ValueError("no query groups to train on (are the labels empty?)")
        self.groups = list(groups)

    def __len__(self) -> int:
        return len(self.groups)

    def __getitem__(self, index: int) -> QueryGroup:
        return self.groups[index]


class QueryGroupCollator:
    """B query groups -> ``{"features": ..., "labels": [B, N], "mask": [B, N]}``.

    N is the longest group of the batch; shorter groups are padded with empty documents
    (encoded but masked out of every loss). ``features`` holds the B*N flattened pairs,
    row-major (group b's document n is pair ``b * N + n``), with ``answers`` and
    ``rationales`` passed to ``encode_pairs`` as per-pair training inputs.
    """

    def __init__(self, student: StudentModel, label_scale: float = 1.0) -> None:
        self.student = student
        self.label_scale = label_scale  # targets are divided by it (pointwise losses on [0, 1])

    def __call__(self, groups: Sequence[QueryGroup]) -> dict[str, Any]:
        width = max(len(g) for g in groups)
        queries: list[str] = []
        documents: list[str] = []
        answers: list[bool | None] = []
        rationales: list[str | None] = []
        labels = torch.zeros(len(groups), width, dtype=torch.float32)
        mask = torch.zeros(len(groups), width, dtype=torch.bool)
        for b, group in enumerate(groups):
            pad = width - len(group)
            queries += [group.query] * width
            documents += group.documents + [""] * pad
            answers += group.answers + [None] * pad
            rationales += group.rationales + [None] * pad
            targets = torch.tensor(group.targets, dtype=torch.float32)
            labels[b, : len(group)] = targets / self.label_scale  # exact for a scale of 1
            mask[b, : len(group)] = True
        features: dict[str, Tensor] = self.student.encode_pairs(
            queries, documents, answers=answers, rationales=rationales
        )
        return {"features": features, "labels": labels, "mask": mask}
