"""``rankdistill run``: every stage in order, resumable, from one config.

Each stage writes its outputs under ``RUN_DIR/<stage>/`` and, last, a ``_done.json``
marker with its summary and a fingerprint of the config it ran with. A stage whose
marker exists is skipped, so rerunning a killed run resumes at the first unfinished stage
(and the label and train stages resume *inside* themselves: finished labels and
checkpoints are kept). A stage runs again when its part of the config changed since
(:data:`STAGE_CONFIG`), when it is forced, or when a stage it reads from
(:data:`STAGE_UPSTREAM`) ran in this invocation. Its old outputs then move to
``RUN_DIR/previous/<stage>/`` (one generation is kept), except the LLM call caches,
which stay: a prompt asked before is not asked again. When only the students changed, a
student whose own config is unchanged is moved back instead of being trained again.

Stages hand data forward through files (TREC runs, JSONL labels, model directories),
never through memory alone, so any stage can be re-run or inspected on its own.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from rich.console import Console

from rankdistill.config import STAGES, RunConfig, dump_config, save_config
from rankdistill.data.records import RankingData, Run
from rankdistill.scoring import Scorer
from rankdistill.utils import atomic_write_json, resolve_device, set_seed

if TYPE_CHECKING:
    from rankdistill.training.config import StudentTrainConfig

console = Console(stderr=True)
DONE_MARKER = "_done.json"
PREVIOUS = "previous"
CONFIG_CHANGED = "config changed"
TEACHER = "teacher"
# The config sections (dotted paths) each stage reads; seed and device are left out: a
# run moved to another device, or whose seed changed, keeps its finished stages.
STAGE_CONFIG: dict[str, tuple[str, ...]] = {
    "load": ("data",),
    "select": ("selection",),
    "retrieve": ("retrieval",),
    "prerank": ("labeling.prerank",),
    "label": ("labeling", "teacher"),
    "train": ("training",),
    "evaluate": ("evaluation",),
    "export": ("export",),
    "benchmark": ("benchmark",),
}
# The stage whose outputs each stage reads (its inputs' fingerprint is part of its own).
STAGE_UPSTREAM: dict[str, str | None] = {
    "load": None,
    "select": "load",
    "retrieve": "select",
    "prerank": "retrieve",
    "label": "prerank",
    "train": "label",
    "evaluate": "train",
    "export": "train",
    "benchmark": "export",
}


@dataclass
class Pipeline:
    """The state of one run: its config, folder, and lazily loaded data."""

    config: RunConfig
    base_dir: Path = field(default_factory=Path.cwd)
    _data: dict[str, RankingData] = field(default_factory=dict)
    _scorers: dict[tuple[str, int], Scorer] = field(default_factory=dict)
    # Why each stage of this invocation is re-running ("" when it never finished).
    rerun_reasons: dict[str, str] = field(default_factory=dict)

    @property
    def run_dir(self) -> Path:
        path = self.config.run_dir
        return path if path.is_absolute() else self.base_dir / path

    @property
    def device(self) -> str:
        return resolve_device(self.config.device)

    def stage_dir(self, stage: str) -> Path:
        path = self.run_dir / stage
        path.mkdir(parents=True, exist_ok=True)
        return path

    def is_done(self, stage: str) -> bool:
        return (self.run_dir / stage / DONE_MARKER).is_file()

    def fingerprint(self, stage: str) -> str:
        """A hash of the config this stage's outputs depend on, its upstream's included."""
        dumped = self.config.model_dump(mode="json")
        sections = {}
        for dotted in STAGE_CONFIG[stage]:
            value: Any = dumped
            for key in dotted.split("."):
                value = value[key]
            sections[dotted] = value
        upstream = STAGE_UPSTREAM[stage]
        sections["upstream"] = self.fingerprint(upstream) if upstream else None
        text = json.dumps(sections, sort_keys=True)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]

    def is_stale(self, stage: str) -> bool:
        """Whether the config changed since the stage ran (markers from before are trusted)."""
        recorded = self.summary(stage).get("config_fingerprint")
        return recorded is not None and recorded != self.fingerprint(stage)

    def summary(self, stage: str) -> dict[str, Any]:
        path = self.run_dir / stage / DONE_MARKER
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}

    # ----------------------------------------------------------------- data access
    def raw(self, split: str) -> RankingData:
        """A split as configured, before selection and retrieval (cached in memory)."""
        if split not in self._data:
            from rankdistill.data.loading import load_dataset

            spec = getattr(self.config.data, split)
            self._data[split] = load_dataset(spec, base_dir=self.base_dir)
        return self._data[split]

    def data(self, split: str, candidates: str | None = "retrieve") -> RankingData:
        """A split restricted to its selected queries, with a stage's run as candidates.

        ``candidates`` names the stage whose ``<split>.trec`` replaces the configured
        candidates (``None``: keep the data's own).
        """
        from rankdistill.data.trec import read_trec_run

        data = self.raw(split)
        if split == "train" and self.is_done("select"):
            data = data.subset(self.summary("select")["train_qids"])
        run_path = self.run_dir / (candidates or "") / f"{split}.trec"
        if candidates and run_path.is_file():
            data = RankingData(data.queries, data.corpus, read_trec_run(run_path), data.qrels)
        return data

    def scorer(self, spec: str, data: RankingData) -> Scorer:
        """One scorer instance per spec (and corpus) for the whole run.

        The pre-ranker and a ranker teacher often name the same model; sharing the
        instance loads it once and lets its document-embedding cache serve both.
        """
        from rankdistill.cli.factory import build_scorer

        key = (spec, id(data.corpus))
        if key not in self._scorers:
            self._scorers[key] = build_scorer(spec, self.device, data)
        return self._scorers[key]

    def segments(self, split: str) -> dict[str, str]:
        path = self.run_dir / "select" / "segments.json"
        return json.loads(path.read_text(encoding="utf-8")).get(split, {}) if path.is_file() else {}


# --------------------------------------------------------------------------- stages
def stage_load(p: Pipeline) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for split in ("train", "dev"):
        data = p.raw(split)
        out[split] = {
            "queries": len(data.queries),
            "documents": len(data.corpus),
            "queries_with_candidates": len(data.candidates),
            "judged_queries": 0 if data.qrels is None else len(data.qrels),
        }
    return out


def stage_select(p: Pipeline) -> dict[str, Any]:
    from rankdistill.data.selection import assign_segments, select_queries

    cfg = p.config.selection
    segments = {split: assign_segments(p.raw(split).queries, cfg) for split in ("train", "dev")}
    atomic_write_json(p.stage_dir("select") / "segments.json", segments)
    train = p.raw("train").queries
    selected = sorted(select_queries(train, cfg)) if cfg.enabled else sorted(train)
    if not selected:
        raise ValueError(
            f"selection kept no training query (keep_segments={cfg.keep_segments}); "
            "loosen the thresholds or set selection.enabled=false"
        )
    counts = {s: sum(v == s for v in segments["train"].values()) for s in ("head", "torso", "tail")}
    return {"train_qids": selected, "train_segment_counts": counts}


def stage_retrieve(p: Pipeline) -> dict[str, Any]:
    from rankdistill.data.trec import write_trec_run

    cfg = p.config.retrieval
    out = p.stage_dir("retrieve")
    sizes = {}
    for split in ("train", "dev"):
        data = p.data(split, candidates=None)
        if cfg.method == "bm25":
            from rankdistill.retrieval.bm25 import BM25Retriever

            run = BM25Retriever(cfg).index(data.corpus).retrieve(data.queries, cfg.k)
        else:
            if not data.candidates:
                raise ValueError(
                    f"data.{split} has no candidates; set retrieval.method=bm25 to retrieve them"
                )
            run = top_k_run(data, cfg.k)
        write_trec_run(run, out / f"{split}.trec", tag=f"first-stage-{cfg.method}")
        sizes[split] = len(run)
    return {"queries": sizes, "method": cfg.method, "k": cfg.k}


def top_k_run(data: RankingData, k: int) -> Run:
    """The data's own candidates, cut to the top ``k`` of each query."""
    return {q: {d.docid: d.score for d in data.candidate_list(q, k).docs} for q in data.candidates}


def _prerank_scorer(p: Pipeline, data: RankingData) -> Scorer | None:
    cfg = p.config.labeling.prerank
    specs = {
        "first-stage": None,
        "bm25": "bm25",
        "bi-encoder": f"bi-encoder:{cfg.model}",
        "cross-encoder": f"student:{cfg.model}",
    }
    spec = specs[cfg.scorer]
    return None if spec is None else p.scorer(spec, data)


def stage_prerank(p: Pipeline) -> dict[str, Any]:
    """Score the top-K training candidates (for labelling) and the dev candidates (to report)."""
    from rankdistill.data.trec import write_trec_run
    from rankdistill.scoring import rerank_run

    cfg = p.config.labeling.prerank
    out = p.stage_dir("prerank")
    for split, k in (("train", cfg.candidates), ("dev", p.config.retrieval.k)):
        data = p.data(split)
        scorer = _prerank_scorer(p, data)
        run = top_k_run(data, k) if scorer is None else rerank_run(scorer, data, k=k)
        write_trec_run(run, out / f"{split}.trec", tag=f"prerank-{cfg.scorer}")
    return {"scorer": cfg.scorer, "model": cfg.model, "train_candidates": cfg.candidates}


def stage_label(p: Pipeline) -> dict[str, Any]:
    """Label the training queries (and the dev queries, to evaluate the teacher itself)."""
    from rankdistill.labeling.runner import run_labeling

    cfg = p.config.labeling
    splits = ["train"]
    if p.config.evaluation.teacher_on_dev and p.raw("dev").qrels is not None:
        splits.append("dev")
    out: dict[str, Any] = {}
    # The RankGPT baseline slides over the first-stage ranking, as in its paper; the
    # other methods see the pre-ranker's top-K.
    source = "retrieve" if cfg.method == "slidingwindow" else "prerank"
    for split in splits:
        data = p.data(split, candidates=source)
        ranker_scorers = None
        if cfg.method == "ranker":
            ranker_scorers = {m: p.scorer(m, data) for m in cfg.ranker_models}
        folder = p.stage_dir("label") / split
        result = run_labeling(data, cfg, folder, prerank_scorer=None, ranker_scorers=ranker_scorers)
        out[split] = {"labels": str(result.labels_path), "stats": result.stats}
    if p.config.teacher.enabled:
        out["disranker"] = disranker_teacher(p, splits)
    return out


def method_labels_path(p: Pipeline, split: str) -> Path:
    """Where the configured labelling method writes a split's labels."""
    return p.run_dir / "label" / split / "labels.jsonl"


def labels_path(p: Pipeline, split: str) -> Path:
    """The labels students train on: the DisRanker teacher's scores when it is enabled."""
    if p.config.teacher.enabled:
        return p.run_dir / "teacher" / f"{split}-scores.jsonl"
    return method_labels_path(p, split)


def disranker_teacher(p: Pipeline, splits: list[str]) -> dict[str, Any]:
    """DisRanker: CPT on clicks (``data.clicks``, else simulated from the labels), SFT on
    the labels just made, then the fine-tuned LLM scores every pre-ranked candidate."""
    from rankdistill.data.clicks import read_click_log
    from rankdistill.labeling.store import read_labels
    from rankdistill.teachers.chain import train_disranker_teacher
    from rankdistill.teachers.scoring import score_pairs
    from rankdistill.teachers.sft import LLMTeacherScorer

    cfg = p.config.teacher
    clicks = read_click_log(p.base_dir / p.config.data.clicks) if p.config.data.clicks else None
    labels = read_labels(method_labels_path(p, "train"))
    train = p.data("train", candidates="prerank")
    folder = p.stage_dir("teacher")
    init, sft_dir = train_disranker_teacher(cfg, labels, train, folder, clicks, p.device)
    scorer = LLMTeacherScorer.from_dir(sft_dir, device=p.device, batch_size=cfg.score_batch_size)
    for split in splits:
        data = p.data(split, candidates="prerank")
        score_pairs(scorer, data, labels_path(p, split), k=cfg.score_k, teacher=scorer.name)
    return {"cpt": str(init) if init else None, "sft": str(sft_dir)}


def dev_evaluator(p: Pipeline, k: int | None = None) -> Callable[[Scorer], dict[str, float]]:
    """What training calls to score a checkpoint: rerank dev candidates, compute metrics."""
    from rankdistill.evaluation.metrics import evaluate_run
    from rankdistill.scoring import rerank_run

    dev = p.data("dev")
    metrics = p.config.evaluation.metrics

    def evaluate(scorer: Scorer) -> dict[str, float]:
        if dev.qrels is None:
            return {}
        run = rerank_run(scorer, dev, k=k or p.config.retrieval.k, progress=False)
        return evaluate_run(run, dev.qrels, metrics).aggregate

    return evaluate


def student_name(index: int, kind: str) -> str:
    return f"{index}-{kind}"


def stage_train(p: Pipeline) -> dict[str, Any]:
    from rankdistill.labeling.store import read_labels
    from rankdistill.training.trainer import train_student

    labels = read_labels(labels_path(p, "train"))
    data = p.data("train")
    evaluate = dev_evaluator(p) if p.raw("dev").qrels is not None else None
    trained = {}
    for i, student_cfg in enumerate(p.config.training.students):
        name = student_name(i, student_cfg.student)
        reused = _reuse_previous_student(p, name, student_cfg)
        if reused is not None:
            console.print(f"[dim]keep[/] {name}: its config is unchanged, trained before")
            trained[name] = reused
            continue
        console.print(f"[bold]train[/] {name}: loss={student_cfg.loss}")
        start = time.perf_counter()
        result = train_student(
            student_cfg,
            labels,
            data,
            p.stage_dir("train") / name,
            dev_evaluate=evaluate,
            device=p.device,
        )
        trained[name] = {
            "model_dir": str(result.model_dir),
            "metrics": result.metrics,
            "seconds": round(time.perf_counter() - start, 2),
        }
    return {"students": trained, "labels_run": _labels_run(p)}


def _labels_run(p: Pipeline) -> str:
    """Which label-stage run the students learn from: a hash of its marker, which changes
    whenever the stage runs (it holds its duration), so a relabelled run never matches."""
    marker = p.run_dir / "label" / DONE_MARKER
    return hashlib.sha256(marker.read_bytes()).hexdigest()[:16] if marker.is_file() else ""


def _reuse_previous_student(
    p: Pipeline, name: str, cfg: StudentTrainConfig
) -> dict[str, Any] | None:
    """Move back a student that finished under this very config before the train stage
    was set aside, so that editing one student of a list retrains that one only.

    Only when the stage re-runs for a config change and the labels are those the old
    students learnt from: after new labels, or when forced, every student trains again.
    """
    if p.rerun_reasons.get("train") != CONFIG_CHANGED:
        return None
    old_stage = p.run_dir / PREVIOUS / "train"
    marker = old_stage / DONE_MARKER
    old_summary = json.loads(marker.read_text(encoding="utf-8")) if marker.is_file() else {}
    if old_summary.get("labels_run") != _labels_run(p):
        return None  # relabelled since (by an earlier `--until label`, say)
    entry = old_summary.get("students", {}).get(name)
    old_dir = old_stage / name
    saved_config = old_dir / "train_config.yaml"
    if entry is None or not (old_dir / "model").is_dir() or not saved_config.is_file():
        return None
    if yaml.safe_load(saved_config.read_text(encoding="utf-8")) != cfg.model_dump(mode="json"):
        return None
    target = p.stage_dir("train") / name
    shutil.move(str(old_dir), str(target))
    return {**entry, "model_dir": str(target / "model"), "reused": True}


def _student_dirs(p: Pipeline) -> dict[str, Path]:
    return {n: Path(s["model_dir"]) for n, s in p.summary("train").get("students", {}).items()}


def stage_evaluate(p: Pipeline) -> dict[str, Any]:
    from rankdistill.cli.factory import load_student
    from rankdistill.data.trec import read_trec_run, write_trec_run
    from rankdistill.evaluation.metrics import evaluate_run
    from rankdistill.evaluation.report import write_eval_outputs
    from rankdistill.evaluation.teacher import teacher_run
    from rankdistill.labeling.store import read_labels
    from rankdistill.scoring import rerank_run

    dev = p.data("dev")
    if dev.qrels is None:
        return {"skipped": "the dev split has no qrels"}
    out = p.stage_dir("evaluate")
    prerank = read_trec_run(p.run_dir / "prerank" / "dev.trec")
    runs: dict[str, Run] = {
        "first-stage": read_trec_run(p.run_dir / "retrieve" / "dev.trec"),
        "pre-ranker": prerank,
    }
    dev_labels = labels_path(p, "dev")
    if dev_labels.is_file():
        runs[TEACHER] = teacher_run(read_labels(dev_labels), prerank)
    for name, model_dir in _student_dirs(p).items():
        runs[name] = rerank_run(load_student(model_dir, p.device), dev, k=p.config.retrieval.k)
    for name, run in runs.items():
        write_trec_run(run, out / "runs" / f"{name}.trec", tag=name)
    cfg = p.config.evaluation
    results = {
        name: evaluate_run(
            run, dev.qrels, cfg.metrics, pnr_ties=cfg.pnr_ties, missing_queries=cfg.missing_queries
        )
        for name, run in runs.items()
    }
    write_eval_outputs(results, out, segments=p.segments("dev"), baseline="first-stage")
    return {name: r.aggregate for name, r in results.items()}


def stage_export(p: Pipeline) -> dict[str, Any]:
    from rankdistill.serving.export import export_model

    exported: dict[str, dict[str, str]] = {}
    for name, model_dir in _student_dirs(p).items():
        exported[name] = {}
        for fmt in p.config.export.formats:
            target = p.stage_dir("export") / name / fmt
            export_model(model_dir, target, fmt, opset=p.config.export.opset)
            exported[name][fmt] = str(target)
    return {"students": exported}


BENCH_BACKEND_FORMAT = {"onnx": "onnx", "onnx-int8": "onnx-int8"}


def stage_benchmark(p: Pipeline) -> dict[str, Any]:
    """Latency and throughput of every student on every exported backend (dev queries)."""
    from rankdistill.serving.engine import Reranker
    from rankdistill.serving.latency import measure_latency

    cfg = p.config.benchmark
    dev = p.data("dev")
    queries = [
        (
            dev.queries[q].text,
            [dev.corpus[d].full_text for d in dev.candidate_list(q, cfg.docs_per_query).docids],
        )
        for q in list(dev.candidates)[: cfg.queries]
    ]
    exports = p.summary("export").get("students", {})
    rows = []
    for name, model_dir in _student_dirs(p).items():
        targets = {"torch": str(model_dir)}
        for backend, fmt in BENCH_BACKEND_FORMAT.items():
            if fmt in exports.get(name, {}):
                targets[backend] = exports[name][fmt]
        for backend, path in targets.items():
            if backend not in cfg.backends:
                continue
            engine = Reranker.load(path, backend=backend, threads=cfg.threads)
            timing = measure_latency(engine, queries)
            rows.append({"system": name, "backend": backend, **timing})
            console.print(
                f"{name} ({backend}): {timing['pairs_per_second']:.0f} pairs/s, "
                f"p50 {timing['latency_ms_p50']:.0f} ms/query"
            )
    atomic_write_json(p.stage_dir("benchmark") / "latency.json", rows)
    return {"rows": rows}


def describe_teacher(config: RunConfig) -> str:
    """One line naming the teacher that produced the training labels."""
    lab = config.labeling
    if lab.method == "ranker":
        models = ", ".join(lab.ranker_models)
        several = len(lab.ranker_models) > 1
        fused = f"a {lab.ranker_fusion} fusion of {models}" if several else models
        text = f"{fused} as a ranker teacher"
    else:
        text = f"{lab.method} labels from {lab.backend.kind}:{lab.backend.model}"
    if config.teacher.enabled:
        cpt = "CPT + " if config.teacher.cpt.enabled else ""
        text += f", then the DisRanker teacher ({cpt}SFT of {config.teacher.model}) scores"
    return text


def write_report(p: Pipeline) -> Path | None:
    """report.md + report.html from whatever stages have finished."""
    from rankdistill.data.trec import read_trec_run
    from rankdistill.evaluation.metrics import EvalResult
    from rankdistill.evaluation.run_report import ReportInputs, build_run_report

    eval_json = p.run_dir / "evaluate" / "eval.json"
    if not eval_json.is_file():
        return None
    saved = json.loads(eval_json.read_text(encoding="utf-8"))
    results = {name: EvalResult.from_dict(r) for name, r in saved["runs"].items()}
    runs = {
        name: read_trec_run(p.run_dir / "evaluate" / "runs" / f"{name}.trec") for name in results
    }
    dev = p.raw("dev")
    label_summary = p.summary("label")
    latency = [
        {
            **row,
            "p50_ms": row["latency_ms_p50"],
            "p99_ms": row["latency_ms_p99"],
            "pairs_per_s": row["pairs_per_second"],
        }
        for row in p.summary("benchmark").get("rows", [])
    ]
    inputs = ReportInputs(
        title=f"rankdistill run: {p.config.name}",
        results=results,
        baseline="first-stage",
        segments=p.segments("dev") or None,
        query_texts={q: v.text for q, v in dev.queries.items()},
        runs=runs,
        qrels=dev.qrels,
        teacher_name=TEACHER if TEACHER in results else None,
        students=[n for n in results if n not in ("first-stage", "pre-ranker", TEACHER)],
        labeling_stats=label_summary.get("train", {}).get("stats"),
        latency=latency or None,
        config_yaml=dump_config(p.config),
        notes=[
            f"Teacher: {describe_teacher(p.config)}. On dev it re-orders the pre-ranker's "
            "candidates it was shown (`rankdistill.evaluation.teacher.teacher_run`).",
        ],
    )
    paths = build_run_report(inputs, p.run_dir)
    return paths.markdown


STAGE_FUNCTIONS: dict[str, Callable[[Pipeline], dict[str, Any]]] = {
    "load": stage_load,
    "select": stage_select,
    "retrieve": stage_retrieve,
    "prerank": stage_prerank,
    "label": stage_label,
    "train": stage_train,
    "evaluate": stage_evaluate,
    "export": stage_export,
    "benchmark": stage_benchmark,
}
# Stages after which the report is (re)written.
REPORT_AFTER = {"evaluate", "benchmark"}


def _why_run(p: Pipeline, stage: str, force: tuple[str, ...], ran: set[str]) -> str | None:
    """Why a stage must run: "" when it never finished, a reason to print when its output
    is present but out of date, ``None`` when it is done and can be skipped."""
    if not p.is_done(stage):
        return ""
    if stage in force:
        return "forced"
    if STAGE_UPSTREAM[stage] in ran:
        return f"its input ({STAGE_UPSTREAM[stage]}) was just re-made"
    if p.is_stale(stage):
        return CONFIG_CHANGED
    return None


def _set_aside(p: Pipeline, stage: str) -> None:
    """Move a finished stage's outputs to ``previous/<stage>/`` before it runs again, so
    the new run starts clean (labels and checkpoints are not resumed from) and the old
    ones are not lost; LLM caches are copied back."""
    current = p.run_dir / stage
    old = p.run_dir / PREVIOUS / stage
    if old.exists():
        shutil.rmtree(old)
    old.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(current), str(old))
    # LLM caches are valid whatever the config: they are keyed by the prompt.
    from rankdistill.labeling.runner import CACHE_FILE

    for cached in old.rglob(CACHE_FILE):
        target = current / cached.relative_to(old)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(cached, target)


