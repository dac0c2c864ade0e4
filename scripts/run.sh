#!/usr/bin/env bash
# The main job on the bundled default: build dgc, then import the bundled
# tiny config and the 26B-A4B config and print a summary of their graphs.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
build_dir=${DGC_BUILD_DIR:-build}
ninja -C "$build_dir" dgc dgc-opt
"$build_dir/bin/dgc" summary configs/tiny/config.json \
  configs/diffusiongemma-26b-a4b/config.json
