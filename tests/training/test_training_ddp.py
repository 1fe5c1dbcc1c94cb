"""Two CPU processes (torchrun, gloo) train one student with DDP and end identical."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.ddp_worker import make_tiny_bert

WORKER = Path(__file__).resolve().parents[1] / "ddp_worker.py"
REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_two_process_ddp_ends_with_identical_weights(tmp_path: Path) -> None:
    backbone = make_tiny_bert(tmp_path / "tiny-bert")
    out = tmp_path / "out"
    out.mkdir()
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "HF_HUB_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
    }
    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
        str(WORKER), backbone, str(out),
    ]  # fmt: skip
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-5000:]

    reports = [json.loads((out / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert [r["world_size"] for r in reports] == [2, 2]
    # One epoch (2 steps x 1 group per rank): the ranks trained on different queries ...
    assert reports[0]["seen"] and reports[1]["seen"]
    assert set(reports[0]["seen"]).isdisjoint(reports[1]["seen"])
    # ... and still end with the same weights, which moved: gradients were all-reduced.
    assert reports[0]["final"] == reports[1]["final"]
    assert reports[0]["final"] != reports[0]["initial"]
    # Dev evaluation ran on rank 0 only (steps 1 and 2); both ranks got its metrics.
    assert [r["dev_calls"] for r in reports] == [2, 0]
    assert reports[0]["metrics"] == reports[1]["metrics"] != {}
    assert (out / "run" / "model" / "rankdistill.json").is_file()
