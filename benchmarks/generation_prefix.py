"""LLM query writing: each passage's own few-shot examples, or the same ones for all?

``generate.sources[].generation.example_order`` is ``per-passage`` (each passage shows a
window of its own shuffle of the examples) or ``fixed`` (every passage shows the same
examples, as InPars' prompt does). With fixed examples every prompt starts with the same
system message and examples, and llama.cpp keeps the KV cache of that shared prefix: only
the passage and the answer are computed anew.

Both orders write a query for the same passages of the pooled DL 2021 + 2022 corpus (the
data-scale benchmark's crop corpus), with the real DL 2021 + 2022 queries as examples, as
in ``benchmarks/data_scale.py``'s LLM point. They run in alternating blocks, each with its
own backend (no LLM cache), so both see the same load. Writes
``benchmarks/results/generation_prefix.json``: seconds, prompt tokens and distinct queries
per passage for each order, their ratio, and the load average.

    python benchmarks/generation_prefix.py                  # 60 passages, SmolLM2-135M
    python benchmarks/generation_prefix.py --passages 200 --model qwen2.5-coder-0.5b
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("RANKDISTILL_SHARED_DATA", REPO.parent / "shared" / "data"))
RESULTS = REPO / "benchmarks" / "results" / "generation_prefix.json"
ORDERS = ("per-passage", "fixed")
FIRST_STAGES = ("bm25-top100", "bm25-rm3-top100", "splade-pp-top100")


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--passages", type=int, default=60, help="Passages written for, per order.")
    p.add_argument("--block", type=int, default=10, help="Passages per alternating block.")
    p.add_argument("--model", default="smollm2-135m", help="GGUF model alias or path.")
    p.add_argument("--threads", type=int, default=None, help="llama.cpp threads.")
    p.add_argument("--out", type=Path, default=RESULTS)
    return p.parse_args()


def corpus_and_examples() -> tuple[dict[str, Any], list[Any]]:
    """The pooled DL 2021 + 2022 passages and the real queries as few-shot examples."""
    from rankdistill.data.rankllm import read_rankllm
    from rankdistill.generation.llm import examples_from_ranking

    corpus: dict[str, Any] = {}
    examples = []
    for year in ("2021", "2022"):
        for stage in FIRST_STAGES:
            data = read_rankllm(DATA / f"trec-dl-{year}" / f"{stage}.json")
            corpus.update(data.corpus)
            if stage == "bm25-top100":
                examples.extend(examples_from_ranking(data))
    return corpus, examples


def writer(order: str, model: str, threads: int | None, examples: list[Any]) -> Any:
    from rankdistill.generation.config import GenerationConfig
    from rankdistill.generation.llm import LLMQueryWriter
    from rankdistill.labeling.backends import build_backend

    backend = {"kind": "llama-cpp", "model": model, "context_length": 2048, "n_threads": threads}
    cfg = GenerationConfig.model_validate(
        {"method": "llm", "backend": backend, "example_order": order}
    )
    return LLMQueryWriter.from_config(cfg, build_backend(cfg.backend), examples)


def main() -> None:
    args = parse_args()
    if not DATA.is_dir():
        sys.exit(f"{DATA} is missing: this benchmark needs ../shared/data")
    from rankdistill.generation.crop import sample_passages

    corpus, examples = corpus_and_examples()
    usable = {d: doc for d, doc in corpus.items() if len(doc.full_text.split()) >= 20}
    docids = sample_passages(usable, args.passages, seed=13)
    writers = {order: writer(order, args.model, args.threads, examples) for order in ORDERS}
    totals: dict[str, dict[str, Any]] = {
        o: {"seconds": 0.0, "prompt_tokens": 0, "queries": {}} for o in ORDERS
    }
    load_before = os.getloadavg()
    for start in range(0, len(docids), args.block):
        block = [corpus[d] for d in docids[start : start + args.block]]
        # Alternate which order goes first, so neither always runs on a warmer machine.
        orders = ORDERS if (start // args.block) % 2 == 0 else ORDERS[::-1]
        for order in orders:
            began = time.perf_counter()
            made = writers[order].write_many(block)
            totals[order]["seconds"] += time.perf_counter() - began
            for queries in made:
                totals[order]["prompt_tokens"] += sum(g.prompt_tokens for g in queries.generations)
                totals[order]["queries"].update((q.source_docid, q.text) for q in queries.queries)
        print(f"{start + len(block)}/{len(docids)} passages", flush=True)
    n = len(docids)
    per_order = {
        order: {
            "seconds_per_passage": round(t["seconds"] / n, 3),
            "prompt_tokens_per_passage": round(t["prompt_tokens"] / n, 1),
            "queries": len(t["queries"]),
            "distinct_queries": len(set(t["queries"].values())),
        }
        for order, t in totals.items()
    }
    result = {
        "benchmark": "generation_prefix",
        "model": args.model,
        "passages": n,
        "orders": per_order,
        "fixed_speedup": round(
            per_order["per-passage"]["seconds_per_passage"]
            / per_order["fixed"]["seconds_per_passage"],
            2,
        ),
        # Passages whose query is the same whichever examples the prompt showed.
        "same_query_both_orders": sum(
            text == totals["fixed"]["queries"].get(docid)
            for docid, text in totals["per-passage"]["queries"].items()
        ),
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "command": "python " + " ".join([Path(sys.argv[0]).as_posix(), *sys.argv[1:]]),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
