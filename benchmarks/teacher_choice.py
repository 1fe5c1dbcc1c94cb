"""Which teacher to distil: bi-encoders, their fusions, an LLM cascade, or real LLM runs?

On TREC DL 2020 (BM25 top-100, 54 judged queries) it measures, per teacher, nDCG@10 (and
RR(rel=2)@10, PNR), cost per query (seconds, LLM calls, prompt and completion tokens)
and agreement with the two published LLM re-rankings in ``../shared/data/trec-dl-2020/``
(RankGPT with gpt-3.5-turbo and RankVicuna-7B: Kendall tau over the 100 candidates and
top-10 overlap, per query, averaged):

- BM25 (the first stage), the MiniLM and mpnet bi-encoders, and their fusions
  (z-score and reciprocal rank; with each other and with BM25);
- the cascade teacher (``labeling.method: cascade``): the best bi-encoder pre-ranks the
  100 candidates and each GGUF LLM alias (SmolLM2-135M, always installed; the two
  Qwen2.5-Coder models where installed) re-orders its top-k, with one listwise call or
  pointwise yes/no, through llama.cpp. On 2 CPU cores this runs on the first
  ``--cascade-queries`` queries only; every figure on those queries is reported next to
  the pre-ranker's and the LLM runs' on the same queries;
- the two LLM runs themselves, as references (produced elsewhere: their cost is
  rank_llm's sliding window, 20 passages, step 10, over the top 100: 9 calls per query).

Every teacher's run is kept under ``--work`` (TREC files; the cascade's label store and
LLM cache), so an interrupted benchmark resumes where it stopped. Writes
``benchmarks/results/teacher_choice.json``; the cascades of the JSON it replaces that this
call did not run (another ``--cascade-llms``) are kept, marked ``kept_from``.

Usage (mpnet and the LLMs are opt-in installs)::

    bash scripts/install_models.sh mpnet-base qwen2.5-coder-1.5b qwen2.5-coder-0.5b
    nice -n 5 python benchmarks/teacher_choice.py --cascade-queries 10
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from _dl2020 import DL2020, RESULTS, ROOT, load_dl2020
from rankdistill.resources import gguf_aliases

METRICS = ("nDCG@10", "RR(rel=2)@10", "PNR")
LLM_RUNS = {
    "rankgpt-gpt-3.5-turbo": "rankgpt-gpt-3.5-turbo-bm25-top100.trec",
    "rankvicuna-7b": "rankvicuna-7b-bm25-top100.trec",
}
# rank_llm's sliding window for the published runs: window 20, step 10 over the top 100.
LLM_RUN_CALLS_PER_QUERY = 9


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--out", type=Path, default=RESULTS / "teacher_choice.json", help="The results JSON."
    )
    parser.add_argument(
        "--work",
        type=Path,
        default=ROOT / "runs" / "teacher_choice",
        help="Where every teacher's per-query runs are kept, so that a rerun resumes.",
    )
    parser.add_argument(
        "--bi-encoders",
        nargs="*",
        default=["minilm-l6", "mpnet-base"],
        help="Bi-encoder aliases to score on their own, fused in pairs and with BM25.",
    )
    parser.add_argument(
        "--budget-s",
        type=float,
        default=None,
        help="Stop starting new bi-encoder queries after this many seconds (resume later).",
    )
    parser.add_argument(
        "--cascade-queries",
        type=int,
        default=10,
        help="How many DL 2020 queries (the first, in file order) the cascades label; 0: none.",
    )
    parser.add_argument(
        "--cascade-pre-ranker", default="mpnet-base", help="The cascade's bi-encoder alias."
    )
    parser.add_argument(
        "--cascade-llms",
        nargs="*",
        default=gguf_aliases(),
        help="GGUF model aliases that re-order the pre-ranker's top k through llama.cpp "
        "(those not installed are skipped and listed in the JSON).",
    )
    parser.add_argument(
        "--cascade-methods",
        nargs="*",
        default=["rradistill", "pointwise"],
        help="How the LLM labels the top k: one listwise call, or one yes/no call each.",
    )
    parser.add_argument(
        "--cascade-top-k", type=int, default=10, help="Candidates the LLM re-orders."
    )
    parser.add_argument(
        "--max-doc-words",
        type=int,
        default=100,
        help="Each passage is cut to this many words in the LLM's prompt.",
    )
    parser.add_argument("--threads", type=int, default=2, help="llama.cpp threads.")
    parser.add_argument(
        "--cascade-budget-s",
        type=float,
        default=None,
        help="Stop starting new cascade queries after this many seconds (resume later).",
    )
    return parser.parse_args()


# --------------------------------------------------------------------------- scorer runs
def scorer_cost(seconds: float, queries: int, load: float | None = None) -> dict[str, Any]:
    return {
        "seconds_per_query": seconds / queries if queries else None,
        "llm_calls_per_query": 0,
        "prompt_tokens_per_query": 0,
        "completion_tokens_per_query": 0,
        "queries_timed": queries,
        "load_average_1min_at_start": os.getloadavg()[0] if load is None else load,
    }


def scored_run(
    work: Path,
    name: str,
    alias: str,
    data: Any,
    qids: list[str],
    budget_s: float | None = None,
) -> tuple[dict, dict[str, Any]]:
    """A bi-encoder's scores of the 100 candidates of ``qids``, kept one query per line
    in ``work/NAME.jsonl`` (with its seconds) so an interrupted run resumes; stops
    starting new queries after ``budget_s``."""
    from rankdistill.utils import append_jsonl, iter_jsonl

    path = work / f"{name}.jsonl"
    rows = {row["qid"]: row for _, row in iter_jsonl(path)} if path.is_file() else {}
    todo = [q for q in qids if q not in rows]
    if todo and budget_s != 0:
        from rankdistill.retrieval.dense import BiEncoderScorer

        scorer = BiEncoderScorer(alias, device="cpu")
        started = time.perf_counter()
        for qid in todo:
            if budget_s is not None and time.perf_counter() - started > budget_s:
                break
            docids = data.candidate_list(qid, 100).docids
            load = os.getloadavg()[0]
            start = time.perf_counter()
            scores = scorer.score(
                data.queries[qid].text, [data.corpus[d].full_text for d in docids]
            )
            row = {
                "qid": qid,
                "scores": dict(zip(docids, map(float, scores), strict=True)),
                "seconds": time.perf_counter() - start,
                "load_average_1min": load,
            }
            append_jsonl(path, row)
            rows[qid] = row
    done = [rows[q] for q in qids if q in rows]
    cost = scorer_cost(
        sum(r["seconds"] for r in done),
        len(done),
        sum(r["load_average_1min"] for r in done) / max(len(done), 1),
    )
    cost["load_average_1min_mean"] = cost.pop("load_average_1min_at_start")
    return {r["qid"]: r["scores"] for r in done}, cost


def add_costs(*costs: dict[str, Any]) -> dict[str, Any]:
    """A fusion runs every one of its scorers: its cost is their sum."""
    keys = [k for k in costs[0] if k.endswith("_per_query")]
    total = {k: sum(c[k] or 0.0 for c in costs) for k in keys}
    total["note"] = "sum of the fused scorers' costs"
    return total


# --------------------------------------------------------------------------- cascade
def cascade_run(
    args: argparse.Namespace,
    data: Any,
    prerank_run: dict,
    qids: list[str],
    llm: str,
    method: str,
) -> tuple[dict, dict[str, Any], bool]:
    """The cascade's labels on ``qids`` as a run, its cost, and whether it is complete.

    The pre-ranker's scores are given as the candidates' scores (``prerank.scorer:
    first-stage``), so the bi-encoder runs once for every teacher.
    """
    from rankdistill.data.records import RankingData
    from rankdistill.labeling.config import LabelingConfig
    from rankdistill.labeling.runner import run_labeling
    from rankdistill.labeling.store import LabelStore, read_labels

    out_dir = args.work / f"cascade-{args.cascade_pre_ranker}-{llm}-{method}"
    cfg = LabelingConfig.model_validate(
        {
            "method": "cascade",
            "cascade": {"llm_method": method, "top_k": args.cascade_top_k},
            "backend": {
                "kind": "llama-cpp",
                "model": llm,
                "n_threads": args.threads,
                "context_length": 4096,
                "max_new_tokens": 96,
            },
            "prerank": {"scorer": "first-stage", "candidates": 100},
            "max_doc_words": args.max_doc_words,
            # A measurement, not a training run: keep every answer, however poor.
            "max_parse_failure_rate": 1.0,
            "max_missing_rate": 1.0,
        }
    )
    timing_path = out_dir / "timing.json"
    timing = json.loads(timing_path.read_text()) if timing_path.is_file() else {}
    timing.setdefault("seconds", 0.0)
    timing.setdefault("queries_timed", 0)
    timing.setdefault("load_average_1min_at_start", os.getloadavg()[0])
    out_dir.mkdir(parents=True, exist_ok=True)
    todo = [q for q in qids if q not in LabelStore(out_dir / "labels.jsonl").done_qids()]
    if todo and args.cascade_budget_s != 0:
        from rankdistill.labeling.backends import build_backend

        # One model load for all queries; its cache makes a query cut off mid-way cheap.
        backend = build_backend(cfg.backend, cache_path=out_dir / "llm_cache.sqlite")
        started = time.perf_counter()
        try:
            for qid in todo:
                budget = args.cascade_budget_s
                if budget is not None and time.perf_counter() - started > budget:
                    break
                one = RankingData({qid: data.queries[qid]}, data.corpus, {qid: prerank_run[qid]})
                start = time.perf_counter()
                run_labeling(one, cfg, out_dir, backend=backend, progress=False)
                timing["seconds"] += time.perf_counter() - start
                timing["queries_timed"] += 1
                timing_path.write_text(json.dumps(timing, indent=2) + "\n")
                print(f"  cascade {llm} {method}: query {qid} done", flush=True)
        finally:
            getattr(backend, "close", lambda: None)()
    labels = out_dir / "labels.jsonl"
    records = [r for r in read_labels(labels) if r.qid in set(qids)] if labels.is_file() else []
    run = {r.qid: dict(r.scores) for r in records}
    n = max(len(records), 1)
    cost = {
        "seconds_per_query": timing["seconds"] / max(timing["queries_timed"], 1),
        "llm_calls_per_query": sum(r.llm_calls for r in records) / n,
        "prompt_tokens_per_query": sum(r.prompt_tokens for r in records) / n,
        "completion_tokens_per_query": sum(r.completion_tokens for r in records) / n,
        "queries_timed": timing["queries_timed"],
        "load_average_1min_at_start": timing["load_average_1min_at_start"],
        "parse_problems": _sum_counts(r.parse_problems for r in records),
        "llm_missing_per_query": sum(len(r.extra.get("llm_missing", [])) for r in records) / n,
        "note": "LLM labelling only; add the pre-ranker's seconds per query for the teacher",
    }
    return run, cost, len(records) == len(qids)


def _sum_counts(counts: Any) -> dict[str, int]:
    total: dict[str, int] = {}
    for item in counts:
        for key, value in item.items():
            total[key] = total.get(key, 0) + value
    return total


# --------------------------------------------------------------------------- measuring
def quality(run: dict, qrels: dict, qids: list[str]) -> dict[str, float]:
    from rankdistill.evaluation.metrics import evaluate_run

    subset = {q: run[q] for q in qids if q in run}
    return evaluate_run(subset, qrels, list(METRICS)).aggregate


def agreement(run: dict, references: dict[str, dict], qids: list[str]) -> dict[str, Any]:
    from rankdistill.evaluation.agreement import kendall_tau, topk_overlap

    subset = {q: run[q] for q in qids if q in run}
    out: dict[str, Any] = {}
    for name, reference in references.items():
        ref = {q: reference[q] for q in qids if q in reference}
        out[name] = {
            "kendall_tau": kendall_tau(subset, ref)["mean"],
            "top10_overlap": topk_overlap(subset, ref, k=10)["mean"],
        }
    return out


def entry(
    run: dict,
    cost: dict[str, Any],
    qrels: dict,
    references: dict[str, dict],
    qids: list[str],
    **extra: Any,
) -> dict[str, Any]:
    if not any(q in run for q in qids):
        return {"queries": 0, "cost_per_query": cost, **extra}
    return {
        "queries": len([q for q in qids if q in run]),
        **quality(run, qrels, qids),
        "cost_per_query": cost,
        "agreement": agreement(run, references, qids),
        **extra,
    }


def llm_reference_cost() -> dict[str, Any]:
    return {
        "seconds_per_query": None,
        "llm_calls_per_query": LLM_RUN_CALLS_PER_QUERY,
        "prompt_tokens_per_query": None,
        "completion_tokens_per_query": None,
        "note": "published run, produced elsewhere: rank_llm sliding window (20, step 10) "
        "over the BM25 top 100; tokens and seconds not measured here",
    }


def installed(alias: str, skipped: dict[str, str]) -> bool:
    from rankdistill.resources import ModelNotFoundError, resolve_model

    try:
        resolve_model(alias)
    except ModelNotFoundError as exc:
        skipped[alias] = str(exc)
        return False
    return True


def run_cascades(
    args: argparse.Namespace,
    data: Any,
    qrels: dict,
    references: dict[str, dict],
    prerank: tuple[dict, dict[str, Any]],
    subset: list[str],
    skipped: dict[str, str],
) -> dict[str, Any]:
    """Every (LLM, method) cascade over the pre-ranker's run on ``subset``."""
    prerank_run, prerank_cost = prerank
    teachers: dict[str, Any] = {}
    for llm in args.cascade_llms:
        if not installed(llm, skipped):
            continue
        for method in args.cascade_methods:
            print(f"cascade {llm} {method} on {len(subset)} queries ...", flush=True)
            run, cost, complete = cascade_run(args, data, prerank_run, subset, llm, method)
            if not run:
                continue
            cost["teacher_seconds_per_query"] = cost["seconds_per_query"] + (
                prerank_cost["seconds_per_query"] or 0.0
            )
            done = [q for q in subset if q in run]
            name = f"cascade({args.cascade_pre_ranker} top-{args.cascade_top_k} -> {llm} {method})"
            teachers[name] = entry(
                run,
                cost,
                qrels,
                references,
                done,
                complete=complete,
                pre_ranker_same_queries=quality(prerank_run, qrels, done),
                references_same_queries={n: quality(r, qrels, done) for n, r in references.items()},
            )
    return teachers


