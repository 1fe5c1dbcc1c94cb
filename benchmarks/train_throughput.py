"""Training throughput: rankdistill's trainer against sentence-transformers' CrossEncoderTrainer.

Both train the same MiniLM cross-encoder (``minilm-l6`` with one freshly initialised
logit head, the same weights for both) on the same TREC DL 2021 query groups (16 BM25
candidates of one query per group, 2 groups = 32 pairs per step), at the same max length,
precision and optimiser settings (the ``TrainingArguments`` rankdistill builds are copied
field by field into sentence-transformers' arguments: AdamW, learning rate, warm-up,
weight decay, clipping, schedule, seed).

- ``rankdistill``: the trainer of ``train_student`` (``make_trainer`` on the query
  groups) with the hybrid loss (point-MSE + margin-MSE).
- ``rankdistill-padded``: the same, with the batch scored in one forward padded to its
  longest pair (``StudentWithLoss(length_buckets=False)``), the trainer before the
  length buckets; it shows what they are worth.
- ``sentence-transformers``: ``CrossEncoderTrainer`` with ``MSELoss`` on the same teacher
  scores (its closest loss to the hybrid one: the point term). Its batch sampler replays,
  in order, the batches rankdistill's seeded sampler drew (recorded in an untimed first
  run), so every step of both trainers sees the same 32 pairs.

Teacher scores: the BM25 scores of the candidate file, z-scored within each query: fixed
and deterministic (the speed does not depend on their values).

Timing: one callback for all, wall clock from the end of the warm-up steps to the end of
the last step, so data loading, tokenisation, forward, backward and the optimiser step all
count. The arms alternate (A, B, C, A, B, C, ...), several repeats each, so a change in
the load on the cores hits all of them; the JSON has the median pairs/s and steps/s of
each, their ratios, and the load average before the run.

Usage: ``python benchmarks/train_throughput.py [--steps 8 --warmup 2 --repeats 3]``
(JSON to ``benchmarks/results/train_throughput.json``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "trec-dl-2021" / "bm25-top100.json"
RESULTS = ROOT / "benchmarks" / "results"
ARMS = ("rankdistill", "rankdistill-padded", "sentence-transformers")
# TrainingArguments fields copied from rankdistill's arguments to sentence-transformers'.
SHARED_ARGUMENTS = (
    "learning_rate",
    "warmup_steps",
    "weight_decay",
    "lr_scheduler_type",
    "max_grad_norm",
    "optim",
    "adam_beta1",
    "adam_beta2",
    "adam_epsilon",
    "seed",
    "data_seed",
    "bf16",
    "fp16",
    "use_cpu",
    "dataloader_num_workers",
    "gradient_accumulation_steps",
)


@dataclass
class Setup:
    """What every arm trains on: the model folder, the groups and the recorded batches."""

    model_dir: Path
    data: Any
    labels: list[Any]
    cfg: Any
    batches: list[list[tuple[str, str, float]]] = field(default_factory=list)


def z_scored_labels(data: Any) -> list[Any]:
    """One LabelRecord per query: its BM25 file scores, z-scored within the query."""
    from rankdistill.data.records import LabelRecord

    records = []
    for qid, docs in data.candidates.items():
        values = list(docs.values())
        mean = statistics.fmean(values)
        spread = statistics.pstdev(values) or 1.0
        records.append(
            LabelRecord(
                qid=qid,
                query=data.queries[qid].text,
                docids=list(docs),
                method="ranker",
                teacher="bm25-file-scores",
                scores={d: (s - mean) / spread for d, s in docs.items()},
            )
        )
    return records


def step_clock() -> Any:
    """A TrainerCallback that records the wall clock at the end of every step."""
    from transformers import TrainerCallback

    class StepClock(TrainerCallback):
        def __init__(self) -> None:
            self.ends: list[float] = []

        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> Any:
            self.ends.append(time.perf_counter())
            return control

    return StepClock()


class RecordingCollator:
    """Wraps a collator and keeps the (query, document, target) pairs of every batch."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.batches: list[list[tuple[str, str, float]]] = []

    def __call__(self, groups: list[Any]) -> dict[str, Any]:
        self.batches.append(
            [
                (g.query, doc, target)
                for g in groups
                for doc, target in zip(g.documents, g.targets, strict=True)
            ]
        )
        return self.inner(groups)


