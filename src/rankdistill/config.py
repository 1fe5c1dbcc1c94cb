"""The one typed configuration of a run.

Every hyperparameter of every stage lives in a stage's own ``config.py``; this module
composes them into :class:`RunConfig`, loads it from YAML (a path or the name of a
config shipped in ``rankdistill/configs``), applies ``key=value`` overrides and writes
the resolved result next to a run's outputs.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from rankdistill.data.config import DataConfig, SelectionConfig
from rankdistill.evaluation.config import EvaluationConfig
from rankdistill.labeling.config import LabelingConfig
from rankdistill.retrieval.config import RetrievalConfig
from rankdistill.serving.config import BenchmarkConfig, ExportConfig, ServeConfig
from rankdistill.teachers.config import TeacherConfig
from rankdistill.training.config import TrainingConfig

STAGES = (
    "load",
    "select",
    "retrieve",
    "prerank",
    "label",
    "train",
    "evaluate",
    "export",
    "benchmark",
)
StageName = Literal[
    "load", "select", "retrieve", "prerank", "label", "train", "evaluate", "export", "benchmark"
]


class ConfigError(ValueError):
    """A config file or override that does not validate; the message names the field."""


class RunConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = "run"
    output_dir: str = Field("runs/{name}", description="Run folder; {name} is substituted.")
    seed: int = 13
    device: str = Field("auto", description="auto, cpu, cuda, cuda:1, ...")
    data: DataConfig = Field(default_factory=DataConfig)
    selection: SelectionConfig = Field(default_factory=SelectionConfig)
    retrieval: RetrievalConfig = Field(default_factory=RetrievalConfig)
    labeling: LabelingConfig = Field(default_factory=LabelingConfig)
    teacher: TeacherConfig = Field(default_factory=TeacherConfig)
    training: TrainingConfig = Field(default_factory=TrainingConfig)
    evaluation: EvaluationConfig = Field(default_factory=EvaluationConfig)
    export: ExportConfig = Field(default_factory=ExportConfig)
    serve: ServeConfig = Field(default_factory=ServeConfig)
    benchmark: BenchmarkConfig = Field(default_factory=BenchmarkConfig)

    @property
    def run_dir(self) -> Path:
        return Path(self.output_dir.format(name=self.name))


def shipped_configs() -> list[str]:
    """Names of the configs that ship inside the package (``demo``, ``trec-dl``...)."""
    folder = resources.files("rankdistill") / "configs"
    names = (p.name for p in folder.iterdir())
    return sorted(n.removesuffix(".yaml") for n in names if n.endswith(".yaml"))


def _read_yaml(source: str | Path) -> tuple[dict[str, Any], str]:
    path = Path(source)
    if path.is_file():
        text, label = path.read_text(encoding="utf-8"), str(path)
    elif str(source) in shipped_configs():
        ref = resources.files("rankdistill") / "configs" / f"{source}.yaml"
        text, label = ref.read_text(encoding="utf-8"), f"<shipped config {source}>"
    else:
        raise ConfigError(
            f"config {source!r} is neither a file nor a shipped config "
            f"(shipped: {', '.join(shipped_configs())})"
        )
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{label}: invalid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{label}: top level must be a mapping, got {type(data).__name__}")
    return data, label


def parse_override(item: str) -> tuple[list[str], Any]:
    """``"training.students.0.loss=ranknet"`` -> (["training","students","0","loss"], "ranknet").

    The value is parsed as YAML, so numbers, booleans, lists and null keep their types.
    """
    if "=" not in item:
        raise ConfigError(f"override {item!r} must look like key.path=value")
    key, raw = item.split("=", 1)
    if not key.strip():
        raise ConfigError(f"override {item!r} has an empty key")
    return key.strip().split("."), yaml.safe_load(raw)


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    for item in overrides:
        path, value = parse_override(item)
        node: Any = data
        for part in path[:-1]:
            node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
        last = path[-1]
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value
    return data


def _expand_student_defaults(data: dict[str, Any]) -> None:
    """Overrides like ``training.students.0.x`` need the default list to exist first."""
    training = data.setdefault("training", {})
    if "students" not in training:
        training["students"] = [s.model_dump() for s in TrainingConfig().students]


def load_config(source: str | Path | None = None, overrides: list[str] | None = None) -> RunConfig:
    """Load a YAML file or shipped config name (``None``: all defaults) and apply overrides."""
    data, label = ({}, "<defaults>") if source is None else _read_yaml(source)
    if overrides:
        if any(o.startswith("training.students.") for o in overrides):
            _expand_student_defaults(data)
        data = apply_overrides(data, overrides)
    try:
        return RunConfig.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigError(f"{label}: {problems}") from exc


def dump_config(config: RunConfig) -> str:
    """The fully resolved config as YAML (every default spelled out)."""
    return yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False)


def save_config(config: RunConfig, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dump_config(config), encoding="utf-8")
    return path
