"""The in-process executor: one method, the queries in order."""

from __future__ import annotations

from rankdistill.labeling.executors.common import LabelingJob, MethodBackends, label_queries


def run_local(job: LabelingJob) -> None:
    """Label the job's queries in this process (with ``job.backend`` when given)."""
    with MethodBackends(job.cfg, job.out_dir, job.backend) as backends:
        method = backends.method(job.ranker_scorers)
        label_queries(job.data, job.qids, method, job.store, job.prerank_scorer, job.progress)