def rankdistill_trainer(setup: Setup, out: Path, length_buckets: bool, record: bool) -> Any:
    """The trainer ``train_student`` builds, on the setup's groups."""
    from rankdistill.losses import build_loss
    from rankdistill.training.arguments import training_arguments
    from rankdistill.training.data import QueryGroupCollator, build_query_groups
    from rankdistill.training.trainer import (
        StudentWithLoss,
        build_student,
        loss_hyperparameters,
        make_trainer,
        trainer_settings,
    )
    from rankdistill.utils import set_seed

    cfg = setup.cfg
    set_seed(cfg.seed)
    groups = build_query_groups(
        setup.labels,
        setup.data.corpus,
        setup.data.queries,
        cfg.group_size,
        cfg.targets,
        cfg.seed,
        cfg.sampling,
        cfg.groups_per_query,
    )
    student = build_student(cfg)
    loss = build_loss(cfg.loss, student, **loss_hyperparameters(cfg))
    args = training_arguments(trainer_settings(cfg, out, progress=False), "cpu")
    collator = QueryGroupCollator(student)
    if record:
        collator = RecordingCollator(collator)
    model = StudentWithLoss(student, loss, length_buckets=length_buckets)
    return make_trainer(model, args, groups, collator), collator


def sentence_transformers_trainer(setup: Setup, out: Path, reference_args: Any) -> Any:
    """CrossEncoderTrainer + MSELoss, replaying the recorded batches in order."""
    from datasets import Dataset
    from sentence_transformers.cross_encoder import (
        CrossEncoder,
        CrossEncoderTrainer,
        CrossEncoderTrainingArguments,
    )
    from sentence_transformers.cross_encoder.losses import MSELoss
    from torch.utils.data import BatchSampler, SequentialSampler

    rows = [pair for batch in setup.batches for pair in batch]
    dataset = Dataset.from_dict(
        {
            "query": [q for q, _, _ in rows],
            "passage": [d for _, d, _ in rows],
            "label": [t for _, _, t in rows],
        }
    )
    pairs_per_step = len(setup.batches[0])

    def replay(dataset: Any, batch_size: int, drop_last: bool, **_: Any) -> BatchSampler:
        return BatchSampler(SequentialSampler(range(len(dataset))), batch_size, drop_last)

    model = CrossEncoder(str(setup.model_dir), max_length=setup.cfg.max_length, device="cpu")
    args = CrossEncoderTrainingArguments(
        output_dir=str(out),
        per_device_train_batch_size=pairs_per_step,
        max_steps=setup.cfg.max_steps,
        logging_steps=setup.cfg.logging_steps,
        save_strategy="no",
        report_to="none",
        disable_tqdm=True,
        batch_sampler=replay,
        **{name: getattr(reference_args, name) for name in SHARED_ARGUMENTS},
    )
    return CrossEncoderTrainer(
        model=model, args=args, train_dataset=dataset, loss=MSELoss(model)
    ), args


def timed_run(trainer: Any, warmup: int, pairs_per_step: int) -> dict[str, float]:
    clock = step_clock()
    trainer.add_callback(clock)
    trainer.train()
    timed = len(clock.ends) - warmup
    if timed < 1:
        raise SystemExit(f"only {len(clock.ends)} steps ran: fewer than --warmup + 1")
    seconds = clock.ends[-1] - clock.ends[warmup - 1]
    return {
        "timed_steps": timed,
        "seconds": seconds,
        "steps_per_second": timed / seconds,
        "pairs_per_second": timed * pairs_per_step / seconds,
    }


