#!/usr/bin/env bash
# Every test: builds everything, then runs the lit tests and the unit tests
# through ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
build_dir=${DGC_BUILD_DIR:-build}
start=$(date +%s)
ninja -C "$build_dir"
built=$(date +%s)
ctest --test-dir "$build_dir" --output-on-failure -j "$(nproc)"
echo "test.sh: build $((built - start)) s, tests $(($(date +%s) - built)) s"
