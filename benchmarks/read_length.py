"""How many tokens should a ranker read? nDCG@10 by reading length, in and out of domain.

The learning curve's students train on pairs cut to 128 tokens, and the MiniLM bi-encoder
teacher reads 256 by default. NFCorpus's documents are PubMed abstracts, most of them
longer than 128 tokens; DL 2020's passages mostly fit. This benchmark re-ranks BM25's top
100 of DL 2020 and of NFCorpus test with the teacher and with trained students, each cut
to every length asked for, and reports nDCG@10 and the seconds each took. A saved
student reads the length it trained at (``training.students[].max_length``).

Usage: ``python benchmarks/read_length.py --scorers teacher runs/.../model --lengths
128,256``; results merge into ``benchmarks/results/read_length.json`` by scorer, set and
length, so scorers can be measured in separate calls.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
from pathlib import Path
from typing import Any

from _dl2020 import RESULTS, ROOT, judged_dl2020
from _nfcorpus import nfcorpus_test
from preprocessed_text import ndcg10

TEACHER = "bi-encoder:minilm-l6"


SETS = {"dl20": judged_dl2020, "nfcorpus": nfcorpus_test}


def build(name: str) -> Any:
    from rankdistill.scoring import build_scorer
    from rankdistill.students import load_student

    return build_scorer(TEACHER, "cpu") if name == "teacher" else load_student(name, "cpu")


def scorer_name(spec: str) -> str:
    return spec if spec == "teacher" else os.path.relpath(Path(spec).resolve(), ROOT)


def merge(results: dict[str, Any], name: str, set_name: str, length: int, value: Any) -> None:
    results.setdefault(name, {}).setdefault(set_name, {})[str(length)] = value


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--scorers",
        nargs="+",
        default=["teacher"],
        help="'teacher' (the MiniLM bi-encoder) and/or student folders.",
    )
    parser.add_argument("--lengths", default="128,256", help="Comma-separated token counts.")
    parser.add_argument("--sets", default=",".join(SETS), help=f"Of: {', '.join(SETS)}.")
    parser.add_argument("--out", type=Path, default=RESULTS / "read_length.json")
    args = parser.parse_args()
    lengths = [int(n) for n in args.lengths.split(",")]
    unknown = sorted(set(args.sets.split(",")) - set(SETS))
    if unknown:
        parser.error(f"unknown set(s) {', '.join(unknown)}: use {', '.join(SETS)}")

    payload = json.loads(args.out.read_text(encoding="utf-8")) if args.out.is_file() else {}
    results = payload.setdefault("results", {})
    load_before = os.getloadavg()
    datasets = {name: SETS[name]() for name in args.sets.split(",")}
    for spec in args.scorers:
        scorer, name = build(spec), scorer_name(spec)
        for length in lengths:
            scorer.max_length = length  # a student's pairs; the bi-encoder's texts each
            for set_name, data in datasets.items():
                score, seconds = ndcg10(scorer, data)
                merge(results, name, set_name, length, {"nDCG@10": score, "seconds": seconds})
                print(f"{name} {set_name} @{length}: nDCG@10 {score:.4f} ({seconds:.0f} s)")
    payload.update(
        benchmark="read_length",
        data="BM25 top-100 of TREC DL 2020 (54 judged queries) and of NFCorpus test (323)",
        teacher=TEACHER,
        machine={"cpus": os.cpu_count(), "platform": platform.platform()},
    )
    command = (
        "python benchmarks/read_length.py --scorers "
        + " ".join(scorer_name(s) for s in args.scorers)
        + f" --lengths {args.lengths} --sets {args.sets}"
    )
    payload.setdefault("runs", []).append({"command": command, "load_average_before": load_before})
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
