"""Which lever moves the DL student: epochs, loss, learning rate or training queries.

Starts from a finished ``benchmarks/distill_dl.py`` run and reuses its teacher labels (the
teacher does not run again). Each variant trains its students in a run folder of its own
(``runs/distill-sweep/<variant>``, a copy of the source run up to the label stage) and is
evaluated on DL 2020 like the shipped config. Meant for a GPU (``--device cuda``: the
whole sweep is about 25 minutes on one H100); on 2 CPU cores a variant takes 40 to 120
minutes.

Variants (``--variants``; the shipped trec-dl recipe unless a variant says otherwise):

- ``epochs6``: the cross-encoder for 6 epochs instead of 2;
- ``rra-bert6``: RRA-BERT for 6 epochs;
- ``listnet``: ListNet, temperature 0.5 on the teacher's per-query z-scores (about the
  bi-encoder's own softmax at scale 20), 3 epochs;
- ``lambdaloss``: LambdaLoss with the labels shifted to start at 0, 3 epochs;
- ``lr2e-4``: the hybrid loss at learning rate 2e-4, 3 epochs;
- ``queries32``, ``queries64``: the hybrid loss on a seeded sample of 32 or 64 of the 129
  training queries, for the same ~1,500 steps as 3 epochs on all of them (a learning
  curve over the number of queries).

Writes ``benchmarks/results/distill_sweep.json``: per variant, the dev curve (nDCG@10 at
each evaluation during training), the final DL 2020 metrics of the kept (best) checkpoint
and the training time. The best checkpoint is chosen on DL 2020 itself, the only judged
set here, so "best" is optimistic; "last" is the end of training.

Usage: ``python benchmarks/distill_sweep.py --device cuda [--variants listnet,queries32]``
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from rankdistill.pipeline import DONE_MARKER
from rankdistill.pipeline import STAGE_NAMES as STAGES

ROOT = Path(__file__).resolve().parents[1]
UPSTREAM_STAGES = STAGES[: STAGES.index("label") + 1]  # what a variant reuses as it is
EPOCH_STEPS = 516  # 129 queries x 8 groups / 2 groups per step, in the shipped recipe
EVERY_HALF_EPOCH = {"eval_steps": EPOCH_STEPS // 2}

VARIANTS: dict[str, dict[str, Any]] = {
    "epochs6": {"students": [{"epochs": 6, **EVERY_HALF_EPOCH}]},
    "rra-bert6": {"students": [{"student": "rra-bert", "epochs": 6, **EVERY_HALF_EPOCH}]},
    "listnet": {
        "students": [
            {
                "loss": "listnet",
                "loss_options": {"temperature": 0.5},
                "epochs": 3,
                **EVERY_HALF_EPOCH,
            }
        ]
    },
    "lambdaloss": {
        "students": [
            {
                "loss": "lambdaloss",
                "loss_options": {"label_shift": "min"},
                "epochs": 3,
                **EVERY_HALF_EPOCH,
            }
        ]
    },
    "lr2e-4": {"students": [{"learning_rate": 2e-4, "epochs": 3, **EVERY_HALF_EPOCH}]},
    # About 8 groups a query, 2 a step: 12 epochs of 32 queries or 6 of 64 take as many
    # steps as 3 epochs of all 129.
    "queries32": {"queries": 32, "students": [{"epochs": 12, **EVERY_HALF_EPOCH}]},
    "queries64": {"queries": 64, "students": [{"epochs": 6, **EVERY_HALF_EPOCH}]},
}


def copy_upstream(source: Path, target: Path) -> None:
    """The source run's finished stages up to labelling, so the variant trains at once."""
    target.mkdir(parents=True, exist_ok=True)
    for stage in UPSTREAM_STAGES:
        if not (source / stage / DONE_MARKER).is_file():
            sys.exit(f"{source} has no finished {stage} stage: run benchmarks/distill_dl.py first")
        if not (target / stage).exists():
            shutil.copytree(source / stage, target / stage)


def keep_sample_of_queries(run_dir: Path, n: int, seed: int = 0) -> None:
    """Cut the copied labels to a seeded sample of ``n`` training queries."""
    labels = run_dir / "label" / "train" / "labels.jsonl"
    lines = labels.read_text(encoding="utf-8").splitlines(keepends=True)
    if n > len(lines):
        sys.exit(f"{labels} has {len(lines)} queries, fewer than {n}")
    labels.write_text("".join(random.Random(seed).sample(lines, n)), encoding="utf-8")


def dev_curves(run_dir: Path) -> dict[str, list[dict[str, float]]]:
    """Each student's (step, epoch, nDCG@10) at every evaluation during training."""
    curves = {}
    for history in sorted((run_dir / "train").glob("*/history.json")):
        entries = json.loads(history.read_text(encoding="utf-8"))
        curves[history.parent.name] = [
            {"step": e["step"], "epoch": round(e["epoch"], 2), "nDCG@10": e["eval_nDCG@10"]}
            for e in entries
            if "eval_nDCG@10" in e
        ]
    return curves


