"""Load test of the rerank service against the engine it serves, on the same pairs.

In one run:

1. the engine (``Reranker``: same model folder, backend and threads as the service) scores
   every (query, window) pair of the requests offline, in one call (its best case: all
   pairs sorted by length, full batches), before and after the service runs;
2. ``rankdistill serve`` is started on a free 127.0.0.1 port with its defaults (plus
   ``--backend``/``--threads`` and any micro-batching option given here), and for each
   concurrency level (default 1, 8 and 32) that many closed-loop clients send distinct
   ``POST /v2/rerank`` requests of ``--docs`` (20) DL 2020 BM25 candidates each, for
   ``--seconds`` after a warm-up; pairs are counted as the windows the service reports
   scoring (``meta.windows_scored``), the same pairs the engine scored;
3. a short phase of oversize and malformed requests checks they all get a 4xx.

Per level it reports pairs/s, requests/s, p50/p99 latency, 5xx and other non-200 answers
and ``service_over_engine_pairs_per_s`` (the service's pairs/s over the engine's; the
target is >= 0.8 with no 5xx). The 1-minute load average before the run is recorded: run
it on idle cores. JSON goes to ``benchmarks/results/serve_load.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "trec-dl-2020" / "bm25-top100.json"
ROUTE = "/v2/rerank"
TARGET_RATIO = 0.8


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def candidate_lists(path: Path, docs: int, limit: int | None) -> list[tuple[str, list[str]]]:
    """Distinct (query, documents) lists: each query's top-100 cut into runs of ``docs``."""
    if path.is_file():
        entries = json.loads(path.read_text(encoding="utf-8"))
        lists = [
            (e["query"], [h["content"] for h in e["hits"][start : start + docs]])
            for start in range(0, 100, docs)
            for e in entries
        ]
        lists = [(q, d) for q, d in lists if len(d) == docs]
    else:
        sys.path.insert(0, str(ROOT))  # the sample texts live with the test fixtures
        from tests.fixtures.students import DOCUMENTS, QUERIES

        print(f"{path} not found: using the built-in sample texts", file=sys.stderr)
        rng = random.Random(0)
        lists = [(q, rng.choices(DOCUMENTS, k=docs)) for q in QUERIES for _ in range(20)]
    return lists[:limit] if limit else lists


def serving_folder(model_dir: Path | None, backend: str, tmp: Path) -> tuple[Path, str]:
    """The folder the service and the engine both load (an ONNX backend's export made once)."""
    note = f"given: {model_dir}"
    if model_dir is None:
        sys.path.insert(0, str(ROOT))
        from tests.fixtures.students import build_cross_encoder_dir

        model_dir = build_cross_encoder_dir(tmp / "student", head="random")
        note = "untrained all-MiniLM-L6-v2 cross-encoder built on the fly (speed only)"
    if backend == "torch":
        return model_dir, note
    from rankdistill.serving.engine import _locate_onnx_export
    from rankdistill.serving.export import export_onnx
    from rankdistill.serving.manifest import read_manifest

    found = _locate_onnx_export(model_dir, read_manifest(model_dir), backend)
    if found is None:
        found = export_onnx(model_dir, tmp / backend, quantize_int8=backend == "onnx-int8")
    return found, note


def engine_offline(
    folder: Path, backend: str, threads: int, lists: list[tuple[str, list[str]]]
) -> dict[str, Any]:
    """The engine on every window pair of ``lists`` in one offline call."""
    from rankdistill.scoring_windows import WindowConfig
    from rankdistill.serving.config import ServeConfig
    from rankdistill.serving.engine import Reranker

    defaults = ServeConfig()
    engine = Reranker.load(
        folder,
        backend=backend,
        threads=threads,
        batch_size=defaults.batch_size,
        padding_slack=defaults.padding_slack,
    )
    pairs = [
        (query, window)
        for query, docs in lists
        for window in engine.plan_windows(query, docs, WindowConfig()).texts
    ]
    engine.score_pairs(pairs[:64])  # warm-up: graph optimisation, allocator growth
    start = time.perf_counter()
    engine.score_pairs(pairs)
    seconds = time.perf_counter() - start
    return {
        "pairs": len(pairs),
        "seconds": seconds,
        "pairs_per_s": len(pairs) / seconds,
        "max_length": engine.max_length,
        "batch_size": engine.batch_size,
    }


