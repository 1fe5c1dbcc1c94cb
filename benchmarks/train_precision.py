"""Training step time of the MiniLM cross-encoder student: fp32 against bf16 autocast on CPU.

One training step of the `trec-dl` config's shape (2 query groups x 16 real DL 2020
(query, passage) pairs, max length 192): forward, point-MSE loss, backward, AdamW step,
timed for both precisions. The steps alternate between the two precisions, so a
slowdown on the shared cores hits both. Writes ``benchmarks/results/train_precision.json``.

Usage: ``python benchmarks/train_precision.py [--steps 4] [--pairs 32]``
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

from _dl2020 import RESULTS, load_dl2020


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=4, help="Timed steps per precision.")
    parser.add_argument("--pairs", type=int, default=32, help="Pairs per step.")
    parser.add_argument("--max-length", type=int, default=192)
    parser.add_argument("--out", type=str, default=str(RESULTS / "train_precision.json"))
    args = parser.parse_args()
    data, _ = load_dl2020()

    import torch

    from rankdistill.students import CrossEncoderStudent
    from rankdistill.utils import supports_bf16

    qid = sorted(data.candidates)[0]
    docs = data.candidate_list(qid, args.pairs).docs
    queries = [data.queries[qid].text] * len(docs)
    texts = [data.corpus[d.docid].full_text for d in docs]
    torch.manual_seed(0)
    student = CrossEncoderStudent("minilm-l6", max_length=args.max_length)
    features = student.encode_pairs(queries, texts)
    optimizer = torch.optim.AdamW(student.parameters(), lr=1e-6)

    def step(bf16: bool) -> float:
        start = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            scores = student(features)
        loss = scores.float().pow(2).mean()
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        return time.perf_counter() - start

    load_before = os.getloadavg()
    step(False), step(True)  # warm-up: oneDNN picks its kernels on first use
    times: dict[str, list[float]] = {"fp32": [], "bf16": []}
    for _ in range(args.steps):
        times["fp32"].append(step(False))
        times["bf16"].append(step(True))
    median = {k: statistics.median(v) for k, v in times.items()}
    result = {
        "benchmark": "train_precision",
        "pairs_per_step": len(texts),
        "tokens_per_pair": int(features["input_ids"].shape[1]),
        "threads": torch.get_num_threads(),
        # The speed-up depends on it: without native bf16 (AVX512-BF16 / AMX) it is emulated.
        "native_bf16": supports_bf16("cpu"),
        "load_average_before": load_before,
        "median_step_seconds": median,
        "step_seconds": times,
        "bf16_speedup": median["fp32"] / median["bf16"],
        "command": " ".join(["python benchmarks/train_precision.py", *sys.argv[1:]]),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as f:
        f.write(json.dumps(result, indent=2) + "\n")
    print(
        f"median step: fp32 {median['fp32']:.2f} s, bf16 {median['bf16']:.2f} s "
        f"-> bf16 {result['bf16_speedup']:.2f}x"
    )


if __name__ == "__main__":
    main()
