#!/usr/bin/env bash
# Builds everything scripts/gpu-check.sh needs into one archive, here, for a
# GPU machine that has no LLVM/MLIR: the runtime and tools, the tiny modules
# of the end-to-end tests (host, fused, cuda, bf16), and the 26B-A4B
# decoder compiled for cuda (fused; about 4 minutes on 2 cores).
#
#   scripts/gpu-prepare.sh            writes build/gpu-check.tar.xz (a few MB)
#
# Then, on the GPU machine, from the repository root (with the archive at
# the same path; the device tool's carry: build/gpu-check.tar.xz):
#
#   scripts/gpu-check.sh
set -euo pipefail
cd "$(dirname "$0")/.."
build=${DGC_BUILD_DIR:-build}
scripts/setup.sh >/dev/null
ninja -C "$build" >/dev/null
big="$build/gpu/diffusiongemma-26b-a4b-decoder.dgm"
if [ ! -f "$big/manifest.json" ] || [ "$big/manifest.json" -ot "$build/bin/dgc" ]; then
  mkdir -p "$build/gpu"
  "$build/bin/dgc" compile configs/diffusiongemma-26b-a4b/config.json --fuse \
    --graphs=decoder --target cuda -o "$big"
fi
# Kernels travel inside cuda.so; the ptx/ copies are for ptxas-check.sh.
tar -cJf "$build/gpu-check.tar.xz" --exclude='*.dgm/ptx' \
  "$build/bin" "$build/lib"/*.so "$build"/test/e2e/*.dgm "$big"
echo "gpu-prepare: wrote $build/gpu-check.tar.xz ($(du -h "$build/gpu-check.tar.xz" | cut -f1))"
