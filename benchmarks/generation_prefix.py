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
DATA = REPO.parent / "shared" / "data"  # where the shipped config's paths point
RESULTS = REPO / "benchmarks" / "results" / "generation_prefix.json"
ORDERS = ("per-passage", "fixed")


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--passages", type=int, default=60, help="Passages written for, per order.")
    p.add_argument("--block", type=int, default=10, help="Passages per alternating block.")
    p.add_argument("--model", default="smollm2-135m", help="GGUF model alias or path.")
    p.add_argument("--threads", type=int, default=None, help="llama.cpp threads.")
    p.add_argument("--out", type=Path, default=RESULTS)
    return p.parse_args()


def corpus_and_examples() -> tuple[dict[str, Any], list[Any]]:
    """The shipped ``trec-dl-scale`` crop source's corpus (the pooled DL 2021 + 2022
    passages) and its training queries as few-shot examples, as its generate stage has."""
    from rankdistill.config import load_config
    from rankdistill.data.corpus import pool_rankllm_corpus
    from rankdistill.data.rankllm import read_rankllm
    from rankdistill.generation.llm import examples_from_ranking

    cfg = load_config("trec-dl-scale")
    crop = next(s for s in cfg.generate.sources if s.name == "crop")
    corpus = pool_rankllm_corpus([REPO / p for p in crop.corpus.paths])
    train = read_rankllm([REPO / p for p in cfg.data.train.candidates])
    return corpus, examples_from_ranking(train)


def generation_config(args: argparse.Namespace, order: str) -> Any:
    from rankdistill.generation.config import GenerationConfig

    backend = {
        "kind": "llama-cpp",
        "model": args.model,
        "context_length": 2048,
        "n_threads": args.threads,
    }
    return GenerationConfig.model_validate(
        {
            "method": "llm",
            "backend": backend,
            "example_order": order,
            "max_passages": args.passages,
        }
    )


def writer(cfg: Any, examples: list[Any]) -> Any:
    from rankdistill.generation.llm import LLMQueryWriter
    from rankdistill.labeling.backends import build_backend

    return LLMQueryWriter.from_config(cfg, build_backend(cfg.backend), examples)


def main() -> None:
    args = parse_args()
    if not DATA.is_dir():
        sys.exit(f"{DATA} is missing: this benchmark needs ../shared/data")
    from rankdistill.generation.run import eligible_passages

    corpus, examples = corpus_and_examples()
    configs = {order: generation_config(args, order) for order in ORDERS}
    # The generate stage's own draw: long enough passages, seeded sample (the same for
    # both orders, which differ only in their examples).
    docids = eligible_passages(corpus, configs["fixed"])
    writers = {order: writer(cfg, examples) for order, cfg in configs.items()}
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
