"""Inference speed and quality of the re-ranker backends on TREC DL 2020 BM25 candidates.

All in one run, on the same weights, threads and candidates:

1. **Backends** (``sentence_transformers.CrossEncoder`` as the baseline, our torch engine,
   the fused fp32 ONNX export, and every int8 variant of
   :data:`rankdistill.serving.onnx_optimize.INT8_VARIANTS` asked for): each reranks the
   BM25 top-N of the first ``--queries`` DL 2020 queries once. Pairs per second, the latency
   of one query (p50, p99 over the queries), achieved GFLOP/s, and DL 2020 nDCG@10 of the
   scores with its difference from fp32 torch (parity: within 0.01). ``onnx-int8`` is the
   export's default variant; ``fastest_int8_at_parity`` names the fastest variant that
   passed, which is what the default should be.
2. **Measured peak** (no clock formula): a large GEMM through each runtime, fp32
   (``torch.matmul``; an ONNX ``MatMul``) and int8 (ONNX ``MatMulInteger``, uint8 x int8
   and uint8 x uint8; torch's CPU ``_int_mm`` is a reference kernel, ~0.1 GFLOP/s, and is
   left out). Each backend's GFLOP/s is
   reported as a fraction of the peak of its runtime and number type: torch backends of
   the torch fp32 peak, ONNX fp32 of the ONNX fp32 peak, int8 variants of the ONNX int8
   peak of their weight type. An int8 graph still runs attention products, softmax and
   LayerNorm in fp32, so its fraction of the int8 peak is a lower bound on its kernels'.
   ``pairs_per_second_at_measured_peak`` is each backend's ceiling: its FLOPs per pair
   (padding included) at that peak.
3. **Cost by length**: pairs/s of torch, onnx and onnx-int8 on pairs of exactly 64, 128,
   256 and 512 tokens (DL 2020 queries with their candidates joined into one long
   document, cut to the length), no padding.

FLOPs per batch (encoder only; embeddings, LayerNorm, softmax and the head are left out):
``layers * (2 * (4 H^2 + 2 H I) * B * T + 4 * B * T^2 * H)`` for B pairs padded to T
tokens, hidden size H and feed-forward size I: the linear layers (Q, K, V, output, two
feed-forward) at 2 FLOPs per multiply-add, and the two attention products (Q·Kᵀ, A·V). T
is the actual padded length of each batch, so padding counts as work done. int8 counts
the same FLOPs (as integer multiply-adds).

The model: ``--model-dir`` (a trained student), else MiniLM-L6 with the principal-direction
head of ``tests/fixtures/students.py``: untrained, so its nDCG@10 is not a quality figure,
but its scores spread like a trained model's, so int8 vs fp32 differences rank as they
would. Speed does not depend on the weights' values.

Usage: ``python benchmarks/inference.py`` (JSON to benchmarks/results/inference.json;
``--queries 54`` for the whole DL 2020 set).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DL2020 = ROOT.parent / "shared" / "data" / "trec-dl-2020"
PARITY = 0.01  # largest |nDCG@10 - torch fp32's| for a variant to pass
LENGTHS = (64, 128, 256, 512)
GEMM_SIZE = 1024  # M = N = K of the peak GEMMs: large enough to run at full speed


# ----------------------------------------------------------------------------- data
def load_queries(n: int, depth: int) -> tuple[list[tuple[str, str, list[str], list[str]]], Any]:
    """(qid, query, docids, passages) of the first ``n`` DL 2020 queries, and the qrels."""
    path = DL2020 / "bm25-top100.json"
    if not path.is_file():
        sys.exit(f"TREC DL 2020 candidates not found at {path}: this needs ../shared/data")
    from rankdistill.data.qrels import read_qrels

    entries = json.loads(path.read_text(encoding="utf-8"))[:n]
    queries = []
    for entry in entries:
        hits = entry["hits"][:depth]
        qid = str(hits[0]["qid"])
        queries.append(
            (qid, entry["query"], [str(h["docid"]) for h in hits], [h["content"] for h in hits])
        )
    return queries, read_qrels(DL2020 / "qrels.json")


def ndcg10(runs: dict[str, dict[str, float]], qrels: Any) -> float:
    from rankdistill.evaluation.metrics import evaluate_run

    return float(evaluate_run(runs, qrels, ["nDCG@10"]).aggregate["nDCG@10"])


# ----------------------------------------------------------------------------- FLOPs
def encoder_flops(config: Any, batches: Sequence[tuple[int, int]]) -> float:
    """FLOPs of the encoder over (batch size, padded length) batches (module docstring)."""
    h, i, layers = config.hidden_size, config.intermediate_size, config.num_hidden_layers
    return sum(
        layers * (2 * (4 * h * h + 2 * h * i) * b * t + 4 * b * t * t * h) for b, t in batches
    )


def engine_flops(config: Any, stats: Any) -> float:
    h, i, layers = config.hidden_size, config.intermediate_size, config.num_hidden_layers
    return layers * (
        2 * (4 * h * h + 2 * h * i) * stats.padded_tokens + 4 * stats.padded_sq_tokens * h
    )


# ----------------------------------------------------------------------------- peaks
def _best_gflops(run: Callable[[], Any], flops: float, seconds: float = 1.0) -> dict[str, float]:
    """Best and median GFLOP/s of ``run`` repeated for about ``seconds`` (after a warm-up)."""
    run()
    times: list[float] = []
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline or len(times) < 3:
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return {
        "peak_gflops": flops / min(times) / 1e9,
        "median_gflops": flops / float(np.median(times)) / 1e9,
        "runs": len(times),
    }


def _ort_session(model: Any, threads: int) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    return ort.InferenceSession(
        model.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )


def gemm_graph(kind: str, n: int) -> tuple[Any, Any]:
    """An ``n``-cube MatMul (``fp32``) or MatMulInteger (``u8s8``, ``u8u8``) ONNX model with
    its B as a constant weight, as in the model's layers; and an input A for it."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    if kind == "fp32":
        a = rng.standard_normal((n, n), dtype=np.float32)
        b = rng.standard_normal((n, n), dtype=np.float32)
        node = helper.make_node("MatMul", ["A", "B"], ["Y"])
        a_type, y_type = TensorProto.FLOAT, TensorProto.FLOAT
    else:
        a = rng.integers(0, 256, (n, n), dtype=np.uint8)
        b_dtype = np.int8 if kind == "u8s8" else np.uint8
        info = np.iinfo(b_dtype)
        b = rng.integers(info.min, info.max + 1, (n, n), dtype=b_dtype)
        node = helper.make_node("MatMulInteger", ["A", "B"], ["Y"])
        a_type, y_type = TensorProto.UINT8, TensorProto.INT32
    graph = helper.make_graph(
        [node],
        f"gemm_{kind}",
        [helper.make_tensor_value_info("A", a_type, [n, n])],
        [helper.make_tensor_value_info("Y", y_type, [n, n])],
        initializer=[numpy_helper.from_array(b, "B")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model, a


def _ort_gemm(kind: str, n: int, threads: int) -> Callable[[], Any]:
    model, a = gemm_graph(kind, n)
    session = _ort_session(model, threads)
    return lambda: session.run(None, {"A": a})


def measure_peaks(threads: int, n: int = GEMM_SIZE) -> dict[str, dict[str, float]]:
    """GEMM GFLOP/s of every runtime and number type (2 n^3 FLOPs per GEMM)."""
    import torch

    flops = 2.0 * n**3
    peaks = {
        f"onnxruntime-{kind}": _best_gflops(_ort_gemm(kind, n, threads), flops)
        for kind in ("fp32", "u8s8", "u8u8")
    }
    a, b = torch.randn(n, n), torch.randn(n, n)
    with torch.inference_mode():
        peaks["torch-fp32"] = _best_gflops(lambda: torch.matmul(a, b), flops)
    for entry in peaks.values():
        entry["gemm"] = f"{n}x{n}x{n}"
    return peaks


def peak_key(backend: str, settings: dict[str, Any] | None) -> str:
    """Which measured peak a backend's GFLOP/s is a fraction of (module docstring)."""
    if backend in ("sentence-transformers", "torch"):
        return "torch-fp32"
    if settings is None:
        return "onnxruntime-fp32"
    return "onnxruntime-u8u8" if settings["weight_type"] == "QUInt8" else "onnxruntime-u8s8"


# ----------------------------------------------------------------------------- backends
class _CrossEncoderAdapter:
    """sentence-transformers' CrossEncoder with the ``score`` call the engine has."""

    def __init__(self, model: Any, batch_size: int) -> None:
        self.model, self.batch_size = model, batch_size

    def score(self, query: str, documents: list[str]) -> list[float]:
        pairs = [(query, d) for d in documents]
        return [float(s) for s in self.model.predict(pairs, batch_size=self.batch_size)]


def _timed_pass(
    scorer: Any, queries: Sequence[tuple[str, str, list[str], list[str]]]
) -> tuple[dict[str, Any], dict[str, dict[str, float]]]:
    """Score every query once; per-query latency, pairs/s and the run for nDCG."""
    scorer.score(queries[0][1], queries[0][3][:8])  # warm-up: lazy initialisation
    latencies, run, pairs = [], {}, 0
    for qid, query, docids, passages in queries:
        start = time.perf_counter()
        scores = scorer.score(query, passages)
        latencies.append(time.perf_counter() - start)
        run[qid] = dict(zip(docids, scores, strict=True))
        pairs += len(passages)
    total = sum(latencies)
    timing = {
        "queries": len(queries),
        "pairs": pairs,
        "seconds": total,
        "pairs_per_second": pairs / total,
        "latency_ms_p50": float(np.percentile(latencies, 50) * 1000),
        "latency_ms_p99": float(np.percentile(latencies, 99) * 1000),
    }
    return timing, run


def bench_sentence_transformers(
    model_dir: str, queries: Any, args: Any, config: Any
) -> tuple[dict[str, Any], Any]:
    from sentence_transformers import CrossEncoder

    model = CrossEncoder(model_dir, max_length=args.max_length, device="cpu")
    timing, run = _timed_pass(_CrossEncoderAdapter(model, args.batch_size), queries)
    batches = []
    for _, query, _, docs in queries:
        # Its batches go in input order, each padded to its longest pair.
        enc = model.tokenizer(
            [query] * len(docs), docs, truncation=True, max_length=args.max_length
        )
        lengths = [len(x) for x in enc["input_ids"]]
        batches += [
            (len(lengths[s : s + args.batch_size]), max(lengths[s : s + args.batch_size]))
            for s in range(0, len(lengths), args.batch_size)
        ]
    timing["gflop"] = encoder_flops(config, batches) / 1e9
    return timing, run


def load_engine(
    path: Path,
    backend: str,
    args: Any,
    max_length: int | None = None,
    batch_size: int | None = None,
) -> Any:
    from rankdistill.serving.engine import Reranker

    return Reranker.load(
        path,
        backend=backend,
        threads=args.threads,
        max_length=max_length or args.max_length,
        batch_size=batch_size or args.batch_size,
    )


def bench_engine(
    path: Path, backend: str, queries: Any, args: Any, config: Any
) -> tuple[dict[str, Any], Any]:
    engine = load_engine(path, backend, args)
    engine.score(queries[0][1], queries[0][3][:8])
    engine.stats.reset()
    timing, run = _timed_pass(engine, queries)
    stats = engine.stats
    timing["gflop"] = engine_flops(config, stats) / 1e9
    timing["padding_fraction"] = 1 - stats.real_tokens / stats.padded_tokens
    return timing, run


def length_pairs(queries: Any, tokenizer: Any, length: int, count: int) -> list[tuple[str, str]]:
    """``count`` distinct (query, document) pairs longer than ``length`` tokens, which the
    engine cuts to exactly ``length``: a query with eight of its candidates joined into one text,
    each pair starting at a different candidate (the engine scores a repeated pair once)."""
    pairs = []
    for shift in range(count):
        for _, query, _, passages in queries:
            k = shift % len(passages)
            # Eight passages (~700 tokens) exceed 512; more would only cost tokenisation.
            document = " ".join((passages[k:] + passages[:k])[:8])
            if len(tokenizer(query, document, truncation=False)["input_ids"]) > length:
                pairs.append((query, document))
            if len(pairs) == count:
                return pairs
    sys.exit(f"not {count} DL 2020 pairs of {length} tokens")


def bench_lengths(paths: dict[str, Path], queries: Any, args: Any, config: Any) -> dict[str, Any]:
    """Pairs/s of each backend on pairs of exactly each length (no padding)."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(paths["onnx"]))
    table: dict[str, Any] = {}
    for length in LENGTHS:
        pairs = length_pairs(queries, tokenizer, length, args.length_pairs)
        row = {}
        for backend, path in paths.items():
            engine = load_engine(path, backend, args, max_length=length)
            engine.score_pairs(pairs[: args.batch_size])  # warm-up at this shape
            engine.stats.reset()
            start = time.perf_counter()
            engine.score_pairs(pairs)
            seconds = time.perf_counter() - start
            stats = engine.stats
            assert stats.real_tokens == stats.padded_tokens == len(pairs) * length
            row[backend] = {
                "pairs_per_second": len(pairs) / seconds,
                "gflops_per_second": engine_flops(config, stats) / seconds / 1e9,
            }
        table[str(length)] = row
        print(
            f"length {length}: "
            + ", ".join(f"{b} {r['pairs_per_second']:.1f}" for b, r in row.items()),
            file=sys.stderr,
        )
    return table


def bench_batch_sizes(path: Path, queries: Any, args: Any) -> dict[str, float]:
    """Pairs/s of the default int8 export by batch size, on the first 5 queries."""
    table = {}
    for batch_size in args.batch_sizes:
        engine = load_engine(path, "onnx-int8", args, batch_size=batch_size)
        timing, _ = _timed_pass(engine, queries[:5])
        table[str(batch_size)] = timing["pairs_per_second"]
    return table


# ----------------------------------------------------------------------------- main
def parse_args() -> argparse.Namespace:
    from rankdistill.serving.onnx_optimize import DEFAULT_INT8_VARIANT, INT8_VARIANTS

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model-dir", help="A trained student (default: module docstring).")
    parser.add_argument("--queries", type=int, default=30, help="DL 2020 queries (max 54).")
    parser.add_argument("--docs", type=int, default=100, help="BM25 candidates per query.")
    parser.add_argument("--threads", type=int, default=2, help="Intra-op threads.")
    parser.add_argument("--max-length", type=int, default=256, help="Max tokens per pair.")
    parser.add_argument("--batch-size", type=int, default=32, help="Pairs per forward pass.")
    parser.add_argument(
        "--batch-sizes",
        type=int,
        nargs="*",
        default=[16, 32, 64],
        help="Swept for the default int8 export.",
    )
    parser.add_argument(
        "--variants",
        nargs="+",
        choices=list(INT8_VARIANTS),
        default=[v for v in INT8_VARIANTS if v != DEFAULT_INT8_VARIANT],
        help="int8 variants measured beside the default one (onnx-int8).",
    )
    parser.add_argument("--length-pairs", type=int, default=64, help="Pairs per length.")
    parser.add_argument(
        "--out",
        type=Path,
        default=ROOT / "benchmarks" / "results" / "inference.json",
        help="Where to write the JSON results.",
    )
    return parser.parse_args()


def main() -> None:
    # What else ran on the cores: absolute speeds are only comparable at similar loads.
    load_before = os.getloadavg()
    started = time.perf_counter()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    args = parse_args()

    import torch
    import transformers
    from transformers import AutoConfig

    from rankdistill.serving.export import export_onnx
    from rankdistill.serving.onnx_optimize import DEFAULT_INT8_VARIANT

    transformers.logging.set_verbosity_error()
    torch.set_num_threads(args.threads)
    queries, qrels = load_queries(args.queries, args.docs)
    print("measuring GEMM peaks ...", file=sys.stderr)
    peaks = measure_peaks(args.threads)
    with tempfile.TemporaryDirectory(prefix="rankdistill-bench-") as tmp:
        model_dir = args.model_dir
        model_note = f"given: {model_dir}"
        if model_dir is None:
            sys.path.insert(0, str(ROOT))  # the test fixtures live in tests/
            from tests.fixtures.students import build_cross_encoder_dir

            model_dir = str(build_cross_encoder_dir(Path(tmp) / "student", head="principal"))
            model_note = (
                "untrained all-MiniLM-L6-v2 cross-encoder, principal-direction head "
                "(tests/fixtures/students.py): nDCG@10 is for parity, not quality"
            )
        config = AutoConfig.from_pretrained(model_dir)
        paths: dict[str, Path] = {"torch": Path(model_dir)}
        settings: dict[str, Any] = {}
        print("exporting ...", file=sys.stderr)
        paths["onnx"] = export_onnx(model_dir, Path(tmp) / "onnx")
        for variant in [
            DEFAULT_INT8_VARIANT,
            *[v for v in args.variants if v != DEFAULT_INT8_VARIANT],
        ]:
            name = "onnx-int8" if variant == DEFAULT_INT8_VARIANT else f"onnx-int8:{variant}"
            paths[name] = export_onnx(
                model_dir,
                Path(tmp) / name.replace(":", "-"),
                quantize_int8=True,
                int8_variant=variant,
            )
            settings[name] = json.loads((paths[name] / "rankdistill.json").read_text())
        results: dict[str, Any] = {}
        order = ["sentence-transformers", *paths]
        for backend in order:
            print(f"benchmarking {backend} ...", file=sys.stderr)
            if backend == "sentence-transformers":
                timing, run = bench_sentence_transformers(model_dir, queries, args, config)
            else:
                engine_backend = backend.split(":")[0]
                timing, run = bench_engine(paths[backend], engine_backend, queries, args, config)
            manifest = settings.get(backend, {})
            quantization = manifest.get("quantization")
            key = peak_key(backend.split(":")[0], quantization)
            gflops = timing["gflop"] / timing["seconds"]
            results[backend] = {
                **timing,
                "gflops_per_second": gflops,
                "peak": key,
                "fraction_of_measured_peak": gflops / peaks[key]["peak_gflops"],
                "gflop_per_pair": timing["gflop"] / timing["pairs"],
                # What these FLOPs per pair would give at the GEMM peak: the ceiling.
                "pairs_per_second_at_measured_peak": peaks[key]["peak_gflops"]
                * timing["pairs"]
                / timing["gflop"],
                "nDCG@10": ndcg10(run, qrels),
                **(
                    {"int8_variant": manifest["graph_optimization"]["int8_variant"]}
                    if quantization
                    else {}
                ),
            }
        lengths_table = bench_lengths(
            {b: paths[b] for b in ("torch", "onnx", "onnx-int8")}, queries, args, config
        )
        batch_table = bench_batch_sizes(paths["onnx-int8"], queries, args)
        fusion = json.loads((paths["onnx"] / "rankdistill.json").read_text())["graph_optimization"]

    baseline = results["sentence-transformers"]
    reference = results["torch"]["nDCG@10"]
    for res in results.values():
        res["speedup_pairs_per_second_vs_baseline"] = (
            res["pairs_per_second"] / baseline["pairs_per_second"]
        )
        res["p50_latency_ratio_vs_baseline"] = res["latency_ms_p50"] / baseline["latency_ms_p50"]
        res["nDCG@10_minus_torch_fp32"] = res["nDCG@10"] - reference
        res["parity_ok"] = abs(res["nDCG@10_minus_torch_fp32"]) <= PARITY
    int8 = {k: v for k, v in results.items() if k.startswith("onnx-int8")}
    passing = [k for k, v in int8.items() if v["parity_ok"]]
    fastest = max(passing, key=lambda k: int8[k]["pairs_per_second"]) if passing else None
    report = {
        "benchmark": "rerank DL 2020 BM25 candidates",
        "model": model_note,
        "queries": len(queries),
        "docs_per_query": args.docs,
        "max_length": args.max_length,
        "batch_size": args.batch_size,
        "threads": args.threads,
        "baseline": "sentence-transformers CrossEncoder.predict on the same weights",
        "goal": "onnx-int8 >= 4x baseline pairs/s; each variant's nDCG@10 within 0.01 of torch",
        "default_int8_variant": DEFAULT_INT8_VARIANT,
        "fastest_int8_at_parity": fastest,
        "fp32_graph_optimization": fusion,
        "machine": {
            "platform": platform.platform(),
            "cpu_count": os.cpu_count(),
            "cpu_flags": sorted(_simd_flags()),
            "load_average_before": [round(x, 2) for x in load_before],
        },
        "measured_peaks_gflops": peaks,
        "results": results,
        "pairs_per_second_by_length": lengths_table,
        "onnx_int8_pairs_per_second_by_batch_size": batch_table,
        "wall_seconds": time.perf_counter() - started,
        "command": "python benchmarks/inference.py " + " ".join(sys.argv[1:]),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    for name, res in results.items():
        print(
            f"{name:>34}: {res['pairs_per_second']:7.1f} pairs/s  p50 "
            f"{res['latency_ms_p50']:7.1f} ms  p99 {res['latency_ms_p99']:7.1f} ms  "
            f"{res['gflops_per_second']:6.1f} GFLOP/s "
            f"({res['fraction_of_measured_peak']:.2f} of {res['peak']})  "
            f"nDCG@10 {res['nDCG@10']:.4f}  x{res['speedup_pairs_per_second_vs_baseline']:.2f}"
        )
    print("peaks (GFLOP/s): " + ", ".join(f"{k} {v['peak_gflops']:.0f}" for k, v in peaks.items()))
    print(f"fastest int8 at parity: {fastest}; wrote {args.out}")


def _simd_flags() -> set[str]:
    info = Path("/proc/cpuinfo")
    if not info.exists():
        return set()
    for line in info.read_text().splitlines():
        if line.startswith("flags"):
            wanted = ("avx", "fma", "vnni", "amx", "bf16", "f16c")
            return {f for f in line.split(":", 1)[1].split() if any(w in f for w in wanted)}
    return set()


if __name__ == "__main__":
    main()
