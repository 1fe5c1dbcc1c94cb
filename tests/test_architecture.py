"""The import graph follows the pipeline: a stage imports only the stages it consumes.

``pipeline`` composes the stages into ``rankdistill run`` and may import every stage
package and ``config``, but not ``cli``; ``cli`` is the thin command layer on top and may
import anything. Shared top-level modules (``resources``, ``scoring``,
``scoring_windows``, ``registry``, ``quiet``, ``utils``) are open to every stage;
``config`` (the composed RunConfig) is for ``pipeline`` and ``cli`` only, so stages stay
reusable on their own.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "rankdistill"
SHARED = {"resources", "scoring", "scoring_windows", "registry", "quiet", "utils", "__init__"}

ALLOWED: dict[str, set[str]] = {
    "data": set(),
    "retrieval": {"data"},
    "evaluation": {"data"},
    "losses": set(),
    "labeling": {"data", "retrieval"},
    "generation": {"data", "retrieval", "labeling"},
    "students": {"data", "losses"},
    "teachers": {"data", "labeling", "losses", "students", "training"},
    "training": {"data", "students", "losses"},
    "serving": {"data", "students"},
}
# The pipeline composes every package (and the run config), never the command layer.
ALLOWED["pipeline"] = {
    p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file() and p.name != "cli"
} | {"config"}


def _rankdistill_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        for name in names:
            parts = name.split(".")
            if parts[0] == "rankdistill" and len(parts) > 1:
                found.add(parts[1])
    return found


@pytest.mark.parametrize("stage", sorted(ALLOWED))
def test_stage_imports_only_earlier_stages(stage: str) -> None:
    bad: list[str] = []
    for path in sorted((PACKAGE / stage).rglob("*.py")):
        for imported in _rankdistill_imports(path) - SHARED - {stage}:
            if imported not in ALLOWED[stage]:
                bad.append(f"{path.relative_to(PACKAGE)} imports rankdistill.{imported}")
    assert not bad, "stage boundary crossed:\n" + "\n".join(bad)


def test_every_stage_folder_exists() -> None:
    for stage in [*ALLOWED, "cli"]:
        assert (PACKAGE / stage / "__init__.py").is_file(), stage
