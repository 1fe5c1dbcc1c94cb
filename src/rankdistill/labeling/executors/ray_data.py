"""The Ray executor: queries as self-contained JSON rows through a Ray Data actor pool;
records stream back to the driver, which alone writes the store."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from rankdistill.data.records import Document, LabelRecord, Query, RankingData
from rankdistill.labeling.config import LabelingConfig
from rankdistill.labeling.executors.common import LabelingJob, MethodBackends, query_candidates
from rankdistill.labeling.methods import LabelMethod, candidate_depth
from rankdistill.labeling.store import LabelStore
from rankdistill.scoring import Scorer


def query_payload(data: RankingData, qid: str, depth: int) -> str:
    """One query, its candidates and their texts as JSON: a self-contained Ray row."""
    docs = data.candidate_list(qid, depth).docs
    query = data.queries[qid]
    return json.dumps(
        {
            "query": {"qid": qid, "text": query.text},
            "candidates": [[d.docid, d.score] for d in docs],
            "docs": {
                d.docid: {"text": data.corpus[d.docid].text, "title": data.corpus[d.docid].title}
                for d in docs
            },
        },
        ensure_ascii=False,
    )


def label_payload(method: LabelMethod, payload: str, prerank_scorer: Scorer | None) -> str:
    """Label one :func:`query_payload`; returns the record as JSON."""
    item = json.loads(payload)
    query = Query(item["query"]["qid"], item["query"]["text"])
    corpus = {d: Document(d, v["text"], v.get("title")) for d, v in item["docs"].items()}
    data = RankingData(
        {query.qid: query}, corpus, {query.qid: {d: float(s) for d, s in item["candidates"]}}
    )
    candidates = query_candidates(data, query.qid, method, prerank_scorer)
    return json.dumps(method.label_query(query, candidates, corpus).to_dict(), ensure_ascii=False)


class RayLabeler:
    """A Ray Data actor: builds its backend and method once, then labels rows."""

    def __init__(
        self,
        cfg: dict[str, Any],
        out_dir: str,
        prerank_scorer: Scorer | None = None,
        ranker_scorers: dict[str, Scorer] | None = None,
    ) -> None:
        self.cfg = LabelingConfig.model_validate(cfg)
        self.backends = MethodBackends(self.cfg, Path(out_dir), None)
        self.method = self.backends.method(ranker_scorers)
        self.prerank_scorer = prerank_scorer

    def __call__(self, batch: dict[str, Any]) -> dict[str, list[str]]:
        qids = [str(q) for q in batch["qid"]]
        records = [
            label_payload(self.method, str(p), self.prerank_scorer) for p in batch["payload"]
        ]
        return {"qid": qids, "record": records}


def ray_dataset(rows: list[dict[str, str]], address: str | None, section: str) -> Any | None:
    """``rows`` as a Ray Data dataset (None when there are none); ``section.use_ray``
    names the setting in the error when Ray is not installed."""
    try:
        import ray
    except ImportError as exc:
        raise ImportError(f'{section}.use_ray needs Ray: pip install "rankdistill[ray]"') from exc
    if not rows:
        return None
    if not ray.is_initialized():
        # None starts a local instance; an address ("auto", "ray://host:10001") joins a cluster.
        ray.init(address=address, include_dashboard=False, log_to_driver=False)
    return ray.data.from_items(rows, override_num_blocks=min(len(rows), 2000))


def store_streamed_records(rows: Iterable[dict[str, Any]], store: LabelStore, bar: Any) -> None:
    """Append each row's ``record`` not yet in ``store``, ticking ``bar``; close it after."""
    for row in rows:
        record = LabelRecord.from_dict(json.loads(row["record"]))
        if record.qid not in store.done_qids():
            store.append(record)
        bar.update(1)
    bar.close()


def run_on_ray(job: LabelingJob) -> None:
    """Label the job's queries on Ray Data (a local instance, or ``cfg.ray_address``)."""
    cfg = job.cfg
    depth = candidate_depth(cfg)
    rows = [{"qid": q, "payload": query_payload(job.data, q, depth)} for q in job.qids]
    dataset = ray_dataset(rows, cfg.ray_address, "labeling")
    if dataset is None:
        return
    labelled = dataset.map_batches(
        RayLabeler,
        fn_constructor_kwargs={
            "cfg": cfg.model_dump(mode="json"),
            "out_dir": str(job.out_dir),
            "prerank_scorer": job.prerank_scorer,
            "ranker_scorers": job.worker_scorers(),
        },
        batch_size=1,
        concurrency=max(1, cfg.num_shards),
    )
    bar = tqdm(total=len(rows), desc=f"label[{cfg.method}] ray", disable=not job.progress, unit="q")
    # Records stream back to the driver, which alone writes the store: one writer, and a
    # killed job keeps every record that reached it.
    store_streamed_records(labelled.iter_rows(), job.store, bar)
