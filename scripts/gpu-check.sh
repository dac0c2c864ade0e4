#!/usr/bin/env bash
# One command for a machine with an NVIDIA GPU (H100/H200), run from the
# repository root. That machine has no LLVM/MLIR: build here first with
# scripts/gpu-prepare.sh, which packs the runtime, the tools, the tiny
# modules, the 26B-A4B decoder module and its fused kernels one by one
# into build/gpu-check.tar.xz; carry
# that one file (the device tool's carry), and this script unpacks it.
# Prints a table; finishes in about 7 minutes. Steps:
#   1. the runtime's cuda device: driver, JIT of a hand-written PTX kernel;
#   2. every graph of the tiny model on cuda against the host module, on
#      random inputs, in f32 and in bf16 (where the contractions run on
#      tensor cores) (test/e2e/CudaTest.cpp);
#   3. the tiny model end-to-end on cuda against the transformers fixtures,
#      and whole generations replayed against transformers' recorded
#      decisions (the e2e tests with DGC_TEST_CUDA_MODULE);
#   4. dgc-run --device cuda on the tiny model: tokens/s, and whether its
#      steps replayed recorded CUDA graphs;
#   5. dgc's 26B-A4B denoise step at a 4096-token context (random K/V),
#      batch 1 and 4, random bf16 weights (dgc-bench --device cuda):
#      milliseconds, % of the HBM bandwidth floor, and the ratio against
#      each peer row of step 7 (bench/gpu_step_rows.py); then again with
#      each step replayed as a recorded CUDA graph (--cuda-graph);
#   6. each fused kernel at the 26B-A4B shapes (bench/kernels.py: the
#      q projection, a projection wide enough for the LM head's 128 x 64
#      tile, attention of each mask kind and head dimension, the
#      MoE block, the sampling head, the self-conditioning embedding) on
#      random operands: on cuda against the host target, then against its
#      PyTorch peer (transformers' router and experts, SDPA, ...) on the
#      same operands, with both times (dgc-kernel-check, bench/kernel_rows.py);
#      and the GEMM kernels again with every GEMM on the 128 x 64 tile
#      (dgc compile --gemm-wide-columns 1) and with rings of four tiles
#      (--gemm-stages 4), and the sampling head with its top-64 over f32
#      logits (--sample-candidates 0), timed against the defaults;
#   7. the peer: transformers' DiffusionGemma 26B-A4B shape, the same step
#      after a 4096-token prefill, eager and torch.compile
#      (bench/torch_gpu_step.py).
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD
build=${DGC_BUILD_DIR:-build}
if [ -f "$build/gpu-check.tar.xz" ] && [ ! -x "$build/bin/dgc-run" ]; then
  echo "== unpacking $build/gpu-check.tar.xz"
  tar -xJf "$build/gpu-check.tar.xz" || exit 1
fi
export LD_LIBRARY_PATH="$root/$build/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
# The tests were built elsewhere: their compiled-in paths move here.
from=$(strings "$build/bin/dgc-e2e-tests" | grep -m1 -o '/[^ ]*/test/fixtures/tiny$' |
  sed 's|/test/fixtures/tiny$||')
export DGC_RELOCATE_FROM="$from" DGC_RELOCATE_TO="$root"
cuda_module="$root/$build/test/e2e/tiny-cuda.dgm"
bf16_module="$root/$build/test/e2e/tiny-bf16.dgm"
out=$(mktemp -d)
rows=()
row() { # one table row; the detail on one line, without table bars
  rows+=("$(printf '| %-46s | %-8s | %s |' "$1" "$2" "$(printf '%s' "$3" | tr '\n|' '  ')")")
}

echo "== GPU"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
gpu=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1)

echo "== 1. runtime cuda device"
if "$build/bin/dgc-runtime-tests" --gtest_filter='Cuda*' >"$out/1.txt" 2>&1; then
  skipped=$(grep -c '^\[  SKIPPED' "$out/1.txt" || true)
  row "runtime cuda device (driver, PTX JIT, launch)" PASS "skipped: $skipped"
else
  row "runtime cuda device (driver, PTX JIT, launch)" FAIL "see below"
  tail -30 "$out/1.txt"
fi

echo "== 2-3. tiny model on cuda: vs host, vs transformers"
if DGC_TEST_CUDA_MODULE="$cuda_module" DGC_TEST_CUDA_BF16_MODULE="$bf16_module" \
  timeout 300 "$build/bin/dgc-e2e-tests" \
  --gtest_filter='CudaMatchesHost*:*/cuda' >"$out/2.txt" 2>&1; then
  row "graphs cuda vs host, random inputs" PASS \
    "$(grep 'cuda-vs-host' "$out/2.txt" | sed 's/.*\] //' | paste -sd ';' | cut -c1-200)"
  row "tiny model on cuda vs transformers fixtures" PASS \
    "$(grep -c 'OK \].*cuda' "$out/2.txt") tests; $(grep -m1 'numerics \] cuda' "$out/2.txt" | sed 's/.*\] //')"
else
  row "tiny model on cuda (vs host, vs fixtures)" FAIL "see below"
  grep -E 'Failure|Expected|Which is|error|FAILED|cuda-vs-host' "$out/2.txt" | head -40
  # Kernels are queued without waits; a wait after each names a faulting one.
  echo "-- again with DGC_CUDA_SYNC=1 (a wait after every launch):"
  DGC_CUDA_SYNC=1 DGC_TEST_CUDA_MODULE="$cuda_module" \
    DGC_TEST_CUDA_BF16_MODULE="$bf16_module" timeout 120 \
    "$build/bin/dgc-e2e-tests" --gtest_filter='CudaMatchesHost*:*/cuda' 2>&1 |
    grep -E "kernel '|FAILED" | head -10 || true
