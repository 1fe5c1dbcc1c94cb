"""Benchmark of the DisRanker LLM teacher on real TREC DL data (CPU-sized by default).

1. Pseudo-grades for DL 2021/2022 training queries (reciprocal-rank fusion of BM25 and the
   MiniLM bi-encoder over the top candidates, or grades from a label store), simulated
   clicks from them, and continued pre-training (CPT) on the clicks.
2. SFT of the LLM ranker with and without CPT, with and without the end token (`</s>`).
3. Each teacher scores the BM25 top-k of a few DL 2020 queries: nDCG@10 and PNR.
4. The full teacher (CPT + SFT + `</s>`) scores the training candidates and MiniLM is
   distilled from those scores with the hybrid loss (``train_student``).

Writes ``benchmarks/results/llm_teacher.json``. With a 135M decoder, a handful of queries
and a few steps, the numbers show the pipeline runs end to end and what each stage costs,
not the quality a 7B teacher trained on real click logs reaches.

    python benchmarks/llm_teacher.py                      # defaults: < ~15 min on 2 cores
    python benchmarks/llm_teacher.py --queries 32 --steps 40 --dev-queries 20
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = Path(os.environ.get("RANKDISTILL_SHARED_DATA", REPO.parent / "shared" / "data"))
METRICS = ["nDCG@10", "PNR"]
GRADE_CUTS = (2, 5, 10)  # fused ranks 1-2 -> grade 3, 3-5 -> 2, 6-10 -> 1, rest 0 (heuristic)


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--queries", type=int, default=8, help="DL 2021/2022 training queries.")
    p.add_argument("--steps", type=int, default=6, help="Optimiser steps for CPT and each SFT.")
    p.add_argument("--model", default="smollm2-135m", help="Teacher LLM (alias, path, hub id).")
    p.add_argument("--dev-queries", type=int, default=2, help="DL 2020 queries scored.")
    p.add_argument("--k", type=int, default=100, help="BM25 candidates scored per dev query.")
    p.add_argument("--train-k", type=int, default=20, help="Candidates per training query.")
    p.add_argument("--max-length", type=int, default=96, help="Teacher max tokens per pair.")
    p.add_argument("--student-steps", type=int, default=20, help="MiniLM distillation steps.")
    p.add_argument("--labels", type=Path, default=None, help="Label store with grades to use.")
    p.add_argument("--data", type=Path, default=DEFAULT_DATA, help="The shared/data folder.")
    p.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "llm_teacher.json")
    p.add_argument("--work-dir", type=Path, default=None, help="Keep models here (default: temp).")
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads.")
    return p.parse_args()


def load_data(args: argparse.Namespace) -> tuple[Any, Any]:
    from rankdistill.data.config import DatasetSpec
    from rankdistill.data.loading import load_dataset

    train_files = [args.data / f"trec-dl-{y}" / "bm25-top100.json" for y in (2021, 2022)]
    dev_dir = args.data / "trec-dl-2020"
    for path in [*train_files, dev_dir / "bm25-top100.json"]:
        if not path.is_file():
            raise SystemExit(f"missing {path}: point --data at the shared/data folder")
    train = load_dataset(DatasetSpec(format="rankllm", candidates=[str(p) for p in train_files]))
    dev = load_dataset(
        DatasetSpec(
            format="rankllm",
            candidates=[str(dev_dir / "bm25-top100.json")],
            qrels=str(dev_dir / "qrels.json"),
        )
    )
    train = train.subset(sorted(train.queries)[: args.queries])
    train.candidates = {
        q: {d.docid: d.score for d in train.candidate_list(q, args.train_k).docs}
        for q in train.candidates
    }
    judged = [q for q in sorted(dev.queries) if dev.qrels and q in dev.qrels]
    dev = dev.subset(judged[: args.dev_queries])
    dev.candidates = {
        q: {d.docid: d.score for d in dev.candidate_list(q, args.k).docs} for q in dev.candidates
    }
    return train, dev


def pseudo_grades(train: Any, labels: Path | None) -> dict[str, dict[str, int]]:
    """Grades per training query: from a label store, or BM25 + bi-encoder rank fusion."""
    if labels is not None:
        from rankdistill.labeling.grading import grades_from_labels
        from rankdistill.labeling.store import read_labels

        return grades_from_labels(read_labels(labels))
    from rankdistill.labeling.grading import grades_by_rank
    from rankdistill.retrieval.dense import BiEncoderScorer
    from rankdistill.scoring import rerank_run

    dense = rerank_run(BiEncoderScorer("minilm-l6", device="cpu"), train, progress=False)
    grades: dict[str, dict[str, int]] = {}
    for qid, bm25 in train.candidates.items():
        fused: dict[str, float] = {}
        for run in (bm25, dense[qid]):
            for rank, docid in enumerate(sorted(run, key=lambda d: -run[d]), start=1):
                fused[docid] = fused.get(docid, 0.0) + 1.0 / (60 + rank)
        order = sorted(fused, key=lambda d: -fused[d])
        grades[qid] = grades_by_rank(order, GRADE_CUTS)
    return grades


def evaluate(run: dict, dev: Any) -> dict[str, float]:
    from rankdistill.evaluation.metrics import evaluate_run

    return {k: float(v) for k, v in evaluate_run(run, dev.qrels, METRICS).aggregate.items()}


def local_base(model: str, work: Path) -> str:
    """A GGUF alias is dequantised once into a plain folder every stage then loads fast."""
    from rankdistill.resources import resolve_model
    from rankdistill.students.decoder import load_decoder

    if resolve_model(model).gguf_file is None:
        return model
    target = work / "base"
    if not (target / "config.json").is_file():
        lm, tokenizer = load_decoder(model)
        lm.save_pretrained(target)
        tokenizer.save_pretrained(target)
    return str(target)


def teacher_config(args: argparse.Namespace, base: str) -> Any:
    from rankdistill.teachers.config import TeacherConfig

    cfg = TeacherConfig(model=base)
    cfg.lora.r = 8
    cfg.cpt.max_steps = args.steps
    cfg.cpt.batch_size = 4
    cfg.cpt.max_length = args.max_length
    cfg.cpt.learning_rate = 5e-4
    cfg.sft.max_steps = args.steps
    cfg.sft.batch_size = 1
    cfg.sft.group_size = 6
    cfg.sft.max_length = args.max_length
    cfg.sft.learning_rate = 5e-4
    return cfg


def main() -> None:
    args = parse_args()
    import torch

    torch.set_num_threads(args.threads)
    from rankdistill.data.clicks import simulate_clicks
    from rankdistill.data.records import RankingData
    from rankdistill.labeling.store import read_labels
    from rankdistill.retrieval.dense import BiEncoderScorer
    from rankdistill.scoring import rerank_run
    from rankdistill.teachers.cpt import build_cpt_examples, run_cpt
    from rankdistill.teachers.scoring import score_pairs
    from rankdistill.teachers.sft import LLMTeacherScorer, run_sft
    from rankdistill.training.config import StudentTrainConfig
    from rankdistill.training.trainer import train_student

    work = args.work_dir or Path(tempfile.mkdtemp(prefix="rankdistill-llm-teacher-"))
    work.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    results: dict[str, dict[str, float]] = {}

    def timed(name: str, fn: Any, *a: Any, **kw: Any) -> Any:
        start = time.perf_counter()
        value = fn(*a, **kw)
        timings[name] = round(time.perf_counter() - start, 2)
        print(f"[{timings[name]:7.1f}s] {name}", flush=True)
        return value

    train, dev = timed("load data", load_data, args)
    results["bm25"] = evaluate(dev.candidates, dev)
    results["bi-encoder:minilm-l6"] = evaluate(
        rerank_run(BiEncoderScorer("minilm-l6", device="cpu"), dev, progress=False), dev
    )
    grades = timed("pseudo-grades", pseudo_grades, train, args.labels)
    graded = RankingData(train.queries, train.corpus, train.candidates, grades)
    clicks = timed("simulate clicks", simulate_clicks, graded, sessions_per_query=50, seed=0)
    examples = build_cpt_examples(clicks, train.corpus)
    base = timed("dequantise base", local_base, args.model, work)
    cfg = teacher_config(args, base)
    cpt_dir = timed("cpt", run_cpt, cfg, examples, work / "cpt", device="cpu")

    variants = {
        "sft": (False, True),
        "sft-no-end-token": (False, False),
        "cpt+sft": (True, True),
        "cpt+sft-no-end-token": (True, False),
    }
    teacher_dirs: dict[str, Path] = {}
    for name, (with_cpt, end_token) in variants.items():
        vcfg = cfg.model_copy(deep=True)
        vcfg.sft.end_token = end_token
        vcfg.sft.pooling = "end-token" if end_token else "last"
        init = cpt_dir if with_cpt else None
        teacher_dirs[name] = timed(
            f"sft {name}",
            run_sft,
            vcfg,
            grades,
            train,
            work / f"sft-{name}",
            init=init,
            device="cpu",
        )
        scorer = LLMTeacherScorer.from_dir(teacher_dirs[name], device="cpu", batch_size=16)
        run = timed(f"score dev {name}", rerank_run, scorer, dev, progress=True)
        results[f"teacher:{name}"] = evaluate(run, dev)
        del scorer

    # 4. Distil the full teacher into MiniLM with the hybrid loss.
    full = LLMTeacherScorer.from_dir(teacher_dirs["cpt+sft"], device="cpu", batch_size=16)
    label_path = work / "teacher-scores.jsonl"
    timed("score train (teacher)", score_pairs, full, train, label_path, batch_size=16)
    labels = read_labels(label_path)
    student_cfg = StudentTrainConfig(
        student="cross-encoder",
        backbone="minilm-l6",
        loss="hybrid",
        max_steps=args.student_steps,
        group_size=16,
        batch_size=2,
        max_length=192,
        learning_rate=5e-5,
        eval_steps=10_000,
    )
    trained = timed(
        "distil minilm",
        train_student,
        student_cfg,
        labels,
        train,
        work / "student",
        device="cpu",
    )
    from rankdistill.students.cross_encoder import CrossEncoderStudent

    student = CrossEncoderStudent.load(trained.model_dir, device="cpu")
    results["student:minilm-hybrid(cpt+sft teacher)"] = evaluate(
        timed("score dev student", rerank_run, student, dev, progress=False), dev
    )

    report = {
        "benchmark": "llm_teacher",
        "settings": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "train_queries": len(train.queries),
        "cpt_examples": len(examples),
        "dev_queries": sorted(dev.queries),
        "metrics": METRICS,
        "results": results,
        "teacher_train_losses": {
            name: json.loads((d / "teacher.json").read_text())["losses"]
            for name, d in teacher_dirs.items()
        },
        "cpt_losses": json.loads((cpt_dir / "cpt.json").read_text())["losses"],
        "timings_s": timings,
        "machine": {"cpu_threads": args.threads, "platform": platform.platform()},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(results, indent=2))
    print(f"written to {args.out}")
    if args.work_dir is None:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
