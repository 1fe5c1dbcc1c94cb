"""Which offline teacher is strongest: BM25, the MiniLM bi-encoder, or their fusions?

Re-ranks the TREC DL 2020 BM25 top-100 with the all-MiniLM-L6-v2 bi-encoder, fuses it
with BM25 (z-score and reciprocal-rank fusion, the ``ranker`` teacher's two fusions) and
writes nDCG@10 of each to ``benchmarks/results/teacher_choice.json``. The shipped
``demo`` and ``trec-dl`` configs use the winner as their teacher.

Usage: ``python benchmarks/teacher_choice.py``
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from _dl2020 import RESULTS, load_dl2020


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--metrics", nargs="+", default=["nDCG@10", "RR(rel=2)@10", "PNR"])
    parser.add_argument("--out", type=Path, default=RESULTS / "teacher_choice.json")
    args = parser.parse_args()
    data, qrels = load_dl2020()

    from rankdistill.evaluation.metrics import evaluate_run
    from rankdistill.labeling.methods.ranker import rrf_fusion, zscore_fusion
    from rankdistill.retrieval.dense import BiEncoderScorer
    from rankdistill.scoring import rerank_run

    bm25 = data.candidates
    bi = rerank_run(BiEncoderScorer("minilm-l6", device="cpu"), data, k=100)
    runs = {
        "bm25": bm25,
        "bi-encoder": bi,
        "zscore(bi-encoder+bm25)": {q: zscore_fusion([bm25[q], bi[q]]) for q in bi},
        "rrf(bi-encoder+bm25)": {q: rrf_fusion([bm25[q], bi[q]], rrf_k=60) for q in bi},
    }
    results = {name: evaluate_run(run, qrels, args.metrics).aggregate for name, run in runs.items()}
    out = {
        "benchmark": "teacher_choice",
        "data": "TREC DL 2020 BM25 top-100, qrels",
        "results": results,
        "best_by_nDCG@10": max(results, key=lambda n: results[n].get("nDCG@10", 0.0)),
        "command": "python benchmarks/teacher_choice.py",
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    for name, values in results.items():
        print(f"{name:>26}: " + ", ".join(f"{m} {v:.4f}" for m, v in values.items()))


if __name__ == "__main__":
    main()
