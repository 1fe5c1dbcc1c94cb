"""The learning curve over training queries: real, SQuAD and generated (cropped) queries.

Each point of the curve is one run of the shipped ``trec-dl-scale`` config, its
``generate`` stage's sources cut to the point's counts (``point_config``):

- ``real``: the 129 unjudged DL 2021 + 2022 queries with their BM25 top-100 (``data.train``);
- ``squad``: SQuAD v1.1 dev questions; candidates are BM25's top-``k`` over its 2,067
  paragraphs; the question's own paragraph is a known positive;
- ``crop``: queries cropped from passages of the pooled DL 2021 + 2022 corpus (every
  passage of the BM25, RM3 and SPLADE files, deduplicated), filtered for round-trip
  consistency and near duplicates; candidates are BM25's top-``k`` over that pool; the
  source passage is a known positive.

The generate stage keeps the evaluation data out of both sources by construction (DL 2020
and NFCorpus docids, passage texts and query texts). The teacher (the MiniLM bi-encoder,
as in the shipped ``trec-dl`` recipe) labels every candidate; one MiniLM cross-encoder
student trains on the labels through ``rankdistill run`` (so a killed point resumes from
its checkpoints) and is evaluated on DL 2020 (BM25 top-100) and on NFCorpus test (BM25
top-100 over its corpus), beside BM25 and the teacher.

Usage: ``python benchmarks/data_scale.py --points real,real+squad1k [--out runs/data-scale]``.
Results accumulate in ``benchmarks/results/data_scale.json`` (one entry per point).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _nfcorpus import bm25_top100, read_nfcorpus_test
from rankdistill.data.records import RankingData, Run

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
RESULTS = ROOT / "benchmarks" / "results" / "data_scale.json"
CONFIG = "trec-dl-scale"


@dataclass(frozen=True)
class Point:
    """One training set of the curve and how its student trains."""

    real: bool = True
    squad: int = 0
    crop: int = 0
    llm: int = 0  # queries written by LLM_MODEL for passages of the crop source's corpus
    keyword: int = 0  # keyword crops (2-4 words) of other passages of the crop corpus
    candidates: int = 30  # BM25 candidates labelled per synthetic / SQuAD query
    group_size: int = 8
    groups_per_query: int = 1  # groups cut from each query's labelled documents per epoch
    epochs: float = 1.0
    max_steps: int = -1
    learning_rate: float = 7e-5
    max_length: int = 128
    batch_size: int = 4
    known_positive: str = "none"  # training.students[].known_positive
    short_first: float = 0.0  # share of the steps at 128 tokens before max_length; 0: none
    precision: str = "fp32"  # training.students[].precision (bf16 pays only where it is native)
    loss: str = "hybrid"  # training.students[].loss, a name of rankdistill.losses.LOSSES
    alpha: float = 1.0  # training.students[].alpha: the hybrid loss's margin-MSE weight
    ema_decay: float | None = None  # training.students[].ema_decay: export a weight average


# Point fields that set how the student trains, not which queries it learns from: each
# is the training.students[0] field of the same name (short_first becomes a ShortFirst).
STUDENT_FIELDS = (
    "group_size", "groups_per_query", "epochs", "max_steps", "learning_rate", "max_length",
    "batch_size", "known_positive", "short_first", "precision", "loss", "alpha", "ema_decay",
)  # fmt: skip

POINTS: dict[str, Point] = {
    "real": Point(),
    "real+squad1k": Point(squad=1000),
    "real+crop1k": Point(crop=1000),
    "real+squad2k+crop2k": Point(squad=2000, crop=2000),
    "real+squad4k+crop4k": Point(squad=4000, crop=4000),
    # The same labels as real+squad2k+crop2k, each SQuAD paragraph and crop source passage
    # raised to at least its query's best teacher target: does a label the teacher cannot
    # get wrong help? (Copy that run folder to this name and only training re-runs.)
    "real+squad2k+crop2k+floor": Point(squad=2000, crop=2000, known_positive="floor"),
    # The 8,129-query labels with a student that reads 256 tokens, as the teacher does (at
    # 128, 92% of NFCorpus abstracts and 23% of DL 2020 passages are cut).
    "real+squad4k+crop4k+len256": Point(squad=4000, crop=4000, max_length=256),
    # The same, with BERT's length schedule: 90% of the steps at 128 tokens, the last 10% at
    # 256. Its first 1,800 steps are real+squad4k+crop4k's, so that run's checkpoint-1800
    # copied into this one's train folder is where it resumes.
    "real+squad4k+crop4k+short-first": Point(
        squad=4000, crop=4000, max_length=256, short_first=0.9
    ),
    # Twice the queries again (SQuAD dev has 10,570 questions; the crop pool 27k passages).
    "real+squad8k+crop8k": Point(squad=8000, crop=8000),
    # The same labels, the student trained in bf16 autocast (fp32 master weights), about
    # 2.3x the steps per second on a CPU with AMX, 0.63x on one that only emulates bf16
    # (benchmarks/results/train_precision_128*.json).
    "real+squad8k+crop8k+bf16": Point(squad=8000, crop=8000, precision="bf16"),
    # The 8,129-query labels with margin-MSE alone instead of the hybrid loss (point-MSE +
    # margin-MSE): the targets are per-query z-scores of the teacher's cosines, and the
    # point term pins each document to that standardised scale, which a ranking never
    # reads. In bf16, as real+squad8k+crop8k+bf16.
    "real+squad4k+crop4k+margin": Point(squad=4000, crop=4000, loss="margin-mse", precision="bf16"),
    # Margin-MSE alone on the 4,129-query labels, in fp32 as real+squad2k+crop2k: the same
    # comparison at half the cost, on CPUs without native bf16 (where autocast emulates it).
    "real+squad2k+crop2k+margin": Point(squad=2000, crop=2000, loss="margin-mse"),
    # Between the two: the hybrid with margin-MSE weighted 4 to the point term's 1 (margin
    # alone gained on NFCorpus and lost on DL 2020).
    "real+squad2k+crop2k+alpha4": Point(squad=2000, crop=2000, alpha=4.0),
    # The alpha4 student exporting the moving average of its weights over about the last
    # 200 steps (ema_decay 0.995) instead of the last weights: dev nDCG@10 of the last
    # weights swung by 0.02 between checkpoints 300 steps apart.
    "real+squad2k+crop2k+alpha4+ema": Point(squad=2000, crop=2000, alpha=4.0, ema_decay=0.995),
    # The alpha4 student shown two groups of 8 of each query's 30 labelled documents per
    # epoch instead of one: more of the labels it already has, at twice the steps.
    "real+squad2k+crop2k+alpha4+gpq2": Point(squad=2000, crop=2000, alpha=4.0, groups_per_query=2),
    # As many queries as real+squad4k+crop4k, half of its question crops traded for keyword
    # crops: does a wider spread of query lengths help at the same size?
    "real+squad4k+crop2k+kw2k": Point(squad=4000, crop=2000, keyword=2000),
    # The best DL 2020 student's training (alpha 4, two groups a query) with keyword crops
    # added: the source that raised NFCorpus most, beside the queries DL 2020 gains from;
    # in bf16, 1.6x faster a step on a CPU with AVX512-BF16.
    "real+squad2k+crop2k+kw2k+alpha4+gpq2+bf16": Point(
        squad=2000, crop=2000, keyword=2000, alpha=4.0, groups_per_query=2, precision="bf16"
    ),
    # The same with BM25's top 100 labelled per synthetic / SQuAD query instead of its top
    # 30: the student re-ranks a top 100 at evaluation, and with 30 it never sees the
    # documents BM25 puts below 30th for 98% of its queries (the real ones have all 100).
    "real+squad2k+crop2k+kw2k+alpha4+gpq2+bf16+c100": Point(
        squad=2000,
        crop=2000,
        keyword=2000,
        candidates=100,
        alpha=4.0,
        groups_per_query=2,
        precision="bf16",
    ),
    # The keyword-crop mix with one group of 8 per query and epoch (1,532 steps): one group
    # kept NFCorpus higher than two (0.3407 against 0.3247 on the 4,129-query labels), two
    # lifted DL 2020; with keyword crops, does one group keep both?
    "real+squad2k+crop2k+kw2k+alpha4+bf16": Point(
        squad=2000, crop=2000, keyword=2000, alpha=4.0, precision="bf16"
    ),
    # LLM-written queries (InPars / Promptagator) over the same pooled corpus as the crops,
    # as many as llama.cpp on 2 CPU cores writes in about half an hour.
    "real+llm1k": Point(llm=1000),
    # Half as many, the first 1,000 passages of real+llm1k's draw (a prefix: copying that
    # run's generate/ folder here reuses its LLM calls), about 45 minutes of llama.cpp.
    "real+llm500": Point(llm=500),
    # Equal optimiser steps: the 129 real queries for as many steps as real+squad2k+crop2k
    # takes in one epoch (4,129 queries / batch 4), i.e. 32 epochs: more data, or more steps?
    "real-1033-steps": Point(max_steps=1033),
}


LLM_MODEL = "smollm2-135m"  # the packaged instruct LLM of the default install


def llm_source(crop: dict[str, Any]) -> dict[str, Any]:
    """The crop source with its queries written by an LLM through llama.cpp instead: the
    few-shot examples are the real DL 2021 + 2022 queries with their top BM25 passage."""
    backend = {"kind": "llama-cpp", "model": LLM_MODEL, "context_length": 2048}
    generation = {**crop["generation"], "method": "llm", "backend": backend}
    return {**crop, "name": "llm", "generation": generation}


def keyword_source(crop: dict[str, Any]) -> dict[str, Any]:
    """The crop source with 2-4-word keyword crops instead, of a differently seeded draw
    of passages: head queries like NFCorpus's (median 2 words), which question crops
    (5-10 words), SQuAD and DL 2021 + 2022 questions never show."""
    generation = {**crop["generation"], "style": "keyword", "seed": crop["generation"]["seed"] + 1}
    return {**crop, "name": "crop-keyword", "generation": generation}


def point_sources(point: Point, shipped: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The shipped config's sources cut to the point's counts (a count of 0 drops one)."""
    counts = {
        "squad": point.squad, "crop": point.crop, "llm": point.llm, "crop-keyword": point.keyword,
    }  # fmt: skip
    crop = next(s for s in shipped if s["name"] == "crop")
    derived = {"llm": llm_source(crop), "crop-keyword": keyword_source(crop)}
    # A source the recipe ships itself (its keyword crops) is taken as shipped, once.
    derived.update({s["name"]: s for s in shipped if s["name"] in derived})
    own = [s for s in shipped if s["name"] not in derived]
    sources = []
    for source in [*own, *derived.values()]:
        n = counts.get(source["name"], 0)
        if not n:
            continue
        source = {**source, "max_queries": n, "candidates": point.candidates}
        if source.get("generation") is not None:
            # Crops of twice as many passages as the budget: the filters drop some.
            source["generation"] = {**source["generation"], "max_passages": 2 * n}
        sources.append(source)
    return sources


