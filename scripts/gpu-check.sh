#!/usr/bin/env bash
# One command for a machine with an NVIDIA GPU (H100/H200), run from the
# repository root after building elsewhere and bringing the build along
# (the GPU machine has no LLVM/MLIR): build/bin, build/lib and the compiled
# tiny modules under build/test/e2e (tiny.dgm, tiny-fused.dgm, tiny-cuda.dgm,
# tiny-bf16.dgm).
# With the device tool: carry build/bin build/lib build/test/e2e/tiny.dgm
# build/test/e2e/tiny-fused.dgm build/test/e2e/tiny-cuda.dgm
# build/test/e2e/tiny-bf16.dgm (about 50 MiB).
# Prints a table; finishes in a few minutes. Steps:
#   1. the runtime's cuda device: driver, JIT of a hand-written PTX kernel;
#   2. every graph of the tiny model on cuda against the host module, on
#      random inputs, in f32 and in bf16 (where the contractions run on
#      tensor cores) (test/e2e/CudaTest.cpp);
#   3. the tiny model end-to-end on cuda against the transformers fixtures,
#      and whole generations replayed against transformers' recorded
#      decisions (the e2e tests with DGC_TEST_CUDA_MODULE);
#   4. dgc-run --device cuda on the tiny model: tokens/s;
#   5. the peer: transformers' DiffusionGemma 26B-A4B shape, one denoise step
#      at a 4096-token context, batch 1 and 4, eager and torch.compile, with
#      the % of the HBM bandwidth floor (bench/torch_gpu_step.py).
# The dgc 26B-A4B denoise step is not part of it yet: the cuda target has
# no fast kernels for it (docs/cuda-target.md).
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD
build=${DGC_BUILD_DIR:-build}
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
fi

echo "== 4. dgc-run --device cuda"
if "$build/bin/dgc-run" "$cuda_module" --device cuda --weights test/fixtures/tiny/checkpoint \
  --prompt-ids "2 10 20 30" --json --quiet >"$out/4.json" 2>"$out/4.err"; then
  row "dgc-run --device cuda (tiny, 2 canvases)" PASS \
    "$(python3 -c "import json;s=json.load(open('$out/4.json'))['stats'];print(f\"{s['tokens_per_forward']:.2f} tokens/forward, {s['tokens_per_second']:.1f} tokens/s\")")"
else
  row "dgc-run --device cuda (tiny, 2 canvases)" FAIL "$(head -c 200 "$out/4.err")"
fi

echo "== 5. peer: transformers 26B-A4B shape, one denoise step"
if timeout 420 python3 bench/torch_gpu_step.py configs/diffusiongemma-26b-a4b 4096 1 4 \
  >"$out/5.jsonl" 2>"$out/5.err"; then
  while read -r line; do
    row "$(python3 -c "import json;d=json.loads('$line');print(f\"peer {d['mode']} step, batch {d['batch']}, ctx {d['context']}\")")" \
      "$(python3 -c "import json;print(json.loads('$line')['ms'], 'ms')")" \
      "$(python3 -c "import json;d=json.loads('$line');print(f\"{d['pct_of_floor']}% of the {d['floor_ms']} ms floor ({d['weight_gb']} GB bf16, {d['device']})\")")"
  done <"$out/5.jsonl"
else
  row "peer transformers 26B-A4B step" FAIL "$(tail -c 300 "$out/5.err")"
fi
row "dgc 26B-A4B step (cuda)" "n/a" "not measured: no fast kernels yet"

echo
printf '| %-46s | %-8s | %s |\n' check result detail
printf '|%s|%s|%s|\n' "$(printf -- '-%.0s' {1..48})" "----------" "--------"
printf '%s\n' "${rows[@]}"
! printf '%s\n' "${rows[@]}" | grep -q '| FAIL '
