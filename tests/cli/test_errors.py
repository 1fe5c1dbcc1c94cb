"""A user's mistake prints one line naming the file, line or field, and exits 2.

Every case goes through the ``rankdistill`` command itself (``CliRunner`` on the app, or
the installed entry in a subprocess where a server has to be reached).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rankdistill.cli.main import app
from rankdistill.scoring_windows import MIN_WINDOW_TOKENS

ROOT = Path(__file__).resolve().parents[2]


def _error_line(stderr: str) -> str:
    """The single ``error:`` line of stderr (the last; progress bars may come before it),
    with no traceback around it."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    assert "Traceback" not in stderr, stderr[-3000:]
    errors = [line for line in lines if line.startswith("error:")]
    assert len(errors) == 1, stderr[-3000:]
    assert lines[-1] == errors[0], stderr[-3000:]
    return errors[0]


def _invoke(args: list[str], **kwargs) -> tuple[int, str]:
    result = CliRunner().invoke(app, args, **kwargs)
    return result.exit_code, result.stderr


def _write_qrels(path: Path) -> Path:
    path.write_text("q1 0 d1 2\nq1 0 d2 0\n", encoding="utf-8")
    return path


def test_evaluate_malformed_trec_line_names_file_and_line(tmp_path: Path) -> None:
    run = tmp_path / "run.trec"
    run.write_text("q1 Q0 d1 1 2.5 tag\nq1 Q0 d2 two 1.0 tag\n", encoding="utf-8")
    qrels = _write_qrels(tmp_path / "qrels.txt")
    code, stderr = _invoke(["evaluate", str(run), "--qrels", str(qrels), "-o", str(tmp_path)])
    line = _error_line(stderr)
    assert code == 2
    assert f"{run}:2" in line and "rank" in line


def test_evaluate_missing_qrels_file_is_one_line_exit_2(tmp_path: Path) -> None:
    run = tmp_path / "run.trec"
    run.write_text("q1 Q0 d1 1 2.5 tag\n", encoding="utf-8")
    missing = tmp_path / "no-qrels.txt"
    code, stderr = _invoke(["evaluate", str(run), "--qrels", str(missing), "-o", str(tmp_path)])
    assert code == 2
    assert str(missing) in _error_line(stderr)
    # A missing run file is the same kind of mistake: the same exit code.
    qrels = _write_qrels(tmp_path / "qrels.txt")
    code, stderr = _invoke(
        ["evaluate", str(tmp_path / "no-run.trec"), "--qrels", str(qrels), "-o", str(tmp_path)]
    )
    assert code == 2 and "no-run.trec" in _error_line(stderr)


def test_evaluate_truncated_json_names_file_and_line(tmp_path: Path) -> None:
    run = tmp_path / "run.trec"
    run.write_text("q1 Q0 d1 1 2.5 tag\n", encoding="utf-8")
    qrels = tmp_path / "qrels.json"
    qrels.write_text('{"q1": {"d1": "2",\n "d2": ', encoding="utf-8")
    code, stderr = _invoke(["evaluate", str(run), "--qrels", str(qrels), "-o", str(tmp_path)])
    line = _error_line(stderr)
    assert code == 2
    assert f"{qrels}:2" in line and "JSON" in line


def test_run_with_a_missing_data_file_names_it(tmp_path: Path) -> None:
    missing = tmp_path / "train-bm25.json"
    config = tmp_path / "mine.yaml"
    config.write_text(
        "name: mine\n"
        f"output_dir: {tmp_path / 'run'}\n"
        f"data:\n  train: {{format: rankllm, candidates: [{missing}]}}\n"
        "  dev: {format: builtin, split: dev}\n",
        encoding="utf-8",
    )
    code, stderr = _invoke(["run", str(config), "--until", "load"])
    assert code == 2
    assert str(missing) in _error_line(stderr)


def test_set_past_the_end_of_the_student_list_names_the_key(tmp_path: Path) -> None:
    code, stderr = _invoke(
        ["run", "demo", "--set", "training.students.5.loss=x", "-o", str(tmp_path)]
    )
    line = _error_line(stderr)
    assert code == 2
    assert "training.students.5.loss=x" in line and "no index 5" in line


def test_debug_shows_the_traceback_instead(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["--debug", "run", "demo", "--set", "training.students.5.loss=x"]
    )
    assert result.exit_code != 2 and result.exception is not None
    assert "no index 5" in str(result.exception)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    code = "import sys; from rankdistill.cli.main import app; sys.argv[0] = 'rankdistill'; app()"
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1", **env},
        cwd=ROOT,
        timeout=300,
    )