def point_config(name: str, point: Point, out: Path) -> Any:
    """The shipped ``trec-dl-scale`` config with the point's counts and student."""
    from rankdistill.config import load_config

    shipped = load_config(CONFIG).model_dump(mode="json")
    student = {
        **shipped["training"]["students"][0],
        **{field: getattr(point, field) for field in STUDENT_FIELDS},
        # The short phase runs at the curve's own length.
        "short_first": {"max_length": Point().max_length, "fraction": point.short_first}
        if point.short_first
        else None,
        # DL 2020 is the dev split and the reported set: export the last checkpoint, so no
        # choice is made on it.
        "keep_best": False,
    }
    overrides = [
        f"name={name}",
        f"output_dir={out / name}",
        "selection.enabled=false",
        "generate.sources=" + json.dumps(point_sources(point, shipped["generate"]["sources"])),
        f"training.students=[{json.dumps(student)}]",
    ]
    if not point.real:
        overrides.append("data.train=" + json.dumps({"format": "none", "split": "train"}))
    return load_config(CONFIG, overrides)


def kept_run(path: Path, tag: str, make: Callable[[], Run]) -> Run:
    """The run kept at ``path`` as a TREC file, made (and kept) first when absent."""
    from rankdistill.data.trec import read_trec_run, write_trec_run

    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        write_trec_run(make(), path, tag=tag)
    return read_trec_run(path)


