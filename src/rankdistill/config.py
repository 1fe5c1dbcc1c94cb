"""The one typed configuration of a run.

Every hyperparameter of every stage lives in a stage's own ``config.py``; this module
composes them into :class:`RunConfig`, loads it from YAML (a path or the name of a
config shipped in ``rankdistill/configs``), applies ``key=value`` overrides and writes
the resolved result next to a run's outputs.
"""

from __future__ import annotations

import json
import re
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    model_validator,
)

from rankdistill.data.config import DataConfig, SelectionConfig
from rankdistill.evaluation.config import EvaluationConfig
from rankdistill.generation.config import TrainingSourcesConfig
from rankdistill.labeling.config import LabelingConfig
from rankdistill.retrieval.config import RetrievalConfig
from rankdistill.serving.config import BenchmarkConfig, ExportConfig, ServeConfig
from rankdistill.teachers.config import TeacherConfig
from rankdistill.training.config import TrainingConfig

SECTION_ONLY = "section_only"


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
    generate: TrainingSourcesConfig = Field(default_factory=TrainingSourcesConfig)
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

    @model_validator(mode="after")
    def _check_capabilities(self, info: ValidationInfo) -> RunConfig:
        """Settings each valid alone that cannot work together, found before any stage
        runs: every student must be exportable to every format of ``export.formats``.

        Skipped when one section is loaded for a command of its own (:func:`load_section`).
        """
        from rankdistill.serving.export import EXPORT_FORMATS, unsupported_formats

        if (info.context or {}).get(SECTION_ONLY):
            return self

        for i, student in enumerate(self.training.students):
            bad = unsupported_formats(student.student, self.export.formats)
            if bad:
                able = [
                    f for f in EXPORT_FORMATS if f not in unsupported_formats(student.student, [f])
                ]
                raise ValueError(
                    f"export.formats: {', '.join(bad)} cannot export training.students.{i} "
                    f"(student: {student.student}); that student exports to "
                    f"{', '.join(able) or 'no format'}: drop {', '.join(bad)} from export.formats"
                )
        return self


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
    """Set each ``key.path=value``; a list is indexed by number (``students.0.loss``)."""
    for item in overrides:
        path, value = parse_override(item)
        node: Any = data
        for depth, part in enumerate(path):
            last = depth == len(path) - 1
            if isinstance(node, list):
                index = _list_index(node, part, ".".join(path[:depth]), f"override {item!r}")
                if last:
                    node[index] = value
                else:
                    node = node[index]
            elif not isinstance(node, dict):
                where = ".".join(path[:depth])
                raise ConfigError(f"override {item!r}: {where} is a value, not a section")
            elif last:
                node[part] = value
            else:
                node = node.setdefault(part, {})
    return data


def _list_index(node: list[Any], part: str, where: str, what: str) -> int:
    try:
        index = int(part)
    except ValueError:
        raise ConfigError(f"{what}: {where} is a list; {part!r} is not an index") from None
    if not -len(node) <= index < len(node):
        raise ConfigError(
            f"{what}: {where} has {len(node)} entries (0..{len(node) - 1}), no index {index}"
        )
    return index


def _expand_student_defaults(data: dict[str, Any]) -> None:
    """Overrides like ``training.students.0.x`` need the default list to exist first."""
    training = data.setdefault("training", {})
    if "students" not in training:
        training["students"] = [s.model_dump() for s in TrainingConfig().students]


def load_config(
    source: str | Path | None = None,
    overrides: list[str] | None = None,
    *,
    section_only: bool = False,
) -> RunConfig:
    """Load a YAML file or shipped config name (``None``: all defaults) and apply overrides."""
    data, label = ({}, "<defaults>") if source is None else _read_yaml(source)
    if overrides:
        if any(o.startswith("training.students.") for o in overrides):
            _expand_student_defaults(data)
        data = apply_overrides(data, overrides)
    try:
        return RunConfig.model_validate(data, context={SECTION_ONLY: section_only})
    except ValidationError as exc:
        where = _override_of(exc, overrides or []) or label
        raise ConfigError(f"{where}: {describe_validation_error(exc)}") from exc


def _override_of(exc: ValidationError, overrides: list[str]) -> str | None:
    """``--set KEY=VALUE`` when the first invalid field was set by that override: the user
    reads what to change, not the file (or the defaults) it was applied to."""
    field = ".".join(str(p) for p in exc.errors()[0]["loc"])
    for item in reversed(overrides):  # the last override of a key is the one that counts
        if item.partition("=")[0] == field:
            return f"--set {item}"
    return None


def describe_validation_error(exc: ValidationError) -> str:
    """Every problem of a pydantic error on one line, each led by its dotted field."""
    problems = []
    for err in exc.errors():
        parts = [str(p) for p in err["loc"]]
        message = err["msg"].removeprefix("Value error, ")
        # A model's own check names the field it is about first ("sources: ..."): join it
        # to the model's path, so every line leads with one dotted field.
        named = _FIELD_FIRST.match(message)
        if named:
            parts.append(named.group(1))
            message = message[named.end() :]
        where = ".".join(parts)
        problems.append(f"{where}: {message}" if where else message)
    return "; ".join(problems)


_FIELD_FIRST = re.compile(r"([A-Za-z_][\w.]*): ")


def load_section(
    source: str | Path | None,
    section: str,
    overrides: list[str] | None = None,
    values: dict[str, Any] | None = None,
) -> Any:
    """One section of a config (``labeling``, ``teacher``, ``training.students.1``...), for
    a command that runs one stage on its own.

    ``overrides`` are relative to the section (``prerank.top_k=5``; a leading
    ``SECTION.`` is accepted too); ``values`` (a command's flags; ``None`` = not given)
    are set on top. Errors are :class:`ConfigError` naming the full dotted field.
    """
    prefix = f"{section}."
    full = [f"{prefix}{o.removeprefix(prefix)}" for o in overrides or []]
    for key, value in (values or {}).items():
        if value is not None:
            full.append(f"{prefix}{key}={json.dumps(value)}")
    node: Any = load_config(source, full, section_only=True)
    parts = section.split(".")
    for depth, part in enumerate(parts):
        if isinstance(node, list):
            node = node[_list_index(node, part, ".".join(parts[:depth]), f"section {section!r}")]
        else:
            node = getattr(node, part)
    return node


def dump_config(config: RunConfig) -> str:
    """The fully resolved config as YAML (every default spelled out)."""
    return yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False)


def save_config(config: RunConfig, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dump_config(config), encoding="utf-8")
    return path