def start_service(
    folder: Path, port: int, backend: str, threads: int, extra: list[str]
) -> subprocess.Popen[bytes]:
    cmd = [
        sys.executable,
        "-c",
        "from rankdistill.cli.main import app; app()",
        "serve",
        str(folder),
        "--port",
        str(port),
        "--backend",
        backend,
        "--threads",
        str(threads),
        "--max-documents",
        "200",
        *extra,
    ]
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    return subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def wait_healthy(url: str, proc: subprocess.Popen[bytes], timeout: float = 300) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"the service exited with code {proc.returncode}")
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    sys.exit(f"the service at {url} did not become healthy in {timeout:.0f} s")


async def run_level(
    url: str, bodies: list[bytes], concurrency: int, seconds: float, warmup: int
) -> dict[str, Any]:
    """``concurrency`` closed-loop clients; each request body is sent at most once."""
    import httpx

    headers = {"Content-Type": "application/json"}
    limits = httpx.Limits(max_connections=concurrency + 4, max_keepalive_connections=concurrency)
    records: list[tuple[int, float, int]] = []  # status, latency, windows scored
    queue = iter(bodies)

    async with httpx.AsyncClient(timeout=300, limits=limits) as client:

        async def send(body: bytes) -> tuple[int, float, int]:
            start = time.perf_counter()
            try:
                response = await client.post(f"{url}{ROUTE}", content=body, headers=headers)
            except httpx.HTTPError:
                return -1, time.perf_counter() - start, 0  # transport failure
            latency = time.perf_counter() - start
            windows = response.json()["meta"]["windows_scored"] if response.is_success else 0
            return response.status_code, latency, windows

        await asyncio.gather(*(send(next(queue)) for _ in range(warmup)))
        deadline = time.monotonic() + seconds

        async def client_loop() -> None:
            for body in queue:  # shared iterator: no two requests are the same
                if time.monotonic() > deadline:
                    return
                records.append(await send(body))

        start = time.perf_counter()
        await asyncio.gather(*(client_loop() for _ in range(concurrency)))
        wall = time.perf_counter() - start
    ok = [(lat, w) for status, lat, w in records if status == 200]
    latencies = [lat for lat, _ in ok]
    pairs = sum(w for _, w in ok)
    return {
        "concurrency": concurrency,
        "requests": len(records),
        "ran_out_of_distinct_requests": len(records) + warmup >= len(bodies),
        "wall_s": wall,
        "pairs": pairs,
        "pairs_per_s": pairs / wall,
        "requests_per_s": len(ok) / wall,
        "latency_ms_p50": float(np.percentile(latencies, 50) * 1000) if ok else None,
        "latency_ms_p99": float(np.percentile(latencies, 99) * 1000) if ok else None,
        "errors_5xx": sum(1 for s, _, _ in records if s >= 500),
        "transport_errors": sum(1 for s, _, _ in records if s == -1),
        "status_counts": {str(k): v for k, v in Counter(s for s, _, _ in records).items()},
    }


def bad_requests(query: str) -> list[bytes]:
    too_many = {"query": query, "documents": ["x"] * 201}
    too_long = {"query": query, "documents": ["y" * 20_001]}
    wrong_types = {"query": query, "documents": [1, 2]}
    both = {"query": query, "documents": ["a"], "texts": ["b"]}
    nested = b'{"query": "q", "documents": ' + b"[" * 50_000 + b"]" * 50_000 + b"}"
    bodies = [json.dumps(b).encode() for b in (too_many, too_long, wrong_types, both)]
    return [*bodies, b'{"query": "q", "documents": ["unterminated', nested]