def nfcorpus_scores(
    model_dir: Path, out: Path, device: str, student_path: Path
) -> dict[str, float]:
    """nDCG@10 on NFCorpus test re-ranking BM25's top 100: BM25, the teacher and a student.

    The runs are kept as TREC files (BM25's and the teacher's under ``out/nfcorpus``, the
    student's at ``student_path``) for per-query comparisons, and reused when present."""
    from rankdistill.evaluation.metrics import evaluate_run
    from rankdistill.scoring import build_scorer, rerank_run
    from rankdistill.students import load_student

    beir = read_nfcorpus_test()
    cache = out / "nfcorpus"
    bm25 = kept_run(cache / "bm25.trec", "bm25", lambda: bm25_top100(beir))
    data = RankingData(beir.queries, beir.corpus, bm25, beir.qrels)
    runs = {
        "bm25": bm25,
        "teacher": kept_run(
            cache / "teacher.trec",
            "teacher",
            lambda: rerank_run(build_scorer("bi-encoder:minilm-l6", device, data), data, k=100),
        ),
        "student": kept_run(
            student_path,
            "student",
            lambda: rerank_run(load_student(model_dir, device), data, k=100),
        ),
    }
    assert data.qrels is not None
    return {
        name: evaluate_run(run, data.qrels, ["nDCG@10"]).aggregate["nDCG@10"]
        for name, run in runs.items()
    }


