"""Inference speed of the re-ranker backends on TREC DL 2020 BM25 candidates.

For each backend (our torch engine, ONNX fp32, ONNX dynamic int8, and
``sentence_transformers.CrossEncoder`` on the same weights as the baseline, all measured in
the same run): pairs per second and per-query latency (p50, p99) for reranking the top-N
BM25 candidates of each query, plus the achieved GFLOP/s against a peak estimate.

FLOPs per batch (encoder only; embeddings, LayerNorm, softmax and the head are left out):
``layers * (2 * (4 H^2 + 2 H I) * B * T + 4 * B * T^2 * H)`` for B pairs padded to T
tokens, hidden size H and feed-forward size I: the linear layers (Q, K, V, output, two
feed-forward) at 2 FLOPs per multiply-add, and the two attention products (Q·Kᵀ, A·V). T
is the actual padded length of each batch, so padding counts as work done.

Peak estimate: threads x clock (MHz from /proc/cpuinfo, the current, not the turbo clock)
x FP32 FLOPs per cycle per core from the CPU flags: AVX-512 on Intel = 64 (two 512-bit
FMA units), AVX-512 on AMD Zen 4 = 32 (512-bit ops run on 256-bit units), AVX2 + FMA = 32,
AVX = 16, else 8. int8 kernels (VNNI) can exceed the FP32 peak; their GFLOP/s counts the
same FP32-equivalent FLOPs.

Usage: ``python benchmarks/inference.py --queries 5`` (JSON to benchmarks/results/).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from rankdistill.serving.latency import measure_latency

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "trec-dl-2020" / "bm25-top100.json"
BACKENDS = ("sentence-transformers", "torch", "onnx", "onnx-int8")


def cpu_peak_gflops(threads: int) -> dict[str, Any]:
    """Peak FP32 GFLOP/s estimate for ``threads`` cores (assumptions in the module doc)."""
    info = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    flags: set[str] = set()
    mhz, vendor, family = 0.0, "", ""
    for line in info.splitlines():
        key, _, value = line.partition(":")
        key, value = key.strip(), value.strip()
        if key == "flags" and not flags:
            flags = set(value.split())
        elif key == "cpu MHz" and not mhz:
            mhz = float(value)
        elif key == "vendor_id" and not vendor:
            vendor = value
        elif key == "cpu family" and not family:
            family = value
    if "avx512f" in flags:
        per_cycle = 32 if vendor == "AuthenticAMD" else 64
    elif "avx2" in flags and "fma" in flags:
        per_cycle = 32
    elif "avx" in flags:
        per_cycle = 16
    else:
        per_cycle = 8
    return {
        "threads": threads,
        "mhz": mhz,
        "vendor": vendor,
        "cpu_family": family,
        "fp32_flops_per_cycle_per_core": per_cycle,
        "peak_gflops": threads * mhz * 1e6 * per_cycle / 1e9,
        "assumption": "threads x current clock x FP32 FLOPs/cycle/core from CPU flags "
        "(AVX-512 Intel 64, AVX-512 AMD Zen4 32, AVX2+FMA 32, AVX 16)",
    }


def encoder_flops(config: Any, batches: list[tuple[int, int]]) -> float:
    """FLOPs of the encoder over (batch size, padded length) batches (module docstring)."""
    h, i, layers = config.hidden_size, config.intermediate_size, config.num_hidden_layers
    total = 0.0
    for b, t in batches:
        total += layers * (2 * (4 * h * h + 2 * h * i) * b * t + 4 * b * t * t * h)
    return total


def load_queries(path: Path, n: int, depth: int) -> list[tuple[str, list[str]]]:
    if not path.is_file():
        sys.exit(f"TREC DL 2020 candidates not found at {path} (pass --data)")
    entries = json.loads(path.read_text(encoding="utf-8"))
    return [(e["query"], [h["content"] for h in e["hits"][:depth]]) for e in entries[:n]]


def _summary(timing: dict[str, Any], flops: float, peak: float) -> dict[str, Any]:
    gflops = flops / timing["seconds"] / 1e9
    return {
        **timing,
        "gflops_per_second": gflops,
        "fraction_of_peak": gflops / peak if peak else None,
        "gflop_per_pair": flops / timing["pairs"] / 1e9,
    }


class _CrossEncoderAdapter:
    """sentence-transformers' CrossEncoder behind the ``rerank`` call measure_latency times."""

    def __init__(self, model: Any, batch_size: int) -> None:
        self.model, self.batch_size = model, batch_size

    def rerank(self, query: str, documents: list[str]) -> np.ndarray:
        scores = self.model.predict([(query, d) for d in documents], batch_size=self.batch_size)
        return np.argsort(-np.asarray(scores), kind="stable")


def bench_sentence_transformers(
    model_dir: str,
    queries: list[tuple[str, list[str]]],
    max_length: int,
    batch_size: int,
    peak: float,
) -> dict[str, Any]:
    from sentence_transformers import CrossEncoder

    model = CrossEncoder(model_dir, max_length=max_length, device="cpu")
    tokenizer = model.tokenizer
    timing = measure_latency(_CrossEncoderAdapter(model, batch_size), queries)
    batches = []
    for query, docs in queries:
        # Its batches go in input order, each padded to its longest pair.
        lengths = [
            len(x)
            for x in tokenizer([query] * len(docs), docs, truncation=True, max_length=max_length)[
                "input_ids"
            ]
        ]
        batches += [
            (len(lengths[s : s + batch_size]), max(lengths[s : s + batch_size]))
            for s in range(0, len(lengths), batch_size)
        ]
    return _summary(timing, encoder_flops(model.model.config, batches), peak)


