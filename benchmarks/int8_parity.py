"""Does dynamic int8 keep a trained student's quality? fp32 vs int8 ONNX on DL 2020.

Exports a student directory to ONNX fp32 and dynamic int8, re-ranks the TREC DL 2020 BM25
top-k with the torch model and both exports, and writes nDCG@10 (and the other metrics)
of each, the int8 - fp32 difference (target: within 0.01) and the largest score
difference to ``benchmarks/results/int8_parity.json``.

Usage: ``python benchmarks/int8_parity.py --model-dir runs/distill-dl/train/0-cross-encoder/model``
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from _dl2020 import RESULTS, load_dl2020

BACKENDS = ("torch", "onnx", "onnx-int8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model-dir", type=Path, required=True, help="A trained student folder.")
    parser.add_argument("--k", type=int, default=100, help="BM25 candidates re-ranked per query.")
    parser.add_argument("--threads", type=int, default=2, help="Intra-op threads.")
    parser.add_argument("--metrics", nargs="+", default=["nDCG@10", "RR(rel=2)@10", "PNR"])
    parser.add_argument("--out", type=Path, default=RESULTS / "int8_parity.json")
    args = parser.parse_args()
    data, qrels = load_dl2020()

    from rankdistill.evaluation.metrics import evaluate_run
    from rankdistill.scoring import rerank_run
    from rankdistill.serving.engine import Reranker
    from rankdistill.serving.export import export_model

    runs = {}
    with tempfile.TemporaryDirectory(prefix="rankdistill-parity-") as tmp:
        paths = {"torch": str(args.model_dir)}
        for fmt in ("onnx", "onnx-int8"):
            paths[fmt] = str(export_model(args.model_dir, Path(tmp) / fmt, fmt))
        for backend in BACKENDS:
            engine = Reranker.load(paths[backend], backend=backend, threads=args.threads)
            runs[backend] = rerank_run(engine, data, k=args.k)
    results = {b: evaluate_run(run, qrels, args.metrics).aggregate for b, run in runs.items()}
    fp32, int8 = runs["onnx"], runs["onnx-int8"]
    max_diff = max(abs(int8[q][d] - fp32[q][d]) for q in fp32 for d in fp32[q])
    out = {
        "benchmark": "int8_parity",
        "model_dir": str(args.model_dir),
        "data": f"TREC DL 2020 BM25 top-{args.k}, qrels",
        "results": results,
        "int8_minus_fp32": {m: results["onnx-int8"][m] - results["onnx"][m] for m in args.metrics},
        "onnx_minus_torch": {m: results["onnx"][m] - results["torch"][m] for m in args.metrics},
        "max_abs_score_diff_int8_vs_fp32": max_diff,
        "target": "|int8 - fp32| nDCG@10 <= 0.01",
        "command": "python benchmarks/int8_parity.py " + " ".join(sys.argv[1:]),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    for backend, values in results.items():
        print(f"{backend:>10}: " + ", ".join(f"{m} {v:.4f}" for m, v in values.items()))
    print(f"int8 - fp32: {out['int8_minus_fp32']}")


if __name__ == "__main__":
    main()