def run_pipeline(
    config: RunConfig,
    *,
    base_dir: Path | None = None,
    until: str | None = None,
    force: tuple[str, ...] = (),
) -> Pipeline:
    """Run the stages in order up to ``until``; skip finished ones unless forced."""
    p = Pipeline(config, base_dir=base_dir or Path.cwd())
    p.run_dir.mkdir(parents=True, exist_ok=True)
    save_config(config, p.run_dir / "config.resolved.yaml")
    set_seed(config.seed)
    stop = STAGES.index(until) if until else len(STAGES) - 1
    ran: set[str] = set()
    for stage in STAGES[: stop + 1]:
        if stage not in STAGE_FUNCTIONS:
            console.print(f"[yellow]skip[/] {stage}: not available in this version")
            continue
        why = _why_run(p, stage, force, ran)
        if why is None:
            console.print(f"[dim]done[/] {stage} (output present, skipped)")
            continue
        console.rule(f"[bold]{stage}")
        p.rerun_reasons[stage] = why
        if why:
            shown = why
            if why == CONFIG_CHANGED:
                sections = ", ".join(STAGE_CONFIG[stage])
                shown = f"the config changed since it ran ({sections} or an earlier stage's)"
            console.print(f"[yellow]re-run[/] {stage}: {shown}")
            _set_aside(p, stage)
        start = time.perf_counter()
        summary = STAGE_FUNCTIONS[stage](p)
        summary["seconds"] = round(time.perf_counter() - start, 2)
        summary["config_fingerprint"] = p.fingerprint(stage)
        atomic_write_json(p.stage_dir(stage) / DONE_MARKER, summary)
        ran.add(stage)
        console.print(f"[green]ok[/] {stage} in {summary['seconds']:.1f}s")
        if stage in REPORT_AFTER:
            report = write_report(p)
            if report is not None:
                console.print(f"report: {report}")
    return p


__all__ = ["STAGE_FUNCTIONS", "Pipeline", "dump_config", "run_pipeline"]