def token_stats(setup: Setup) -> dict[str, float]:
    """Real and padded-to-longest tokens per step of the recorded batches."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(setup.model_dir))
    real = padded = 0
    for batch in setup.batches:
        enc = tokenizer(
            [q for q, _, _ in batch],
            [d for _, d, _ in batch],
            truncation="only_second",
            max_length=setup.cfg.max_length,
        )
        lengths = [len(ids) for ids in enc["input_ids"]]
        real += sum(lengths)
        padded += len(lengths) * max(lengths)
    steps = len(setup.batches)
    return {
        "real_tokens_per_step": real / steps,
        "padded_to_longest_tokens_per_step": padded / steps,
        "padding_fraction": 1 - real / padded,
    }


def main() -> None:
    # What else ran on the cores: absolute speeds are only comparable at similar loads.
    load_before = os.getloadavg()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=8, help="Optimiser steps per repeat.")
    parser.add_argument("--warmup", type=int, default=2, help="Untimed first steps.")
    parser.add_argument("--repeats", type=int, default=3, help="Timed runs of each arm.")
    parser.add_argument("--group-size", type=int, default=16, help="Documents per group.")
    parser.add_argument("--groups-per-step", type=int, default=2, help="Query groups a step.")
    parser.add_argument("--max-length", type=int, default=192, help="Max tokens per pair.")
    parser.add_argument("--learning-rate", type=float, default=7e-5)
    parser.add_argument(
        "--precision", choices=("fp32", "bf16"), default="fp32", help="For every arm."
    )
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads.")
    parser.add_argument("--arms", nargs="+", choices=ARMS, default=list(ARMS))
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="bm25-top100.json.")
    parser.add_argument("--out", type=Path, default=RESULTS / "train_throughput.json")
    args = parser.parse_args()
    if not 1 <= args.warmup < args.steps:
        parser.error(
            "--warmup must be at least 1 (the clock starts at a step's end) and below --steps"
        )
    if not args.data.is_file():
        sys.exit(f"TREC DL 2021 candidates not found at {args.data} (pass --data)")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

    import torch
    import transformers

    torch.set_num_threads(args.threads)
    transformers.logging.set_verbosity_error()
    sys.path.insert(0, str(ROOT))  # the test fixtures live in tests/
    from rankdistill.data.rankllm import read_rankllm
    from rankdistill.training.config import StudentTrainConfig
    from tests.fixtures.students import build_cross_encoder_dir

    data = read_rankllm(args.data)
    with tempfile.TemporaryDirectory(prefix="rankdistill-train-bench-") as tmp:
        model_dir = build_cross_encoder_dir(Path(tmp) / "minilm", head="random")
        cfg = StudentTrainConfig(
            student="cross-encoder",
            backbone=str(model_dir),
            loss="hybrid",
            max_length=args.max_length,
            group_size=args.group_size,
            groups_per_query=0,
            batch_size=args.groups_per_step,
            max_steps=args.steps,
            learning_rate=args.learning_rate,
            precision=args.precision,
            eval_steps=args.steps + 1,  # no checkpoint inside the timed steps
            logging_steps=args.steps,
        )
        setup = Setup(model_dir=model_dir, data=data, labels=z_scored_labels(data), cfg=cfg)
        print("recording rankdistill's batches (untimed) ...", file=sys.stderr)
        trainer, recorder = rankdistill_trainer(setup, Path(tmp) / "record", True, record=True)
        trainer.train()
        setup.batches = recorder.batches
        reference_args = trainer.args
        pairs_per_step = len(setup.batches[0])
        runs: dict[str, list[dict[str, float]]] = {arm: [] for arm in args.arms}
        for repeat in range(args.repeats):
            for arm in args.arms:
                out = Path(tmp) / f"{arm}-{repeat}"
                if arm == "sentence-transformers":
                    trainer, _ = sentence_transformers_trainer(setup, out, reference_args)
                else:
                    trainer, _ = rankdistill_trainer(setup, out, arm == "rankdistill", False)
                result = timed_run(trainer, args.warmup, pairs_per_step)
                print(f"repeat {repeat} {arm:>22}: {result['pairs_per_second']:6.2f} pairs/s")
                runs[arm].append(result)
        tokens = token_stats(setup)

    summary = {
        arm: {
            "median_pairs_per_second": statistics.median(r["pairs_per_second"] for r in rs),
            "median_steps_per_second": statistics.median(r["steps_per_second"] for r in rs),
            "repeats": rs,
        }
        for arm, rs in runs.items()
    }
    ratios = {}
    if "sentence-transformers" in summary:
        base = summary["sentence-transformers"]["median_pairs_per_second"]
        ratios = {
            f"{arm}_over_sentence_transformers": s["median_pairs_per_second"] / base
            for arm, s in summary.items()
            if arm != "sentence-transformers"
        }
    report = {
        "benchmark": "training throughput: rankdistill vs CrossEncoderTrainer",
        "model": "all-MiniLM-L6-v2 + fresh one-logit head (seed 0), the same weights for all",
        "data": f"{args.data.parent.name} BM25 top-100 query groups",
        "teacher_scores": "BM25 file scores, z-scored per query (fixed, deterministic)",
        "losses": {
            "rankdistill": "hybrid (point-MSE + margin-MSE, alpha 1)",
            "rankdistill-padded": "hybrid, one forward padded to the batch's longest pair",
            "sentence-transformers": "cross_encoder.losses.MSELoss on the same scores",
        },
        "pairs_per_step": pairs_per_step,
        "groups_per_step": args.groups_per_step,
        "group_size": args.group_size,
        "max_length": args.max_length,
        "precision": args.precision,
        "optimizer": reference_args.optim,
        "learning_rate": args.learning_rate,
        "steps_per_repeat": args.steps,
        "warmup_steps_untimed": args.warmup,
        "repeats": args.repeats,
        "threads": args.threads,
        "tokens": tokens,
        "machine": {
            "platform": platform.platform(),
            "cpu_count": os.cpu_count(),
            "load_average_before": [round(x, 2) for x in load_before],
        },
        "versions": {
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "sentence_transformers": __import__("sentence_transformers").__version__,
        },
        "results": summary,
        "ratios": ratios,
        "goal": "rankdistill / sentence-transformers pairs/s >= 1.0",
        "command": "python benchmarks/train_throughput.py " + " ".join(sys.argv[1:]),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    for arm, s in summary.items():
        print(
            f"{arm:>22}: {s['median_pairs_per_second']:6.2f} pairs/s "
            f"{s['median_steps_per_second']:.3f} steps/s"
        )
    for name, value in ratios.items():
        print(f"{name}: {value:.2f}x")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
