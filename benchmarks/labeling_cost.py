"""Labelling cost: RRADistill's one listwise call vs RankGPT's sliding window.

The same DL 2020 queries are labelled by the same LLM twice:

- **RRADistill**: K = 50 BM25 candidates, the pre-ranker's top-10 + bottom-10 (here the
  first-stage BM25 order is the pre-ranker, so only LLM cost is measured), one call.
- **Sliding window** (RankGPT): the BM25 top-100, window 20, step 10, back to front
  (9 calls per query).

Each method runs with a fresh LLM cache, so every call is real. Writes
``benchmarks/results/labeling_cost.json``: LLM calls, prompt and completion tokens and
wall time per query for both, and their ratios (target: RRADistill <= 1/4 of the sliding
window's tokens per query).

    python benchmarks/labeling_cost.py                      # 5 queries, SmolLM2 via llama.cpp
    python benchmarks/labeling_cost.py --queries 2 --max-doc-words 60
    python benchmarks/labeling_cost.py --backend openai --model my-model \\
        --set base_url=http://127.0.0.1:8000/v1
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = Path(os.environ.get("RANKDISTILL_SHARED_DATA", REPO.parent / "shared" / "data"))
TARGET_TOKEN_RATIO = 0.25


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--queries", type=int, default=5, help="DL 2020 queries labelled.")
    p.add_argument(
        "--backend", default="llama-cpp", help="LLM backend: transformers, llama-cpp, openai, vllm."
    )
    p.add_argument("--model", default="smollm2-135m", help="LLM (alias, path, GGUF, hub id).")
    p.add_argument("--threads", type=int, default=None, help="CPU threads of the backend.")
    p.add_argument("--max-doc-words", type=int, default=100, help="Passage cut in prompts.")
    p.add_argument("--max-new-tokens", type=int, default=128, help="Answer token limit.")
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        help="Extra backend setting KEY=VALUE (e.g. base_url=...); repeatable.",
    )
    p.add_argument("--data", type=Path, default=DEFAULT_DATA, help="The shared/data folder.")
    p.add_argument(
        "--out", type=Path, default=REPO / "benchmarks" / "results" / "labeling_cost.json"
    )
    return p.parse_args()


def backend_config(args: argparse.Namespace) -> Any:
    import yaml

    from rankdistill.labeling.config import BackendConfig

    fields: dict[str, Any] = {
        "kind": args.backend,
        "model": args.model,
        "max_new_tokens": args.max_new_tokens,
        "n_threads": args.threads,
    }
    for item in args.overrides:
        key, _, value = item.partition("=")
        fields[key.strip()] = yaml.safe_load(value)
    return BackendConfig(**fields)


def method_configs(args: argparse.Namespace) -> dict[str, Any]:
    from rankdistill.labeling.config import LabelingConfig, PrerankConfig

    common = {
        "backend": backend_config(args),
        "max_doc_words": args.max_doc_words,
        "prerank": PrerankConfig(scorer="first-stage", candidates=50, top_k=10, bottom_k=10),
    }
    return {
        "rradistill": LabelingConfig(method="rradistill", **common),
        "slidingwindow": LabelingConfig(
            method="slidingwindow", sliding_candidates=100, window_size=20, step=10, **common
        ),
    }


def measure(data: Any, cfg: Any) -> dict[str, Any]:
    """Label ``data`` with a fresh cache; cost per query from the label records."""
    from rankdistill.labeling.backends import build_backend
    from rankdistill.labeling.runner import run_labeling

    work = Path(tempfile.mkdtemp(prefix=f"labeling-cost-{cfg.method}-"))
    try:
        start = time.perf_counter()
        backend = build_backend(cfg.backend, cache_path=work / "llm_cache.sqlite")
        load_s = time.perf_counter() - start
        start = time.perf_counter()
        result = run_labeling(data, cfg, work / "labels", backend=backend, progress=True)
        wall_s = time.perf_counter() - start
        misses = getattr(backend, "misses", None)
        backend.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    stats = result.stats
    n = stats["queries"]
    return {
        "queries": n,
        "llm_calls_per_query": stats["llm_calls"]["per_query"],
        "prompt_tokens_per_query": stats["prompt_tokens"]["per_query"],
        "completion_tokens_per_query": stats["completion_tokens"]["per_query"],
        "total_tokens_per_query": (
            stats["prompt_tokens"]["per_query"] + stats["completion_tokens"]["per_query"]
        ),
        "wall_s_per_query": wall_s / n if n else None,
        "model_load_s": load_s,
        "uncached_calls": misses,
        "documents_per_query": stats["documents_labelled"] / n if n else None,
        "parse_problems": stats["parse_problems"],
        "missing_rate": stats["missing"]["rate"],
    }


def ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or not b else a / b


def main() -> None:
    args = parse_args()
    candidates = args.data / "trec-dl-2020" / "bm25-top100.json"
    if not candidates.is_file():
        sys.exit(
            f"TREC DL 2020 data not found at {candidates}; set RANKDISTILL_SHARED_DATA or "
            "--data to the shared/data folder"
        )
    from rankdistill.data.rankllm import read_rankllm

    data = read_rankllm(candidates)
    data = data.subset(list(data.queries)[: args.queries])
    results = {name: measure(data, cfg) for name, cfg in method_configs(args).items()}
    rra, sw = results["rradistill"], results["slidingwindow"]
    ratios = {
        key: ratio(rra[f"{key}_per_query"], sw[f"{key}_per_query"])
        for key in ("llm_calls", "prompt_tokens", "completion_tokens", "total_tokens", "wall_s")
    }
    report = {
        "benchmark": "labeling_cost",
        "data": "TREC DL 2020, BM25 top-100 (rank_llm JSON)",
        "queries": list(data.queries),
        "backend": args.backend,
        "model": args.model,
        "settings": {
            "rradistill": "K=50 -> top-10 + bottom-10 (BM25 order as pre-ranker), one call",
            "slidingwindow": "top-100, window 20, step 10, back to front",
            "max_doc_words": args.max_doc_words,
            "max_new_tokens": args.max_new_tokens,
            "threads": args.threads,
        },
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
        },
        "results": results,
        "ratios_rradistill_over_slidingwindow": ratios,
        "target_total_token_ratio": TARGET_TOKEN_RATIO,
        "target_met": ratios["total_tokens"] is not None
        and ratios["total_tokens"] <= TARGET_TOKEN_RATIO,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(json.dumps({"ratios": ratios, "target_met": report["target_met"]}, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