async def run_bad(url: str, bodies: list[bytes]) -> dict[str, Any]:
    import httpx

    async with httpx.AsyncClient(timeout=60) as client:
        responses = await asyncio.gather(
            *(
                client.post(
                    f"{url}{ROUTE}", content=b, headers={"Content-Type": "application/json"}
                )
                for b in bodies
            )
        )
    statuses = [r.status_code for r in responses]
    return {
        "sent": len(statuses),
        "rejected_4xx": sum(1 for s in statuses if 400 <= s < 500),
        "statuses": statuses,
    }


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--model-dir", type=Path, help="Student folder (default: built on the fly)."
    )
    parser.add_argument("--backend", default="onnx-int8", choices=["torch", "onnx", "onnx-int8"])
    parser.add_argument(
        "--threads", type=int, default=os.cpu_count(), help="Intra-op threads (service, engine)."
    )
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--docs", type=int, default=20, help="Documents per request.")
    parser.add_argument("--seconds", type=float, default=30.0, help="Measured time per level.")
    parser.add_argument("--warmup", type=int, default=4, help="Requests before each level.")
    parser.add_argument("--lists", type=int, help="Use only the first N distinct request lists.")
    parser.add_argument(
        "--serve-option",
        action="append",
        default=[],
        help="Extra `rankdistill serve` option, e.g. --serve-option=--max-batch-pairs=128.",
    )
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="bm25-top100.json.")
    parser.add_argument(
        "--out", type=Path, default=ROOT / "benchmarks" / "results" / "serve_load.json"
    )
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    load_before = os.getloadavg()
    lists = candidate_lists(args.data, args.docs, args.lists)
    bodies = [
        json.dumps({"model": "student", "query": q, "documents": d}).encode() for q, d in lists
    ]
    with tempfile.TemporaryDirectory(prefix="rankdistill-load-") as tmp:
        folder, model_note = serving_folder(args.model_dir, args.backend, Path(tmp))
        print("engine, offline ...", file=sys.stderr)
        engine_before = engine_offline(folder, args.backend, args.threads, lists)
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        proc = start_service(folder, port, args.backend, args.threads, args.serve_option)
        levels: list[dict[str, Any]] = []
        try:
            wait_healthy(url, proc)
            for concurrency in args.concurrency:
                print(f"service, {concurrency} concurrent clients ...", file=sys.stderr)
                rng = random.Random(concurrency)
                shuffled = rng.sample(bodies, len(bodies))
                levels.append(
                    asyncio.run(run_level(url, shuffled, concurrency, args.seconds, args.warmup))
                )
            bad = asyncio.run(run_bad(url, bad_requests(lists[0][0])))
        finally:
            proc.terminate()  # SIGTERM: uvicorn drains, then exits
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        print("engine, offline again ...", file=sys.stderr)
        engine_after = engine_offline(folder, args.backend, args.threads, lists)
    engine_rate = max(engine_before["pairs_per_s"], engine_after["pairs_per_s"])
    for level in levels:
        level["service_over_engine_pairs_per_s"] = level["pairs_per_s"] / engine_rate
    report = {
        "benchmark": "rerank service under load vs the engine offline, same pairs",
        "model": model_note,
        "backend": args.backend,
        "threads": args.threads,
        "route": ROUTE,
        "docs_per_request": args.docs,
        "distinct_requests": len(bodies),
        "seconds_per_level": args.seconds,
        "serve_options": args.serve_option,
        "machine": {
            "cpu_count": os.cpu_count(),
            "processor": platform.processor() or platform.machine(),
            "load_average_before": list(load_before),
        },
        "engine_offline": {"before": engine_before, "after": engine_after},
        "engine_pairs_per_s": engine_rate,
        "levels": levels,
        "bad_requests": bad,
        "checks": {
            "no_5xx": all(level["errors_5xx"] == 0 for level in levels),
            "all_bad_rejected_4xx": bad["rejected_4xx"] == bad["sent"],
            f"service_over_engine_at_least_{TARGET_RATIO}": all(
                level["service_over_engine_pairs_per_s"] >= TARGET_RATIO for level in levels
            ),
        },
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(json.dumps({"engine_pairs_per_s": engine_rate, "levels": levels}, indent=2))
    print(f"wrote {args.out}")
    if not (report["checks"]["no_5xx"] and report["checks"]["all_bad_rejected_4xx"]):
        sys.exit(1)


if __name__ == "__main__":
    main()