def run_variant(name: str, spec: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    from rankdistill.config import load_config
    from rankdistill.pipeline import EVALUATE, run_pipeline
    from rankdistill.training.config import StudentTrainConfig

    run_dir = args.sweep_dir / name
    fresh = not run_dir.exists()
    copy_upstream(args.source, run_dir)
    if fresh and "queries" in spec:
        keep_sample_of_queries(run_dir, spec["queries"])
    config = load_config("trec-dl", [f"output_dir={run_dir}", f"device={args.device}"])
    shipped = {s.student: s.model_dump() for s in config.training.students}
    config.training.students = [
        StudentTrainConfig.model_validate({**shipped[s.get("student", "cross-encoder")], **s})
        for s in spec["students"]
    ]
    start = time.perf_counter()
    pipeline = run_pipeline(config, base_dir=ROOT, until="evaluate")
    metrics = pipeline.output(EVALUATE).systems
    curves = dev_curves(run_dir)
    return {
        "students": spec["students"],
        "training_queries": spec.get("queries", "all"),
        "dev_curve": curves,
        "last": {s: c[-1]["nDCG@10"] for s, c in curves.items() if c},
        "kept_checkpoint": {
            s: v for s, v in metrics.items() if isinstance(v, dict) and s in curves
        },
        "train_seconds": pipeline.summary("train").get("seconds"),
        "wall_seconds": round(time.perf_counter() - start, 1),
    }


def plot(result: dict[str, Any], path: Path) -> Path:
    """Dev nDCG@10 during training per variant, and the best one by training queries."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 4.2), layout="constrained")
    curves, by_queries = fig.subplots(1, 2)
    teacher = result.get("teacher_nDCG@10")
    for name, variant in result["variants"].items():
        for points in variant["dev_curve"].values():
            steps = [p["step"] for p in points]
            style = "--" if variant.get("training_queries") != "all" else "-"
            curves.plot(steps, [p["nDCG@10"] for p in points], style, marker=".", label=name)
    sizes = {"all": 129}
    best = {}
    for variant in result["variants"].values():
        n = sizes.get(variant["training_queries"], variant["training_queries"])
        for points in variant["dev_curve"].values():
            # Compare at equal steps: the first 3 epochs of all queries.
            value = max(p["nDCG@10"] for p in points if p["step"] <= 3 * EPOCH_STEPS)
            best[n] = max(best.get(n, 0.0), value)
    xs = sorted(best)
    by_queries.plot(xs, [best[x] for x in xs], marker="o", label="student (best dev nDCG@10)")
    by_queries.set_xscale("log", base=2)
    by_queries.set_xticks(xs, [str(x) for x in xs])
    for ax in (curves, by_queries):
        if teacher:
            ax.axhline(teacher, color="black", linestyle=":", label="teacher")
        ax.set_ylabel("DL 2020 nDCG@10")
        ax.grid(alpha=0.3)
    curves.set_xlabel(f"training step ({EPOCH_STEPS} = one epoch of all queries)")
    curves.set_title("dev curve per variant (dashed: fewer queries)")
    curves.legend(fontsize=7, ncol=2)
    by_queries.set_xlabel("training queries (log scale)")
    by_queries.set_title(f"within {3 * EPOCH_STEPS} steps")
    by_queries.legend(fontsize=8)
    fig.savefig(path, dpi=110)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--variants",
        default=",".join(VARIANTS),
        help=f"Comma-separated, from: {', '.join(VARIANTS)}.",
    )
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1, ...")
    parser.add_argument(
        "--source",
        type=Path,
        default=ROOT / "runs" / "distill-dl",
        help="A finished distill_dl run whose labels the variants train on.",
    )
    parser.add_argument("--sweep-dir", type=Path, default=ROOT / "runs" / "distill-sweep")
    parser.add_argument(
        "--out", type=Path, default=ROOT / "benchmarks" / "results" / "distill_sweep.json"
    )
    parser.add_argument(
        "--plot-only",
        action="store_true",
        help="Only redraw the figure (beside --out, .png) from the JSON already there.",
    )
    args = parser.parse_args()
    if args.plot_only:
        result = json.loads(args.out.read_text(encoding="utf-8"))
        print(f"wrote {plot(result, args.out.with_suffix('.png'))}")
        return
    names = [v for v in args.variants.split(",") if v]
    unknown = sorted(set(names) - set(VARIANTS))
    if unknown:
        parser.error(f"unknown variants {unknown}; choose from {sorted(VARIANTS)}")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    from rankdistill.utils import resolve_device

    results = {name: run_variant(name, VARIANTS[name], args) for name in names}
    evaluated = json.loads((args.source / "evaluate" / DONE_MARKER).read_text(encoding="utf-8"))
    out = {
        "benchmark": "distill_sweep",
        "device": resolve_device(args.device),
        "source_run": str(args.source),
        "teacher_nDCG@10": evaluated.get("teacher", {}).get("nDCG@10"),
        "bm25_nDCG@10": evaluated.get("first-stage", {}).get("nDCG@10"),
        "variants": results,
        "command": "python benchmarks/distill_sweep.py " + " ".join(sys.argv[1:]),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    plot(out, args.out.with_suffix(".png"))
    for name, r in results.items():
        best = {s: round(max(p["nDCG@10"] for p in c), 4) for s, c in r["dev_curve"].items() if c}
        print(f"{name:>12}: best {best}, last {r['last']}")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