fi

echo "== 4. dgc-run --device cuda"
if "$build/bin/dgc-run" "$cuda_module" --device cuda --weights test/fixtures/tiny/checkpoint \
  --prompt-ids "2 10 20 30" --json --quiet >"$out/4.json" 2>"$out/4.err"; then
  row "dgc-run --device cuda (tiny, 2 canvases)" PASS \
    "$(python3 -c "import json;s=json.load(open('$out/4.json'))['stats'];print(f\"{s['tokens_per_forward']:.2f} tokens/forward, {s['tokens_per_second']:.1f} tokens/s\")")"
  # Its steps replay recorded CUDA graphs, or it warns and launches them.
  if grep -q 'warning: steps were launched' "$out/4.err"; then
    row "dgc-run steps replayed as CUDA graphs" FAIL "$(grep -m1 warning "$out/4.err" | cut -c1-200)"
  else
    row "dgc-run steps replayed as CUDA graphs" PASS "no fallback to launches"
  fi
else
  row "dgc-run --device cuda (tiny, 2 canvases)" FAIL "$(head -c 200 "$out/4.err")"
fi

# dgc first: the peer's torch.compile may take long.
echo "== 5. dgc 26B-A4B denoise step on cuda"
big="$build/gpu/diffusiongemma-26b-a4b-decoder.dgm"
# Each batch launched, then replayed as the CUDA graph its first steps
# record (--cuda-graph): two lines per batch.
timeout 270 "$build/bin/dgc-bench" "$big" --device cuda --random-weights \
  --context 4096 --batch 1,4 --runs 3 --cuda-graph >"$out/5.jsonl" 2>"$out/5.err" ||
  row "dgc 26B-A4B step (cuda)" FAIL "$(tail -c 300 "$out/5.err")"

echo "== 6. fused kernels at the 26B-A4B shapes: cuda vs host, vs PyTorch"
# At 16 rows the host checks each kernel in seconds; at the model's 256
# rows dgc is timed and PyTorch runs the same operands.
kernels="$build/gpu/diffusiongemma-26b-a4b-kernels"
mkdir -p "$out/6"
timeout 150 "$build/bin/dgc-kernel-check" "$kernels-16.dgm" --device cuda --compare host \
  --runs 1 >"$out/6/check.jsonl" 2>"$out/6/check.err"
[ $? -le 1 ] || # 1: a comparison failed, which its row says
  row "fused kernels, cuda vs host" FAIL "$(tail -c 300 "$out/6/check.err")"
timeout 90 "$build/bin/dgc-kernel-check" "$kernels.dgm" --device cuda --runs 10 \
  --out "$out/6" >"$out/6/dgc.jsonl" 2>"$out/6/dgc.err" ||
  row "fused kernels on cuda, timed" FAIL "$(tail -c 300 "$out/6/dgc.err")"
# The GEMMs with the LM head's 128 x 64 tile instead of 64 x 32, and with
# rings of four tiles: which the L2 traffic and the bytes in flight favour
# at 256 rows (the expert GEMMs keep their tile: a baseline for noise).
# The sampling head with its f32 logits written and read back: what the
# bf16 candidates save.
for variant in wide:gemm_q_proj,moe,soft_embedding \
  stages4:gemm_q_proj,moe,soft_embedding exact:sample; do
  name=${variant%%:*}
  timeout 60 "$build/bin/dgc-kernel-check" "$kernels-$name.dgm" --device cuda --runs 10 \
    --only "${variant#*:}" >"$out/6/$name.jsonl" 2>"$out/6/$name.err" ||
    row "kernel variant $name, timed" FAIL "$(tail -c 300 "$out/6/$name.err")"
done
timeout 150 python3 bench/kernels.py peer configs/diffusiongemma-26b-a4b "$out/6" --runs 10 \
  >"$out/6/peer.jsonl" 2>"$out/6/peer.err"
[ $? -le 1 ] || row "fused kernels' PyTorch peers" FAIL "$(tail -c 300 "$out/6/peer.err")"
while IFS='|' read -r label result detail; do
  row "$label" "$result" "$detail"
done < <(python3 bench/kernel_rows.py "$gpu" "$out/6/check.jsonl" "$out/6/dgc.jsonl" \
  "$out/6/peer.jsonl" "128 x 64 GEMM tiles=$out/6/wide.jsonl" \
  "GEMM rings of 4=$out/6/stages4.jsonl" "top-64 over f32 logits=$out/6/exact.jsonl")
rm -f "$out"/6/*.safetensors # gigabytes of operands

echo "== 7. peer: transformers 26B-A4B shape, one denoise step"
timeout 300 python3 bench/torch_gpu_step.py configs/diffusiongemma-26b-a4b 4096 1 4 \
  >"$out/7.jsonl" 2>"$out/7.err" ||
  row "peer transformers 26B-A4B step" FAIL "$(tail -c 300 "$out/7.err")"
while IFS='|' read -r label result detail; do
  row "$label" "$result" "$detail"
done < <(python3 bench/gpu_step_rows.py "$gpu" "$out/7.jsonl" "$out/5.jsonl")


echo
printf '| %-46s | %-8s | %s |\n' check result detail
printf '|%s|%s|%s|\n' "$(printf -- '-%.0s' {1..48})" "----------" "--------"
printf '%s\n' "${rows[@]}"
! printf '%s\n' "${rows[@]}" | grep -q '| FAIL '
