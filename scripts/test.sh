#!/usr/bin/env bash
# Every test: builds everything, then runs the lit tests and the unit tests
# through ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
build_dir=${DGC_BUILD_DIR:-build}
start=$(date +%s)
ninja -C "$build_dir"
echo "test.sh: built in $(($(date +%s) - start)) s"
# A short fuzzing run of the parsers of untrusted files and of dgc-run's
# command line, under ASan+UBSan.
scripts/fuzz.sh 10
ctest --test-dir "$build_dir" --output-on-failure -j "$(nproc)"