def source_counts(p: Any) -> dict[str, int]:
    """Training queries per source of a finished run (``real``: data.train's)."""
    from rankdistill.pipeline import GENERATE, SELECT

    counts = (
        {"real": len(p.output(SELECT).train_qids)} if p.config.data.train.format != "none" else {}
    )
    counts.update({s.name: s.queries for s in p.output(GENERATE).sources})
    return counts


def dev_curve(model_dir: Path) -> dict[str, float]:
    """Dev (DL 2020) nDCG@10 by optimiser step, from the training history beside the model."""
    history = json.loads((model_dir.parent / "history.json").read_text(encoding="utf-8"))
    return {
        str(h["step"]): round(float(h["eval_nDCG@10"]), 4) for h in history if "eval_nDCG@10" in h
    }


def run_point(name: str, out: Path, device: str) -> dict[str, Any]:
    from rankdistill.pipeline import EVALUATE, run_pipeline

    point = POINTS[name]
    config = point_config(name, point, out).model_copy(update={"device": device})
    p = run_pipeline(config, base_dir=ROOT, until="evaluate")
    counts = source_counts(p)
    evaluated = p.output(EVALUATE).systems
    trained = p.summary("train")["students"]
    student_name, student = next(iter(trained.items()))
    nf_run = out / name / EVALUATE.name / "nfcorpus-student.trec"
    nf = nfcorpus_scores(Path(student["model_dir"]), out, p.device, nf_run)
    dl20 = {s: evaluated[s]["nDCG@10"] for s in ("first-stage", "teacher", student_name)}
    return {
        "point": name,
        "config": point.__dict__,
        "training_queries": sum(counts.values()),
        "queries_per_source": counts,
        "train_seconds": student["seconds"],
        "dl20": {
            "bm25": dl20["first-stage"],
            "teacher": dl20["teacher"],
            "student": dl20[student_name],
        },
        "nfcorpus": nf,
        "student_over_teacher_dl20": dl20[student_name] / dl20["teacher"],
        "student_over_teacher_nfcorpus": nf["student"] / nf["teacher"],
        "dev_ndcg10_by_step": dev_curve(Path(student["model_dir"])),
    }


