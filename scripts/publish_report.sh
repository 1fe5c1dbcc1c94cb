#!/usr/bin/env bash
# Copy a run's report into docs/: publish_report.sh RUN_DIR NAME -> docs/NAME.md + docs/NAME/*.png
set -euo pipefail
run_dir="$1"; name="$2"
cd "$(dirname "$0")/.."
rm -rf "docs/$name"; mkdir -p "docs/$name"
cp "$run_dir"/figures/*.png "docs/$name/"
sed "s#(figures/#($name/#g" "$run_dir/report.md" > "docs/$name.md"
echo "docs/$name.md"
