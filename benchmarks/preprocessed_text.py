"""How much of a ranker's quality survives an index of preprocessed text?

NFCorpus ships its text already preprocessed: lower case, stop words, punctuation and
numbers removed (numbers become ``num``). The learning curve's students trail their
teacher there by more than on DL 2020. This benchmark asks how much of that gap is the
form of the text rather than its domain: it re-ranks DL 2020's BM25 top 100 with the
teacher and with students twice, once as written and once preprocessed the NFCorpus way,
and reports nDCG@10 and each student's share of the teacher in both forms.

Usage: ``python benchmarks/preprocessed_text.py [--students DIR ...]``; writes
``benchmarks/results/preprocessed_text.json``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import time
from pathlib import Path
from typing import Any

from _dl2020 import RESULTS, ROOT, judged_dl2020

TEACHER = "bi-encoder:minilm-l6"
DEFAULT_STUDENT = (
    ROOT / "runs" / "data-scale" / "real+squad4k+crop4k" / "train" / "0-cross-encoder" / "model"
)
_WORD = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")


def preprocess(text: str, stopwords: frozenset[str]) -> str:
    """NFCorpus's form: lower-cased words, stop words and punctuation gone, numbers 'num'."""
    words = _WORD.findall(text.lower())
    return " ".join("num" if w.isdigit() else w for w in words if w not in stopwords)


def preprocessed(data: Any) -> Any:
    """The same queries, documents and candidates with every text preprocessed."""
    # scikit-learn's 318 English stop words (a sentence-transformers dependency): NFCorpus
    # drops words such as "have" and "that", which shorter lists keep.
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    from rankdistill.data.records import RankingData

    stop = frozenset(ENGLISH_STOP_WORDS)
    queries = {
        q: dataclasses.replace(r, text=preprocess(r.text, stop)) for q, r in data.queries.items()
    }
    corpus = {
        d: dataclasses.replace(
            r, text=preprocess(r.text, stop), title=r.title and preprocess(r.title, stop)
        )
        for d, r in data.corpus.items()
    }
    return RankingData(queries, corpus, data.candidates, data.qrels)


def ndcg10(scorer: Any, data: Any) -> tuple[float, float]:
    """(nDCG@10 of the scorer re-ranking the top 100, seconds taken)."""
    from rankdistill.evaluation.metrics import evaluate_run
    from rankdistill.scoring import rerank_run

    start = time.perf_counter()
    run = rerank_run(scorer, data, k=100, progress=False)
    score = evaluate_run(run, data.qrels, ["nDCG@10"]).aggregate["nDCG@10"]
    return score, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--students",
        nargs="*",
        type=Path,
        default=[DEFAULT_STUDENT],
        help="Student folders (as `rankdistill train` writes them) to compare with the teacher.",
    )
    parser.add_argument("--out", type=Path, default=RESULTS / "preprocessed_text.json")
    args = parser.parse_args()

    from rankdistill.scoring import build_scorer
    from rankdistill.students import load_student

    load_before = os.getloadavg()
    forms = {"natural": judged_dl2020()}
    judged = forms["natural"].queries
    forms["preprocessed"] = preprocessed(forms["natural"])
    scorers: dict[str, Any] = {"teacher": build_scorer(TEACHER, "cpu")}
    for folder in args.students:
        scorers[os.path.relpath(folder, ROOT)] = load_student(folder, "cpu")
    results: dict[str, Any] = {}
    for name, scorer in scorers.items():
        results[name] = {}
        for form, form_data in forms.items():
            score, seconds = ndcg10(scorer, form_data)
            results[name][form] = {"nDCG@10": score, "seconds": seconds}
            print(f"{name} {form}: nDCG@10 {score:.4f} ({seconds:.0f} s)", flush=True)
    teacher = results["teacher"]
    for entry in results.values():
        for form in forms:
            entry[form]["over_teacher"] = entry[form]["nDCG@10"] / teacher[form]["nDCG@10"]
    payload = {
        "benchmark": "preprocessed_text",
        "data": f"TREC DL 2020 BM25 top-100 ({len(judged)} judged queries), as written and "
        "preprocessed as NFCorpus is (scikit-learn's English stop words)",
        "teacher": TEACHER,
        "results": results,
        "machine": {"cpus": os.cpu_count(), "load_average_before": load_before},
        "command": "python benchmarks/preprocessed_text.py --students "
        + " ".join(os.path.relpath(p, ROOT) for p in args.students),
    }
    args.out.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