# What must match for an earlier call's cascade to sit in the same table.
CASCADE_SETUP = ("pre_ranker", "queries", "top_k", "candidates", "max_doc_words")


def keep_earlier_cascades(cascade: dict[str, Any], earlier: dict[str, Any]) -> dict[str, Any]:
    """``cascade`` with the cascade teachers of ``earlier`` (a previous results JSON) that
    this call did not run, when both are over the same pre-ranker, queries and top-k.

    A 1.5B LLM on 2 CPU cores needs more time than one sitting has, so the benchmark is run
    in pieces (``--cascade-llms``). A kept teacher keeps its own cost and load average and
    says which command measured it (``kept_from``). A call that ran no cascade at all
    (``--cascade-queries 0``) keeps the earlier section whole, marked the same way.
    """
    before = earlier.get("cascade") or {}
    if not before or (cascade and any(before.get(k) != cascade.get(k) for k in CASCADE_SETUP)):
        return cascade
    mine = cascade.get("teachers", {})
    earlier_teachers = before.get("teachers", {}).items()
    kept = {name: _kept(entry, earlier) for name, entry in earlier_teachers if name not in mine}
    section = cascade or _kept(before, earlier)
    return {**section, "teachers": {**mine, **kept}}


def _kept(entry: dict[str, Any], earlier: dict[str, Any]) -> dict[str, Any]:
    """``entry`` marked with the command that measured it, kept through any later calls."""
    return {**entry, "kept_from": entry.get("kept_from", earlier.get("command"))}


