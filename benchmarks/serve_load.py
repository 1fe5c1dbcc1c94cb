"""Load test of the rerank service: throughput, latency and clean rejection of bad input.

Starts ``rankdistill serve`` on a free 127.0.0.1 port (or targets ``--url``), sends a
bounded number of requests (default 200, 8 concurrent, 60 s cap) in which about 1 in 10 is
oversize (too many documents or a too-long document) and 1 in 10 malformed (bad JSON or
wrong types), and reports throughput, p50/p99 latency of the good requests, 5xx errors
(must be 0) and how many bad requests were rejected with a 4xx. JSON goes to
``benchmarks/results/serve_load.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def candidate_lists(path: Path, docs: int) -> list[tuple[str, list[str]]]:
    if path.is_file():
        entries = json.loads(path.read_text(encoding="utf-8"))
        return [(e["query"], [h["content"] for h in e["hits"][:docs]]) for e in entries]
    from rankdistill.serving.testing import DOCUMENTS, QUERIES

    print(f"{path} not found: using the built-in sample texts", file=sys.stderr)
    return [(q, (DOCUMENTS * (docs // len(DOCUMENTS) + 1))[:docs]) for q in QUERIES]


def make_requests(
    n: int,
    lists: list[tuple[str, list[str]]],
    max_documents: int,
    max_document_chars: int,
    seed: int,
) -> list[tuple[str, bytes]]:
    """(kind, body) pairs: 'good', 'oversize' or 'malformed'."""
    rng = random.Random(seed)
    out: list[tuple[str, bytes]] = []
    for i in range(n):
        query, docs = lists[i % len(lists)]
        roll = rng.random()
        if roll < 0.05:
            body: Any = {"query": query, "documents": ["x"] * (max_documents + 1)}
            out.append(("oversize", json.dumps(body).encode()))
        elif roll < 0.10:
            body = {"query": query, "documents": ["y" * (max_document_chars + 1)]}
            out.append(("oversize", json.dumps(body).encode()))
        elif roll < 0.15:
            out.append(("malformed", b'{"query": "q", "documents": ["unterminated'))
        elif roll < 0.20:
            out.append(("malformed", json.dumps({"query": query, "documents": [1, 2]}).encode()))
        else:
            body = {"query": query, "documents": docs, "top_n": 10}
            out.append(("good", json.dumps(body).encode()))
    return out


async def run_load(
    url: str, requests: list[tuple[str, bytes]], concurrency: int, time_cap: float
) -> dict[str, Any]:
    import httpx

    semaphore = asyncio.Semaphore(concurrency)
    records: list[tuple[str, int, float]] = []
    deadline = time.monotonic() + time_cap

    async def one(client: httpx.AsyncClient, kind: str, body: bytes) -> None:
        async with semaphore:
            if time.monotonic() > deadline:
                return
            start = time.perf_counter()
            try:
                response = await client.post(
                    f"{url}/rerank", content=body, headers={"Content-Type": "application/json"}
                )
                status = response.status_code
            except httpx.HTTPError:
                status = -1  # transport failure
            records.append((kind, status, time.perf_counter() - start))

    start = time.perf_counter()
    async with httpx.AsyncClient(timeout=time_cap) as client:
        await asyncio.gather(*(one(client, k, b) for k, b in requests))
    wall = time.perf_counter() - start
    good = [lat for kind, status, lat in records if kind == "good" and status == 200]
    bad = [(kind, status) for kind, status, _ in records if kind != "good"]
    return {
        "sent": len(records),
        "skipped_after_time_cap": len(requests) - len(records),
        "wall_seconds": wall,
        "requests_per_second": len(records) / wall,
        "good_ok": len(good),
        "good_failed": sum(1 for k, s, _ in records if k == "good" and s != 200),
        "latency_ms_p50": float(np.percentile(good, 50) * 1000) if good else None,
        "latency_ms_p99": float(np.percentile(good, 99) * 1000) if good else None,
        "errors_5xx": sum(1 for _, s, _ in records if s >= 500),
        "transport_errors": sum(1 for _, s, _ in records if s == -1),
        "bad_requests": len(bad),
        "bad_rejected_4xx": sum(1 for _, s in bad if 400 <= s < 500),
        "status_counts": {str(k): v for k, v in Counter(s for _, s, _ in records).items()},
    }


def start_service(
    model_dir: str,
    port: int,
    backend: str,
    threads: int,
    max_documents: int,
    max_document_chars: int,
) -> subprocess.Popen[bytes]:
    cmd = [
        sys.executable,
        "-c",
        "from rankdistill.cli.main import app; app()",
        "serve",
        model_dir,
        "--port",
        str(port),
        "--backend",
        backend,
        "--threads",
        str(threads),
        "--max-documents",
        str(max_documents),
        "--max-document-chars",
        str(max_document_chars),
    ]
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    return subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def wait_healthy(url: str, proc: subprocess.Popen[bytes] | None, timeout: float = 300) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            sys.exit(f"the service exited with code {proc.returncode}")
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    sys.exit(f"the service at {url} did not become healthy in {timeout:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="Target an already running service instead.")
    parser.add_argument(
        "--model-dir",
        help="Student directory to serve (default: an untrained "
        "MiniLM cross-encoder built on the fly).",
    )
    parser.add_argument(
        "--backend",
        default="onnx-int8",
        choices=["torch", "onnx", "onnx-int8"],
        help="Backend of the started service.",
    )
    parser.add_argument("--threads", type=int, default=2, help="Intra-op threads of the service.")
    parser.add_argument("--requests", type=int, default=200, help="Requests to send.")
    parser.add_argument("--concurrency", type=int, default=8, help="Requests in flight.")
    parser.add_argument("--time-cap", type=float, default=60.0, help="Stop sending after (s).")
    parser.add_argument("--docs", type=int, default=20, help="Documents per good request.")
    parser.add_argument("--max-documents", type=int, default=100, help="Service limit.")
    parser.add_argument("--max-document-chars", type=int, default=5000, help="Service limit.")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="bm25-top100.json.")
    parser.add_argument("--seed", type=int, default=13, help="Seed of the request mix.")
    parser.add_argument(
        "--out",
        type=Path,
        default=ROOT / "benchmarks" / "results" / "serve_load.json",
        help="Where to write the JSON results.",
    )
    args = parser.parse_args()

    requests = make_requests(
        args.requests,
        candidate_lists(args.data, args.docs),
        args.max_documents,
        args.max_document_chars,
        args.seed,
    )
    proc = None
    with tempfile.TemporaryDirectory(prefix="rankdistill-load-") as tmp:
        url, model_note = args.url, "external service"
        if url is None:
            model_dir = args.model_dir
            model_note = f"given: {model_dir}"
            if model_dir is None:
                from rankdistill.serving.testing import build_cross_encoder_dir

                model_dir = str(build_cross_encoder_dir(Path(tmp) / "student", head="random"))
                model_note = "untrained all-MiniLM-L6-v2 cross-encoder built on the fly"
            port = free_port()
            url = f"http://127.0.0.1:{port}"
            proc = start_service(
                model_dir,
                port,
                args.backend,
                args.threads,
                args.max_documents,
                args.max_document_chars,
            )
        try:
            wait_healthy(url, proc)
            results = asyncio.run(run_load(url, requests, args.concurrency, args.time_cap))
        finally:
            if proc is not None:
                proc.terminate()  # SIGTERM: uvicorn drains, then exits
                try:
                    proc.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
    report = {
        "benchmark": "rerank service load",
        "url": url,
        "model": model_note,
        "backend": args.backend if args.url is None else "unknown (external)",
        "threads": args.threads,
        "requests": args.requests,
        "concurrency": args.concurrency,
        "time_cap_s": args.time_cap,
        "docs_per_good_request": args.docs,
        "machine_note": "shared machine: other processes compete for the cores",
        "results": results,
        "checks": {
            "no_5xx": results["errors_5xx"] == 0,
            "all_bad_rejected_4xx": results["bad_rejected_4xx"] == results["bad_requests"],
        },
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(results, indent=2))
    print(f"wrote {args.out}")
    if not all(report["checks"].values()):
        sys.exit(1)


if __name__ == "__main__":
    main()
