#!/usr/bin/env bash
# Every test: builds everything, then runs the lit tests and the unit tests
# through ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
build_dir=${DGC_BUILD_DIR:-build}
start=$(date +%s)
# Says what is done and how long it took since the last phase.
phase() {
  local now
  now=$(date +%s)
  echo "test.sh: $1 ($((now - start)) s)"
  start=$now
}
ninja -C "$build_dir"
phase "built"
# The runtime as its own project, which must not need MLIR or LLVM; then its
# installed package, used by an embedder the way the docs say. The server is
# left out here: the build above compiled it from the same files, and it is a
# third of this build's time.
runtime_dir="${build_dir}-runtime"
cmake -G Ninja -S runtime -B "$runtime_dir" -DDGC_RUNTIME_SERVE=OFF >/dev/null
ninja -C "$runtime_dir" >/dev/null
prefix=$(realpath -m "$runtime_dir/prefix")
rm -rf "$prefix" "$runtime_dir/consumer"
cmake --install "$runtime_dir" --prefix "$prefix" >/dev/null
cmake -G Ninja -S test/runtime-package -B "$runtime_dir/consumer" \
  -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
ninja -C "$runtime_dir/consumer" >/dev/null
"$runtime_dir/consumer/consumer"
phase "the runtime builds alone, and its installed package links"
# A short fuzzing run of the parsers of untrusted files and of dgc-run's
# command line, under ASan+UBSan.
scripts/fuzz.sh 10
phase "fuzzers built and run"
ctest --test-dir "$build_dir" --output-on-failure -j "$(nproc)"
phase "tests ran"