def main() -> None:
    args = parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    data, qrels = load_dl2020()

    from rankdistill.data.trec import read_trec_run
    from rankdistill.labeling.methods.ranker import rrf_fusion, zscore_fusion

    qids = [q for q in data.queries if q in data.candidates and q in qrels]
    references = {name: read_trec_run(DL2020 / file) for name, file in LLM_RUNS.items()}
    skipped: dict[str, str] = {}
    subset = qids[: args.cascade_queries]

    # The cascade's pre-ranker on the cascade's queries first, then the cascades, then
    # every bi-encoder on all queries: each step resumes where an earlier run stopped.
    cascade: dict[str, Any] = {}
    pre_ranker = args.cascade_pre_ranker
    if subset and installed(pre_ranker, skipped):
        name = f"bi-encoder-{pre_ranker}"
        prerank = scored_run(args.work, name, pre_ranker, data, subset)
        cascade = {
            "pre_ranker": f"bi-encoder:{pre_ranker}",
            "queries": subset,
            "num_queries": len(subset),
            "top_k": args.cascade_top_k,
            "candidates": 100,
            "max_doc_words": args.max_doc_words,
            "llama_cpp_threads": args.threads,
            "same_queries": {
                f"bi-encoder:{pre_ranker}": entry(*prerank, qrels, references, subset),
                **{
                    n: entry(references[n], llm_reference_cost(), qrels, references, subset)
                    for n in references
                },
            },
            "teachers": run_cascades(args, data, qrels, references, prerank, subset, skipped),
        }
    if args.out.is_file():
        earlier = json.loads(args.out.read_text(encoding="utf-8"))
        cascade = keep_earlier_cascades(cascade, earlier)

    runs: dict[str, tuple[dict, dict[str, Any]]] = {}
    bm25 = {q: dict(data.candidates[q]) for q in qids}
    runs["bm25"] = (bm25, scorer_cost(0.0, len(qids)) | {"note": "the first stage itself"})
    for alias in args.bi_encoders:
        if installed(alias, skipped):
            print(f"bi-encoder {alias} ...", flush=True)
            scored = scored_run(args.work, f"bi-encoder-{alias}", alias, data, qids, args.budget_s)
            runs[f"bi-encoder:{alias}"] = scored
    encoders = [n for n in runs if n.startswith("bi-encoder:")]
    pairs = [(a, b) for i, a in enumerate(encoders) for b in encoders[i + 1 :]]
    pairs += [(e, "bm25") for e in encoders]
    for a, b in pairs:
        (run_a, cost_a), (run_b, cost_b) = runs[a], runs[b]
        common = [q for q in qids if q in run_a and q in run_b]
        for fusion_name, fuse in (("zscore", zscore_fusion), ("rrf", rrf_fusion)):
            fused = {q: fuse([run_a[q], run_b[q]]) for q in common}
            runs[f"{fusion_name}({a}+{b})"] = (fused, add_costs(cost_a, cost_b))

    results = {
        name: entry(run, cost, qrels, references, [q for q in qids if q in run])
        for name, (run, cost) in runs.items()
    }
    for name, run in references.items():
        results[name] = entry(run, llm_reference_cost(), qrels, references, qids)
    complete = [n for n in results if results[n]["queries"] == len(qids)]
    # Runs cut short by a time budget are compared with every other teacher on the
    # queries they all have.
    common = [q for q in qids if all(q in run for run, _ in runs.values())]
    same_queries = {
        name: entry(run, cost, qrels, references, common)
        for name, (run, cost) in [
            *runs.items(),
            *((n, (r, llm_reference_cost())) for n, r in references.items()),
        ]
    }
    out = {
        "benchmark": "teacher_choice",
        "data": f"TREC DL 2020 BM25 top-100 ({len(qids)} judged queries), qrels.json",
        "metrics": list(METRICS),
        "agreement": "Kendall tau-b over the 100 candidates and top-10 overlap with each "
        "published LLM run, per query, averaged over the teacher's queries",
        "results": results,
        "complete_on_all_queries": complete,
        "best_by_nDCG@10": max(
            (n for n in complete if n not in references),
            key=lambda n: results[n]["nDCG@10"],
            default=None,
        ),
        "common_queries": {"queries": common, "results": same_queries},
        "cascade": cascade,
        "skipped": skipped,
        "machine": {"cpus": os.cpu_count(), "load_average_1min_at_end": os.getloadavg()[0]},
        "command": " ".join(["nice -n 5 python benchmarks/teacher_choice.py", *sys.argv[1:]]),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    print(markdown_table(results))
    print(markdown_table(same_queries))
    if cascade:
        print(markdown_table({**cascade["same_queries"], **cascade["teachers"]}))


def _fmt(value: Any, digits: int = 4) -> str:
    if value is None:
        return "–"
    return f"{value:,.{digits}f}" if isinstance(value, float) else f"{value:,}"


def markdown_table(entries: dict[str, dict[str, Any]]) -> str:
    """The docs/results.md table of some teachers (quality, cost, agreement)."""
    refs = list(LLM_RUNS)
    head = (
        "| teacher | queries | nDCG@10 | s / query | LLM calls / query | tokens / query | "
        + " | ".join(f"τ / top-10 vs {r}" for r in refs)
        + " |"
    )
    lines = [head, "| --- |" + " ---: |" * (5 + len(refs))]
    for name, e in entries.items():
        if not e.get("queries"):
            continue
        cost = e["cost_per_query"]
        seconds = cost.get("teacher_seconds_per_query", cost.get("seconds_per_query"))
        tokens = None
        if cost.get("prompt_tokens_per_query") is not None:
            tokens = cost["prompt_tokens_per_query"] + cost["completion_tokens_per_query"]
        agree = [e["agreement"][r] for r in refs]
        cells = [
            name,
            str(e["queries"]),
            _fmt(e["nDCG@10"]),
            _fmt(seconds, 1),
            _fmt(cost.get("llm_calls_per_query"), 1),
            _fmt(tokens, 0),
            *(f"{_fmt(a['kendall_tau'], 3)} / {_fmt(a['top10_overlap'], 2)}" for a in agree),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