def save(
    entry: dict[str, Any], load_before: tuple[float, float, float], path: Path = RESULTS
) -> None:
    results = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    results.setdefault("points", {})[entry["point"]] = entry
    # A point stopped part-way is kept by hand under partial_points until it finishes.
    results.get("partial_points", {}).pop(entry["point"], None)
    results["machine"] = {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "load_average_before": load_before,
    }
    best = best_point(results["points"].values())
    results["best_point"] = best["point"]
    results["student_over_teacher_dl20"] = best["student_over_teacher_dl20"]
    results["student_over_teacher_nfcorpus"] = best["student_over_teacher_nfcorpus"]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    plot(results, path.with_suffix(".png"))


def best_point(entries: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """The point nearest parity on the set where it is furthest from it: the highest of
    each point's lower student / teacher ratio (parity is asked of both sets at once)."""
    return max(
        entries,
        key=lambda e: min(e["student_over_teacher_dl20"], e["student_over_teacher_nfcorpus"]),
    )


def is_variant(entry: dict[str, Any]) -> bool:
    """A point whose student trains otherwise than the curve's (same labels as a curve
    point, or the equal-steps control): plotted apart, not joined to the curve."""
    default = Point()
    config = entry.get("config", {})
    return any(config.get(f, getattr(default, f)) != getattr(default, f) for f in STUDENT_FIELDS)


def variant_label(name: str) -> str:
    """What a point changes beside the curve's own sources: ``real+squad4k+crop4k+short-first``
    -> ``+short-first``, ``real+squad2k+crop2k+kw2k+alpha4`` -> ``+kw2k+alpha4``;
    ``real-1033-steps`` as is."""
    if "+" not in name:
        return name
    curve = re.compile(r"real|squad\d+k|crop\d+k")
    return "".join(f"+{part}" for part in name.split("+") if not curve.fullmatch(part))


# Sources beside the real queries, SQuAD and question crops, each drawn as its own marker:
# a point with any of them is another mix at its query count, not a step of the curve.
OTHER_SOURCES = {
    "keyword": ("D", "tab:orange", "keyword crops"),
    "llm": ("^", "tab:red", "LLM-written"),
}


def other_source(entry: dict[str, Any]) -> str | None:
    """The first of OTHER_SOURCES the point's training set has, if any."""
    config = entry.get("config", {})
    return next((s for s in OTHER_SOURCES if config.get(s, 0)), None)


CURVE_STYLE = ("o", "tab:blue", "real + SQuAD + crops")
VARIANT_STYLE = ("s", "tab:purple", "student variant")


def point_style(entry: dict[str, Any]) -> tuple[str, str, str]:
    """(marker, colour, legend label) of a point: a student variant, another mix, or the curve."""
    if is_variant(entry):
        return VARIANT_STYLE
    source = other_source(entry)
    return OTHER_SOURCES[source] if source else CURVE_STYLE


PARITY_FLOOR = 0.8  # the parity panel shows the points at least this near on both sets


def plot(results: dict[str, Any], path: Path) -> Path:
    """Student nDCG@10 against training queries on each set, teacher and BM25 as reference
    lines, and a third panel of student / teacher on one set against the other.

    The curve joins the points of one mix (the real queries, SQuAD and question crops,
    the default student); other mixes and student variants are markers of their own.
    Every point near parity is named in the third panel, in a column beside it with a
    line to its marker, so names never overlap however close the points are."""
    import matplotlib
    import matplotlib.ticker

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    points = sorted(results["points"].values(), key=lambda e: e["training_queries"])
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.6), gridspec_kw={"width_ratios": [1, 1, 0.8]})
    curve_panel(axes[0], points, "dl20", "TREC DL 2020")
    curve_panel(axes[1], points, "nfcorpus", "NFCorpus test")
    parity_panel(axes[2], points)
    handles = {}
    for ax in axes[:2]:
        handles.update(zip(*reversed(ax.get_legend_handles_labels()), strict=True))
    axes[0].legend(handles.values(), handles.keys(), loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def curve_panel(ax: Any, points: list[dict[str, Any]], key: str, title: str) -> None:
    """Student nDCG@10 on set ``key`` against the number of training queries."""
    import matplotlib.ticker

    curve = [e for e in points if point_style(e) == CURVE_STYLE]
    marker, color, label = CURVE_STYLE
    ax.plot([e["training_queries"] for e in curve], [e[key]["student"] for e in curve],
            f"{marker}-", color=color, label=label)  # fmt: skip
    for style in (VARIANT_STYLE, *OTHER_SOURCES.values()):
        entries = [e for e in points if point_style(e) == style]
        if entries:
            marker, color, label = style
            ax.plot([e["training_queries"] for e in entries], [e[key]["student"] for e in entries],
                    marker, ls="none", mfc="none", color=color, label=label)  # fmt: skip
    ax.axhline(points[-1][key]["teacher"], color="tab:green", ls="--", label="teacher")
    ax.axhline(points[-1][key]["bm25"], color="tab:gray", ls=":", label="BM25")
    ax.set_xscale("log")
    # Minor-tick labels of a log axis spanning one or two decades overlap.
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.set_title(title)
    ax.set_xlabel("training queries")
    ax.set_ylabel("nDCG@10 (student)")


def parity_panel(ax: Any, points: list[dict[str, Any]]) -> None:
    """Student / teacher on DL 2020 against NFCorpus for the points near parity on both,
    each named in a column at the right, ordered as the points are from top to bottom
    (the best point in bold)."""
    best = best_point(points)["point"]
    near = [
        e
        for e in points
        if min(e["student_over_teacher_dl20"], e["student_over_teacher_nfcorpus"]) >= PARITY_FLOOR
    ]
    near.sort(key=lambda e: -e["student_over_teacher_nfcorpus"])
    for i, e in enumerate(near):
        marker, color, _ = point_style(e)
        xy = (e["student_over_teacher_dl20"], e["student_over_teacher_nfcorpus"])
        ax.plot(*xy, marker, mfc="none", color=color)
        ax.annotate(
            e["point"],
            xy,
            xytext=(1.03, 1 - (i + 0.5) / len(near)),
            textcoords="axes fraction",
            va="center",
            fontsize=7,
            color=color,
            fontweight="bold" if e["point"] == best else "normal",
            arrowprops={"arrowstyle": "-", "lw": 0.4, "color": "0.7"},
        )
    for axis, key in (
        (ax.set_xlim, "student_over_teacher_dl20"),
        (ax.set_ylim, "student_over_teacher_nfcorpus"),
    ):
        values = [e[key] for e in near]
        axis(min(values) - 0.01, max(1.0, *values) + 0.01)
    ax.axvline(1.0, color="tab:green", ls="--")
    ax.axhline(1.0, color="tab:green", ls="--")
    ax.set_title(f"student / teacher (points at {PARITY_FLOOR:.0%} or more on both)")
    ax.set_xlabel("TREC DL 2020")
    ax.set_ylabel("NFCorpus test")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", default="real", help=f"comma-separated: {', '.join(POINTS)}")
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "data-scale")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    if not DATA.is_dir():
        raise SystemExit(f"{DATA} is missing: the data-scale benchmark needs ../shared/data")
    for name in args.points.split(","):
        if name not in POINTS:
            raise SystemExit(f"unknown point {name!r} (known: {', '.join(POINTS)})")
        # What else ran on the cores: wall times are only comparable at similar loads.
        entry_load = os.getloadavg()
        start = time.perf_counter()
        entry = run_point(name, args.out, args.device)
        entry["wall_seconds"] = round(time.perf_counter() - start, 1)
        entry["load_average_before"] = entry_load
        save(entry, entry_load)
        print(json.dumps(entry, indent=2))


if __name__ == "__main__":
    main()
