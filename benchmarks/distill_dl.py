"""The real distillation experiment on TREC DL, on CPU: teacher labels -> students -> DL 2020.

It runs the shipped ``trec-dl`` pipeline (``rankdistill run trec-dl``), so the benchmark and
the config users run are the same experiment:

1. the teacher labels the DL 2021 + 2022 BM25 candidates (129 queries, no human labels).
   The default teacher is the strongest one the offline weights give on 2 CPU cores: the
   all-MiniLM-L6-v2 bi-encoder (``labeling.method=ranker``; fusing BM25 into it scores
   lower on DL 2020).
   ``--teacher rradistill`` uses the one-call listwise LLM teacher instead (SmolLM2-135M
   through llama.cpp unless ``--set labeling.backend.model=...`` names a larger GGUF);
2. MiniLM is trained as a hybrid-loss cross-encoder and as RRA-BERT;
3. BM25, the pre-ranker, the teacher and both students are evaluated on DL 2020 (BM25
   top-100, its qrels).

Writes ``benchmarks/results/distill_dl.json``: nDCG@10, PNR and the other configured
metrics per system, wall time per stage, and the student/teacher ratios. The run folder
(``runs/distill-dl`` by default) keeps the report, the runs and the models; rerunning
resumes it.

Usage: ``python benchmarks/distill_dl.py [--teacher ranker|rradistill] [--set key=value ...]``
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
TEACHERS = {
    "ranker": ["labeling.method=ranker", "labeling.ranker_models=[bi-encoder:minilm-l6]"],
    "rradistill": ["labeling.method=rradistill"],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--teacher",
        choices=sorted(TEACHERS),
        default="ranker",
        help="Which teacher labels the training queries.",
    )
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        help="Extra config override (key.path=value), repeatable.",
    )
    parser.add_argument(
        "--run-dir",
        type=Path,
        default=ROOT / "runs" / "distill-dl",
        help="Run folder (resumed when it exists).",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=ROOT / "benchmarks" / "results" / "distill_dl.json",
        help="Where to write the JSON results.",
    )
    args = parser.parse_args()
    if not (SHARED / "trec-dl-2020" / "bm25-top100.json").is_file():
        sys.exit(f"TREC DL data not found at {SHARED}: this benchmark needs ../shared/data")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    from rankdistill.config import load_config
    from rankdistill.pipeline import EVALUATE, run_pipeline

    overrides = [*TEACHERS[args.teacher], *args.overrides, f"output_dir={args.run_dir}"]
    config = load_config("trec-dl", overrides)
    start = time.perf_counter()
    pipeline = run_pipeline(config, base_dir=ROOT, until="evaluate")
    wall = time.perf_counter() - start

    metrics = pipeline.output(EVALUATE).systems
    systems = {k: v for k, v in metrics.items() if isinstance(v, dict)}
    students = [s for s in systems if s not in ("first-stage", "pre-ranker", "teacher")]
    ratios = {
        s: {m: systems[s][m] / systems["teacher"][m] for m in systems[s] if systems["teacher"][m]}
        for s in students
        if "teacher" in systems
    }
    result = {
        "benchmark": "distill_dl",
        "teacher": args.teacher,
        "overrides": overrides,
        "train": "TREC DL 2021 + 2022 BM25 top-100 (teacher-labelled)",
        "eval": "TREC DL 2020 BM25 top-100 with qrels",
        "metrics": systems,
        "student_over_teacher": ratios,
        "students_trained_before": sorted(
            n for n, s in pipeline.summary("train").get("students", {}).items() if s.get("reused")
        ),
        "student_train_seconds": {
            n: s.get("seconds") for n, s in pipeline.summary("train").get("students", {}).items()
        },
        "stage_seconds": {
            s: pipeline.summary(s).get("seconds")
            for s in ("load", "select", "retrieve", "prerank", "label", "train", "evaluate")
        },
        "wall_seconds_this_invocation": round(wall, 1),
        "run_dir": str(args.run_dir),
        "command": "python benchmarks/distill_dl.py " + " ".join(sys.argv[1:]),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    for name, values in systems.items():
        shown = ", ".join(f"{m} {v:.4f}" for m, v in values.items())
        print(f"{name:>18}: {shown}")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
