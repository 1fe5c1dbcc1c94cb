"""The `rankdistill export` and `rankdistill serve` commands, run for real."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
from typer.testing import CliRunner

from rankdistill.cli.main import app
from rankdistill.serving.engine import Reranker
from tests.fixtures.students import DOCUMENTS, QUERIES, build_cross_encoder_dir, build_once


@pytest.fixture(scope="module")
def student(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_once(
        tmp_path_factory.getbasetemp() / "serving-models" / "cross-encoder",
        build_cross_encoder_dir,
    )


def test_help_lists_every_option() -> None:
    runner = CliRunner()
    serve_help = runner.invoke(app, ["serve", "--help"], terminal_width=200).output
    for option in (
        "--host",
        "--port",
        "--backend",
        "--api-key-env",
        "--max-documents",
        "--max-batch-pairs",
        "--batch-wait-ms",
        "--threads",
        "--max-length",
        "--raw-scores",
        "--aggregation",
        "--window-tokens",
        "--stride-tokens",
        "--max-tokens-per-doc",
    ):
        assert option in serve_help
    # Defaults come from ServeConfig (the flags themselves default to "not given").
    words = " ".join(serve_help.replace("│", " ").split())  # the help box wraps lines
    assert "(default: onnx-int8)" in words and "(default: max)" in words
    assert "--format" in runner.invoke(app, ["export", "--help"], terminal_width=200).output


@pytest.mark.parametrize(
    ("option", "value", "fragment"),
    [
        ("--aggregation", "median", "max, first, mean"),
        ("--window-tokens", "4", "--window-tokens"),
        ("--backend", "tensorflow", "torch, onnx"),
    ],
)
def test_serve_refuses_bad_options_in_one_line(
    student: Path, option: str, value: str, fragment: str
) -> None:
    result = CliRunner().invoke(app, ["serve", str(student), option, value])
    assert result.exit_code == 2, result.output
    assert fragment in result.output and "Traceback" not in result.output


def test_export_command_writes_servable_folders(student: Path, tmp_path: Path) -> None:
    from sentence_transformers import CrossEncoder

    result = CliRunner().invoke(
        app,
        [
            "export",
            str(student),
            "--out",
            str(tmp_path),
            "--format",
            "onnx-int8",
            "--format",
            "sentence-transformers",
        ],
    )
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "onnx-int8" / "rankdistill.json").read_text())
    assert manifest["backend"] == "onnx-int8"
    assert not (tmp_path / "onnx").exists()
    # Reranker.load finds OUT/<backend>/ when pointed at a folder holding the exports.
    int8 = Reranker.load(tmp_path / "onnx-int8", backend="onnx-int8")
    st = CrossEncoder(str(tmp_path / "sentence-transformers"), device="cpu")
    ours = np.array(int8.score(QUERIES[0], DOCUMENTS[:4]))
    theirs = np.asarray(st.predict([(QUERIES[0], d) for d in DOCUMENTS[:4]])).reshape(-1)
    assert np.abs(1 / (1 + np.exp(-ours)) - theirs).max() < 0.05  # sigmoid; int8 tolerance
    bad = CliRunner().invoke(
        app, ["export", str(student), "--out", str(tmp_path), "--format", "tflite"]
    )
    assert bad.exit_code != 0 and "tflite" in bad.output


def test_serve_command_answers_and_stops_cleanly_on_sigint(student: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "RD_TEST_KEY": "k"}
    cmd = [
        sys.executable,
        "-c",
        "from rankdistill.cli.main import app; app()",
        "serve",
        str(student),
        "--port",
        str(port),
        "--backend",
        "torch",
        "--threads",
        "1",
        "--api-key-env",
        "RD_TEST_KEY",
    ]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "serve did not come up"
            time.sleep(0.25)
        response = httpx.post(
            f"{url}/rerank",
            headers={"X-API-Key": "k"},
            timeout=60,
            json={"query": QUERIES[0], "documents": DOCUMENTS[:3]},
        )
        assert response.status_code == 200
        assert sorted(r["index"] for r in response.json()["results"]) == [0, 1, 2]
        proc.send_signal(signal.SIGINT)
        # uvicorn drains, then re-raises the captured SIGINT: 130 is the conventional code.
        assert proc.wait(timeout=60) in (0, 130)
        log = proc.stdout.read().decode() if proc.stdout else ""
        assert "Finished server process" in log and "Traceback" not in log
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_serve_takes_its_defaults_from_a_run_configs_serve_section(tmp_path: Path) -> None:
    from rankdistill.cli.serve import _OPTIONS, serve_config

    config = tmp_path / "run.yaml"
    config.write_text(
        "serve:\n  port: 9191\n  backend: onnx\n  windows: {aggregation: mean}\n",
        encoding="utf-8",
    )
    unset = {name: None for name, _, _ in _OPTIONS}
    cfg = serve_config(**{**unset, "config": str(config), "host": "0.0.0.0"})["cfg"]
    assert (cfg.port, cfg.backend, cfg.host) == (9191, "onnx", "0.0.0.0")
    assert cfg.windows.aggregation == "mean"
    # An option given on the command line wins over the config.
    cfg = serve_config(**{**unset, "config": str(config), "port": 7000, "aggregation": "first"})[
        "cfg"
    ]
    assert (cfg.port, cfg.backend, cfg.windows.aggregation) == (7000, "onnx", "first")
    # Without a config, ServeConfig's own defaults.
    assert serve_config(**unset)["cfg"].port == 8080

    result = CliRunner().invoke(app, ["serve", str(tmp_path), "--config", str(tmp_path / "no")])
    assert result.exit_code == 2 and "Traceback" not in result.output
