"""report.html in a real headless browser (Debian's Chromium): it renders, plots included,
and escaped names stay text (the parsed DOM has no script element).

Chromium is installed by a session fixture when missing and we are root; otherwise the
tests skip with a message saying so.
"""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from rankdistill.evaluation.metrics import evaluate_run
from rankdistill.evaluation.run_report import ReportInputs
from tests.evaluation.test_run_report import (
    METRICS,
    ReportCase,
    build_case,
    make_collection,
    make_inputs,
)

CHROMIUM = Path("/usr/bin/chromium")
WINDOW = (1280, 2400)
# matplotlib's first two default colours (tab:blue, tab:orange): the report's CSS uses
# only greys, so pixels of these colours can only come from rendered plots.
PLOT_COLOURS = {"tab:blue": (31, 119, 180), "tab:orange": (255, 127, 14)}


@pytest.fixture(scope="session")
def chromium() -> Path:
    """Debian's Chromium, installed with apt-get when absent and we are root."""
    if not CHROMIUM.exists() and os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        for command in (["apt-get", "update"], ["apt-get", "install", "-y", "chromium"]):
            subprocess.run(command, env=env, capture_output=True, timeout=900, check=False)
    if not CHROMIUM.exists():
        pytest.skip(
            f"Chromium not found at {CHROMIUM} and it could not be installed "
            "(needs root and apt-get with network access: apt-get install -y chromium)"
        )
    return CHROMIUM


def run_chromium(binary: Path, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [
        str(binary),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        *args,
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=180, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    return result


class TagCollector(HTMLParser):
    """Start tags of a parsed DOM dump, with their attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def dom_of(binary: Path, profile: Path, page: Path) -> TagCollector:
    dom = run_chromium(binary, profile, "--dump-dom", page.resolve().as_uri()).stdout
    collector = TagCollector()
    collector.feed(dom)
    return collector


@pytest.fixture(scope="module")
def full(tmp_path_factory: pytest.TempPathFactory) -> ReportCase:
    return build_case(tmp_path_factory.mktemp("run_report_browser"), make_inputs())


def test_report_renders_with_plots_in_headless_chromium(
    chromium: Path, full: ReportCase, tmp_path: Path
) -> None:
    shot = tmp_path / "report.png"
    run_chromium(
        chromium,
        tmp_path / "profile",
        f"--screenshot={shot}",
        f"--window-size={WINDOW[0]},{WINDOW[1]}",
        full.paths.html.resolve().as_uri(),
    )
    assert shot.is_file() and shot.stat().st_size > 20_000
    with Image.open(shot) as image:
        assert image.size == WINDOW
        pixels = np.asarray(image.convert("RGB"), dtype=np.int32)
    non_white = np.any(pixels < 245, axis=2).mean()
    packed = (pixels[..., 0] << 16) | (pixels[..., 1] << 8) | pixels[..., 2]
    distinct = len(np.unique(packed))
    assert non_white > 0.05, f"the page looks blank ({non_white:.3f} non-white)"
    assert distinct > 100, f"only {distinct} colours: text and plots did not render"
    for name, rgb in PLOT_COLOURS.items():
        close = np.all(np.abs(pixels - np.array(rgb)) <= 12, axis=2).sum()
        assert close > 2000, f"{name} bars missing from the screenshot ({close} pixels)"

    dom = dom_of(chromium, tmp_path / "profile", full.paths.html)
    images = [attrs for tag, attrs in dom.tags if tag == "img"]
    assert len(images) == len(full.paths.figures) == 4
    prefix = "data:image/png;base64,"
    decoded = []
    for attrs in images:
        src = attrs.get("src") or ""
        assert src.startswith(prefix) and attrs.get("alt")
        decoded.append(base64.b64decode(src[len(prefix) :]))
    assert sorted(decoded) == sorted(p.read_bytes() for p in full.paths.figures)
    assert not [t for t, _ in dom.tags if t in ("script", "link", "iframe")]
    assert "rankdistill run: demo" in "".join(dom.text)


def test_escaped_names_stay_text_in_the_browser(chromium: Path, tmp_path: Path) -> None:
    evil = '<script>document.title="pwned"</script><img src=x onerror=alert(1)>'
    qrels, runs, _, _ = make_collection(seed=2)
    runs = {"first-stage": runs["first-stage"], evil: runs["teacher"]}
    results = {name: evaluate_run(run, qrels, METRICS) for name, run in runs.items()}
    inputs = ReportInputs(
        title=f"report {evil}", results=results, baseline="first-stage", notes=[evil]
    )
    case = build_case(tmp_path / "report", inputs)
    dom = dom_of(chromium, tmp_path / "profile", case.paths.html)
    assert [t for t, _ in dom.tags if t in ("script", "img")] == []
    text = "".join(dom.text)
    assert text.count(evil) >= 3  # title, metrics rows, the note: shown as text
