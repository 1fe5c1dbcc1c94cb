"""``benchmark``: latency and throughput of every student on every served backend.

Each row is ``{"system", "backend"}`` plus :func:`rankdistill.serving.latency.
measure_latency`'s keys, unchanged from here to the report.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.console import Console

from rankdistill.pipeline.context import RunContext
from rankdistill.pipeline.stage import Stage
from rankdistill.pipeline.stages.export import EXPORT
from rankdistill.pipeline.stages.retrieve import RETRIEVE
from rankdistill.pipeline.stages.train import TRAIN
from rankdistill.utils import atomic_write_json

console = Console(stderr=True)
TORCH = "torch"


@dataclass
class BenchmarkOutput:
    rows: list[dict[str, Any]]


def benchmark(ctx: RunContext) -> BenchmarkOutput:
    from rankdistill.serving.engine import Reranker
    from rankdistill.serving.export import EXPORT_FORMATS
    from rankdistill.serving.latency import measure_latency

    cfg = ctx.config.benchmark
    dev = ctx.data("dev", ctx.output(RETRIEVE).runs["dev"])
    queries = [
        (
            dev.queries[q].text,
            [dev.corpus[d].full_text for d in dev.candidate_list(q, cfg.docs_per_query).docids],
        )
        for q in list(dev.candidates)[: cfg.queries]
    ]
    exports = ctx.output(EXPORT).students
    rows = []
    for name, student in ctx.output(TRAIN).students.items():
        targets = {TORCH: student.model_dir}
        for fmt, folder in exports.get(name, {}).items():
            backend = EXPORT_FORMATS[fmt].serving_backend
            if backend is not None:
                targets[backend] = folder
        for backend, path in targets.items():
            if backend not in cfg.backends:
                continue
            engine = Reranker.load(path, backend=backend, threads=cfg.threads)
            timing = measure_latency(engine, queries)
            rows.append({"system": name, "backend": backend, **timing})
            console.print(
                f"{name} ({backend}): {timing['pairs_per_second']:.0f} pairs/s, "
                f"p50 {timing['latency_ms_p50']:.0f} ms/query"
            )
    atomic_write_json(ctx.stage_dir(BENCHMARK) / "latency.json", rows)
    return BenchmarkOutput(rows)


BENCHMARK = Stage(
    "benchmark",
    ("benchmark",),
    (EXPORT,),
    BenchmarkOutput,
    benchmark,
    report=True,
    help="latency and throughput",
)
