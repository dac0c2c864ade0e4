#!/usr/bin/env bash
# Builds everything scripts/gpu-check.sh needs into one archive, here, for a
# GPU machine that has no LLVM/MLIR: the runtime and tools, the tiny modules
# of the end-to-end tests (host, fused, cuda, bf16), the 26B-A4B decoder
# compiled for cuda as dgc compile does by default (fused; about 3 minutes
# on 2 cores), and its fused
# kernels one by one (bench/fused_kernels.py) for cuda and the host.
#
#   scripts/gpu-prepare.sh            writes build/gpu-check.tar.xz (a few MB)
#
# Then, on the GPU machine, from the repository root (with the archive at
# the same path; the device tool's carry: build/gpu-check.tar.xz):
#
#   scripts/gpu-check.sh quick            (then perf; see its --help)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${DGC_BUILD_DIR:-build}
scripts/setup.sh >/dev/null
ninja -C "$build" >/dev/null
big="$build/gpu/diffusiongemma-26b-a4b-decoder.dgm"
if [ ! -f "$big/manifest.json" ] || [ "$big/manifest.json" -ot "$build/bin/dgc" ]; then
  mkdir -p "$build/gpu"
  "$build/bin/dgc" compile configs/diffusiongemma-26b-a4b/config.json \
    --graphs=decoder --target cuda -o "$big"
fi
# The fused kernels one by one: at the model's canvas of 256 rows for cuda
# (timed against PyTorch), and at 16 rows for cuda and the host (compared).
kernels="$build/gpu/diffusiongemma-26b-a4b-kernels"
for rows in 256 16; do
  name=$kernels$([ $rows = 256 ] || echo "-$rows")
  targets=$([ $rows = 256 ] && echo cuda || echo all)
  if [ ! -f "$name.dgm/manifest.json" ] || [ "$name.dgm/manifest.json" -ot "$build/bin/dgc" ] ||
    [ "$name.dgm/manifest.json" -ot bench/fused_kernels.py ]; then
    python3 bench/fused_kernels.py module configs/diffusiongemma-26b-a4b/config.json \
      --rows $rows >"$name.mlir"
    # Host code that runs on the GPU machine's CPU, not this one's.
    "$build/bin/dgc" compile "$name.mlir" --target $targets --cpu x86-64-v3 \
      -o "$name.dgm"
  fi
done
# The same kernels at 256 rows with other settings, which the perf phase
# times against the defaults: every GEMM on the 128 x 64 tile (by default
# only the LM head's), rings of four tiles instead of three, expert tiles
# of 32 rows instead of 16 (half the tiles, so each expert's weights are
# streamed about half as often, for more padding rows), and the sampler's
# top-64 over f32 logits (the LM head then writes them) instead of among
# 128 bf16 candidates.
for variant in "wide:--gemm-wide-columns 1" "stages4:--gemm-stages 4" \
  "rows32:--moe-group-rows 32" "exact:--sample-candidates 0"; do
  name=$kernels-${variant%%:*}
  if [ ! -f "$name.dgm/manifest.json" ] ||
    [ "$name.dgm/manifest.json" -ot "$kernels.dgm/manifest.json" ]; then
    # shellcheck disable=SC2086 # the flags are words
    "$build/bin/dgc" compile "$kernels.mlir" --target cuda ${variant#*:} -o "$name.dgm"
  fi
done
# The libraries beyond the C and C++ runtimes travel too; dgc and dgc-opt,
# which need LLVM, stay here.
python3 scripts/gpu-archive.py carry "$build"
python3 scripts/gpu-archive.py check "$build" >/dev/null ||
  { python3 scripts/gpu-archive.py check "$build"; exit 1; }
# Kernels travel inside cuda.so; the ptx/ copies are for ptxas-check.sh.
mapfile -t files < <(python3 scripts/gpu-archive.py list "$build")
tar -cJf "$build/gpu-check.tar.xz" --exclude='*.dgm/ptx' "${files[@]}"
# This tree already holds what the archive does: gpu-check.sh here must not
# unpack it over newer builds.
sha256sum "$build/gpu-check.tar.xz" | cut -d' ' -f1 >"$build/.gpu-check.sha256"
echo "gpu-prepare: wrote $build/gpu-check.tar.xz ($(du -h "$build/gpu-check.tar.xz" | cut -f1))"