def bench_engine(
    model_dir: str,
    backend: str,
    queries: list[tuple[str, list[str]]],
    threads: int,
    max_length: int,
    batch_size: int,
    peak: float,
) -> dict[str, Any]:
    from transformers import AutoConfig

    from rankdistill.serving.engine import Reranker

    engine = Reranker.load(
        model_dir, backend=backend, threads=threads, max_length=max_length, batch_size=batch_size
    )
    engine.rerank(queries[0][0], queries[0][1][:8])  # warm-up, kept out of the token stats
    engine.stats.reset()
    timing = measure_latency(engine, queries, warmup=False)
    config = AutoConfig.from_pretrained(engine.model_dir)
    h, i, layers = config.hidden_size, config.intermediate_size, config.num_hidden_layers
    stats = engine.stats
    flops = layers * (
        2 * (4 * h * h + 2 * h * i) * stats.padded_tokens + 4 * stats.padded_sq_tokens * h
    )
    result = _summary(timing, flops, peak)
    result["padding_fraction"] = 1 - stats.real_tokens / stats.padded_tokens
    return result


def main() -> None:
    # What else ran on the cores: absolute speeds are only comparable at similar loads.
    load_before = os.getloadavg()[0]
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--model-dir",
        help="Student directory (default: an untrained MiniLM "
        "cross-encoder built on the fly: speed does not depend on training).",
    )
    parser.add_argument("--queries", type=int, default=5, help="DL 2020 queries to rerank.")
    parser.add_argument("--docs", type=int, default=100, help="BM25 candidates per query.")
    parser.add_argument("--threads", type=int, default=2, help="Intra-op threads.")
    parser.add_argument("--max-length", type=int, default=256, help="Max tokens per pair.")
    parser.add_argument("--batch-size", type=int, default=32, help="Pairs per forward pass.")
    parser.add_argument(
        "--backends",
        nargs="+",
        default=list(BACKENDS),
        choices=BACKENDS,
        help="Backends to measure (the baseline is sentence-transformers).",
    )
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="bm25-top100.json.")
    parser.add_argument(
        "--out",
        type=Path,
        default=ROOT / "benchmarks" / "results" / "inference.json",
        help="Where to write the JSON results.",
    )
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    import torch

    torch.set_num_threads(args.threads)
    queries = load_queries(args.data, args.queries, args.docs)
    peak = cpu_peak_gflops(args.threads)
    with tempfile.TemporaryDirectory(prefix="rankdistill-bench-") as tmp:
        model_dir = args.model_dir
        model_note = f"given: {model_dir}"
        if model_dir is None:
            from rankdistill.serving.testing import build_cross_encoder_dir

            model_dir = str(build_cross_encoder_dir(Path(tmp) / "student", head="random"))
            model_note = (
                "untrained all-MiniLM-L6-v2 cross-encoder (random head) built on the "
                "fly; speed does not depend on the weights' values"
            )
        results: dict[str, Any] = {}
        for backend in args.backends:
            print(f"benchmarking {backend} ...", file=sys.stderr)
            if backend == "sentence-transformers":
                results[backend] = bench_sentence_transformers(
                    model_dir, queries, args.max_length, args.batch_size, peak["peak_gflops"]
                )
            else:
                results[backend] = bench_engine(
                    model_dir,
                    backend,
                    queries,
                    args.threads,
                    args.max_length,
                    args.batch_size,
                    peak["peak_gflops"],
                )
    baseline = results.get("sentence-transformers")
    if baseline:
        for res in results.values():
            res["speedup_pairs_per_second_vs_baseline"] = (
                res["pairs_per_second"] / baseline["pairs_per_second"]
            )
            res["p50_latency_ratio_vs_baseline"] = (
                res["latency_ms_p50"] / baseline["latency_ms_p50"]
            )
    report = {
        "benchmark": "rerank DL 2020 BM25 candidates",
        "model": model_note,
        "queries": len(queries),
        "docs_per_query": args.docs,
        "max_length": args.max_length,
        "batch_size": args.batch_size,
        "threads": args.threads,
        "baseline": "sentence-transformers CrossEncoder.predict on the same weights",
        "goal": "onnx-int8 >= 2x baseline pairs/s",
        "machine": {
            "platform": platform.platform(),
            "cpu_count": os.cpu_count(),
            **peak,
            "load_average_1min_before": round(load_before, 2),
        },
        "results": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    for name, res in results.items():
        print(
            f"{name:>22}: {res['pairs_per_second']:7.1f} pairs/s  p50 "
            f"{res['latency_ms_p50']:7.1f} ms  p99 {res['latency_ms_p99']:7.1f} ms  "
            f"{res['gflops_per_second']:6.1f} GFLOP/s  "
            f"x{res.get('speedup_pairs_per_second_vs_baseline', float('nan')):.2f}"
        )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