def test_label_with_the_backend_server_down_is_one_line(tmp_path: Path) -> None:
    from rankdistill.data.builtin import builtin_dataset
    from rankdistill.data.rankllm import write_rankllm

    data = builtin_dataset("dev")
    qid = next(iter(data.queries))
    data = data.subset([qid])
    candidates = {qid: {docid: -float(i) for i, docid in enumerate(list(data.corpus)[:4])}}
    path = write_rankllm(data, candidates, tmp_path / "data.json")
    port = _free_port()  # nothing listens there
    done = _cli(
        [
            "label",
            "--data",
            str(path),
            "--out",
            str(tmp_path / "labels"),
            "--method",
            "pointwise-graded",
            "--backend",
            "openai",
            "--model",
            "some-model",
            "--set",
            f"backend.base_url=http://127.0.0.1:{port}/v1",
            "--set",
            "backend.max_retries=0",
            "--set",
            "backend.timeout_s=2",
            "--set",
            "prerank.scorer=first-stage",
            "--no-progress",
        ],
        {},
    )
    line = _error_line(done.stderr)
    assert done.returncode == 2
    assert f"127.0.0.1:{port}" in line


@pytest.fixture(scope="module")
def student(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.fixtures.students import build_cross_encoder_dir, build_once

    return build_once(
        tmp_path_factory.getbasetemp() / "cli-error-models" / "cross-encoder",
        build_cross_encoder_dir,
    )


def test_serve_with_an_unset_api_key_variable_is_one_line(student: Path) -> None:
    variable = "RANKDISTILL_TEST_KEY_THAT_IS_NOT_SET"
    env = {k: v for k, v in os.environ.items() if k != variable}
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from rankdistill.cli.main import app; sys.argv[0] = 'rankdistill'; app()",
            "serve",
            str(student),
            "--backend",
            "torch",
            "--port",
            str(_free_port()),
            "--api-key-env",
            variable,
        ],
        capture_output=True,
        text=True,
        env={**env, "HF_HUB_OFFLINE": "1"},
        cwd=ROOT,
        timeout=300,
    )
    line = _error_line(done.stderr)
    assert done.returncode == 2
    assert variable in line and "api_key_env" in line


NOT_AN_INT = "Input should be a valid integer, unable to parse string as an integer"


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            ["label", "--set", "prerank.top_k=abc"],
            f"error: --set labeling.prerank.top_k=abc: labeling.prerank.top_k: {NOT_AN_INT}",
        ),
        (
            ["label", "--set", "labeling.top_k=5"],
            "error: --set labeling.top_k=5: labeling.top_k: Extra inputs are not permitted",
        ),
        (
            ["train", "--labels", "x.jsonl", "--set", "group_size=abc"],
            "error: --set training.students.0.group_size=abc: "
            f"training.students.0.group_size: {NOT_AN_INT}",
        ),
        (
            ["teacher", "sft", "--set", "sft.margin=abc"],
            "error: --set teacher.sft.margin=abc: teacher.sft.margin: "
            "Input should be a valid number, unable to parse string as a number",
        ),
        (
            ["generate", "crop:x", "--set", "per_passage=abc"],
            f"error: --set generation.per_passage=abc: generation: per_passage: {NOT_AN_INT}",
        ),
    ],
)
def test_a_bad_set_override_names_it_and_the_field(
    tmp_path: Path, args: list[str], expected: str
) -> None:
    data = tmp_path / "data.json"
    data.write_text("[]", encoding="utf-8")
    extra = ["--data", str(data)] if args[0] == "label" else []
    code, stderr = _invoke([*args, *extra, "--out", str(tmp_path / "out")])
    assert code == 2
    assert _error_line(stderr) == expected
    assert "pydantic" not in stderr and "http" not in stderr  # no raw pydantic text or link


def test_a_bad_yaml_config_names_the_file_and_the_field(tmp_path: Path) -> None:
    config = tmp_path / "mine.yaml"
    config.write_text("labeling:\n  prerank:\n    top_k: abc\n", encoding="utf-8")
    data = tmp_path / "data.json"
    data.write_text("[]", encoding="utf-8")
    code, stderr = _invoke(
        ["label", "--config", str(config), "--data", str(data), "--out", str(tmp_path / "o")]
    )
    assert code == 2
    assert _error_line(stderr) == f"error: {config}: labeling.prerank.top_k: {NOT_AN_INT}"


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            ["--window-tokens", "4"],
            f"error: --window-tokens: Input should be greater than or equal to {MIN_WINDOW_TOKENS}",
        ),
        (["--backend", "tf"], "error: --backend: choose one of torch, onnx, onnx-int8"),
        (["--max-documents", "0", "--port", "x"], None),  # typer's own check of an integer
    ],
)
def test_a_bad_serve_option_is_one_line(
    tmp_path: Path, args: list[str], expected: str | None
) -> None:
    code, stderr = _invoke(["serve", str(tmp_path), *args])
    assert code == 2
    if expected is not None:
        assert _error_line(stderr) == expected
    else:
        assert "--port" in stderr and "Traceback" not in stderr
