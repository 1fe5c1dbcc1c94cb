"""DisRanker step 3: the teacher scores (query, candidate) pairs for the students.

One :class:`LabelRecord` per query (method ``llm-teacher``) is appended to a label store
as soon as the query is scored, so a killed run loses nothing it finished and a rerun
skips the done queries. Several processes share the work by a stable hash of the qid
(``shard=(i, n)``), each writing its own shard file; :func:`merge_shards` joins them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

from tqdm.auto import tqdm

from rankdistill.data.errors import DataFormatError
from rankdistill.data.records import LabelRecord, RankingData
from rankdistill.labeling.store import LabelStore, iter_labels
from rankdistill.scoring import Scorer
from rankdistill.utils import write_jsonl

METHOD = "llm-teacher"


def shard_of(qid: str, num_shards: int) -> int:
    """The shard a query belongs to: stable across processes and runs (unlike ``hash``)."""
    digest = hashlib.sha1(qid.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % num_shards


def shard_path(out_path: str | Path, index: int, num_shards: int) -> Path:
    """``labels.jsonl`` -> ``labels.shard-2-of-4.jsonl`` (unchanged for a single shard)."""
    out_path = Path(out_path)
    if num_shards == 1:
        return out_path
    return out_path.with_name(f"{out_path.stem}.shard-{index}-of-{num_shards}{out_path.suffix}")


def parse_shard(text: str) -> tuple[int, int]:
    """``"2/4"`` -> (2, 4), validated (0 <= i < n)."""
    try:
        index, total = (int(x) for x in text.split("/"))
    except ValueError as exc:
        raise ValueError(f"shard {text!r} must look like i/n, e.g. 0/4") from exc
    _check_shard((index, total))
    return index, total


def _check_shard(shard: tuple[int, int]) -> None:
    index, total = shard
    if total < 1 or not 0 <= index < total:
        raise ValueError(f"shard {index}/{total}: need 0 <= i < n and n >= 1")


def _score_in_batches(
    scorer: Scorer, query: str, texts: Sequence[str], batch_size: int
) -> list[float]:
    scores: list[float] = []
    for start in range(0, len(texts), batch_size):
        chunk = list(texts[start : start + batch_size])
        got = scorer.score(query, chunk)
        if len(got) != len(chunk):
            raise RuntimeError(
                f"scorer {scorer.name!r} returned {len(got)} scores for {len(chunk)} documents"
            )
        scores.extend(float(s) for s in got)
    return scores


def score_pairs(
    scorer: Scorer,
    data: RankingData,
    out_path: str | Path,
    *,
    k: int | None = None,
    batch_size: int = 16,
    shard: tuple[int, int] = (0, 1),
    progress: bool = True,
    teacher: str | None = None,
) -> Path:
    """Score each query's top-``k`` candidates with ``scorer``; returns the file written.

    Resumable: queries already in the (shard's) store are skipped. With ``shard=(i, n)``
    this process takes the queries whose :func:`shard_of` is ``i`` and writes
    :func:`shard_path` (out_path itself when n == 1).
    """
    _check_shard(shard)
    index, total = shard
    path = shard_path(out_path, index, total)
    store = LabelStore(path)
    done = store.done_qids()
    todo = [
        q
        for q in data.queries
        if q in data.candidates and shard_of(q, total) == index and q not in done
    ]
    teacher_id = teacher or scorer.name
    desc = f"teacher scores[{teacher_id}]" + (f" shard {index}/{total}" if total > 1 else "")
    for qid in tqdm(todo, desc=desc, unit="q", disable=not progress):
        docids = data.candidate_list(qid, k).docids
        query = data.queries[qid].text
        texts = [data.corpus[d].full_text for d in docids]
        scores = _score_in_batches(scorer, query, texts, batch_size)
        store.append(
            LabelRecord(
                qid=qid,
                query=query,
                docids=docids,
                method=METHOD,
                teacher=teacher_id,
                scores=dict(zip(docids, scores, strict=True)),
                extra={"k": k, "shard": f"{index}/{total}"},
            )
        )
    return path


def merge_shards(out_path: str | Path, num_shards: int) -> Path:
    """Join the ``num_shards`` shard files of ``out_path`` into ``out_path`` (atomically).

    Every shard file must exist; a qid found in two shards raises ``DataFormatError``.
    """
    out_path = Path(out_path)
    rows: list[dict] = []
    seen: dict[str, Path] = {}
    for index in range(num_shards):
        path = shard_path(out_path, index, num_shards)
        if not path.is_file():
            raise FileNotFoundError(f"shard {index}/{num_shards} missing: {path}")
        for lineno, record in iter_labels(path):
            if record.qid in seen:
                raise DataFormatError(
                    path, f"qid {record.qid!r} also in {seen[record.qid]}", line=lineno, field="qid"
                )
            seen[record.qid] = path
            rows.append(record.to_dict())
    return write_jsonl(out_path, rows)
