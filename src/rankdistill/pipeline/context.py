"""The state of one run: its config, its folder, lazily loaded data and shared scorers."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from rankdistill.config import RunConfig
from rankdistill.data.records import RankingData, Run
from rankdistill.pipeline.stage import Stage, output_from_json
from rankdistill.scoring import Scorer
from rankdistill.utils import resolve_device

DONE_MARKER = "_done.json"
RESOLVED_CONFIG = "config.resolved.yaml"  # the run's config with every default spelled out
PREVIOUS = "previous"
# Markers name files under the run folder from this token, so a moved folder still reads.
RUN_DIR_TOKEN = "{run_dir}"
OutputT = TypeVar("OutputT")


@dataclass
class RunContext:
    """What every stage function receives.

    ``rerun_reasons`` says why each stage of this invocation runs again ("" when it had
    never finished); the train stage reads it to decide whether students can be reused.
    """

    config: RunConfig
    base_dir: Path = field(default_factory=Path.cwd)
    rerun_reasons: dict[str, str] = field(default_factory=dict)
    _data: dict[str, RankingData] = field(default_factory=dict)
    _scorers: dict[tuple[str, int], Scorer] = field(default_factory=dict)

    @property
    def run_dir(self) -> Path:
        path = self.config.run_dir
        return path if path.is_absolute() else self.base_dir / path

    @property
    def device(self) -> str:
        return resolve_device(self.config.device)

    # ------------------------------------------------------------------ stage records
    def stage_dir(self, stage: Stage[Any] | str) -> Path:
        """The stage's output folder (created)."""
        path = self.run_dir / _name(stage)
        path.mkdir(parents=True, exist_ok=True)
        return path

    def marker(self, stage: Stage[Any] | str) -> Path:
        return self.run_dir / _name(stage) / DONE_MARKER

    def is_done(self, stage: Stage[Any] | str) -> bool:
        return self.marker(stage).is_file()

    def summary(self, stage: Stage[Any] | str) -> dict[str, Any]:
        """The stage's marker (``{}`` when it has not finished), its paths under this run
        folder wherever the folder was when the stage ran."""
        path = self.marker(stage)
        if not path.is_file():
            return {}
        return _replace_prefix(
            json.loads(path.read_text(encoding="utf-8")), RUN_DIR_TOKEN, str(self.run_dir)
        )

    def relocatable(self, record: Any) -> Any:
        """``record`` with the paths under the run folder written from ``RUN_DIR_TOKEN``."""
        return _replace_prefix(record, str(self.run_dir), RUN_DIR_TOKEN)

    def output(self, stage: Stage[OutputT]) -> OutputT:
        """The typed output of a finished stage."""
        if not self.is_done(stage):
            raise RuntimeError(f"stage {stage.name!r} has not finished in {self.run_dir}")
        return output_from_json(stage.output, self.summary(stage), str(self.marker(stage)))

    def run_id(self, stage: Stage[Any]) -> str | None:
        """Which execution of the stage made its current outputs (changes at every run)."""
        return self.summary(stage).get("run_id")

    def upstream_runs(self, stage: Stage[Any]) -> dict[str, str | None]:
        """The execution ids of the stage's upstream stages' current outputs."""
        return {u.name: self.run_id(u) for u in stage.inputs(self.config)}

    def fingerprint(self, stage: Stage[Any] | str) -> str:
        """A hash of the config this stage's outputs depend on, its upstreams' included."""
        stage = _stage(stage)
        dumped = self.config.model_dump(mode="json")
        sections: dict[str, Any] = {}
        for dotted in stage.reads:
            value: Any = dumped
            for key in dotted.split("."):
                value = value[key]
            sections[dotted] = value
        upstream = [self.fingerprint(u) for u in stage.inputs(self.config)]
        sections["upstream"] = upstream[0] if len(upstream) == 1 else (upstream or None)
        text = json.dumps(sections, sort_keys=True)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]

    # -------------------------------------------------------------------- data access
    def raw(self, split: str) -> RankingData:
        """A split as configured, before selection and retrieval (cached in memory)."""
        if split not in self._data:
            from rankdistill.data.loading import load_dataset

            spec = getattr(self.config.data, split)
            self._data[split] = load_dataset(spec, base_dir=self.base_dir)
        return self._data[split]

    def data(
        self, split: str, candidates: str | Path | None = None, *, sources: bool = True
    ) -> RankingData:
        """A split restricted to its selected queries, with ``candidates`` (a TREC run
        an upstream stage wrote) in place of the configured candidates. The train split
        also holds the queries and corpora of the ``generate`` stage's sources, unless
        ``sources`` is false."""
        from rankdistill.data.trec import read_trec_run
        from rankdistill.pipeline.stages.generate import with_training_sources
        from rankdistill.pipeline.stages.select import SELECT

        data = self.raw(split)
        if split == "train" and self.is_done(SELECT):
            data = data.subset(self.output(SELECT).train_qids)
        if split == "train" and sources:
            data = with_training_sources(self, data, self._data)
        if candidates is not None and Path(candidates).is_file():
            run = read_trec_run(candidates)
            data = RankingData(data.queries, data.corpus, run, data.qrels)
        return data

    def scorer(self, spec: str, data: RankingData) -> Scorer:
        """One scorer instance per spec (and corpus) for the whole run.

        The pre-ranker and a ranker teacher often name the same model; sharing the
        instance loads it once and lets its document-embedding cache serve both.
        """
        from rankdistill.scoring import build_scorer

        key = (spec, id(data.corpus))
        if key not in self._scorers:
            self._scorers[key] = build_scorer(spec, self.device, data)
        return self._scorers[key]


def dev_evaluator(
    dev: RankingData, metrics: list[str], k: int
) -> Callable[[Scorer], dict[str, float]]:
    """What training calls to score a checkpoint: rerank dev candidates, compute metrics
    (an empty dict when the dev split has no qrels)."""
    from rankdistill.evaluation.metrics import evaluate_run
    from rankdistill.scoring import rerank_run

    def evaluate(scorer: Scorer) -> dict[str, float]:
        if dev.qrels is None:
            return {}
        run = rerank_run(scorer, dev, k=k, progress=False)
        return dict(evaluate_run(run, dev.qrels, metrics).aggregate)

    return evaluate


def top_k_run(data: RankingData, k: int) -> Run:
    """The data's own candidates, cut to the top ``k`` of each query."""
    return {q: {d.docid: d.score for d in data.candidate_list(q, k).docs} for q in data.candidates}


def _name(stage: Stage[Any] | str) -> str:
    return stage if isinstance(stage, str) else stage.name


def _stage(stage: Stage[Any] | str) -> Stage[Any]:
    if not isinstance(stage, str):
        return stage
    from rankdistill.pipeline.stages import stage_named

    return stage_named(stage)


def _replace_prefix(value: Any, old: str, new: str) -> Any:
    """Every string of a JSON value that is ``old`` or starts with ``old/``, re-rooted."""
    if isinstance(value, str):
        if value == old or value.startswith(old + "/"):
            return new + value[len(old) :]
        return value
    if isinstance(value, dict):
        return {k: _replace_prefix(v, old, new) for k, v in value.items()}
    if isinstance(value, list):
        return [_replace_prefix(v, old, new) for v in value]
    return value
