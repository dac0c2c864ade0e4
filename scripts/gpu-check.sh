#!/usr/bin/env bash
# The GPU check, for a machine with an NVIDIA GPU (H100/H200) and no
# LLVM/MLIR, run from the repository root. Build its archive here first with
# scripts/gpu-prepare.sh (build/gpu-check.tar.xz: the runtime, the tools, the
# libraries they need beyond the C and C++ runtimes, the tiny modules, the
# 26B-A4B decoder and its fused kernels one by one); carry that one file.
#
#   scripts/gpu-check.sh [quick|perf|profile|all]... [--out DIR] [--deadline SECONDS]
#
# quick (at most 3 minutes): the driver and a hand-written PTX kernel; every
#   graph of the tiny model on cuda against the host module, on random
#   inputs, in f32 and bf16; the tiny model on cuda against the transformers
#   fixtures and replayed generations; the tiny model in bf16 on cuda against
#   transformers in bf16 on the same GPU; dgc-run --device cuda.
# perf (at most 7 minutes): dgc's 26B-A4B denoise step at a 4096-token
#   context, batch 1 and 4, launched and replayed as a CUDA graph; each fused
#   kernel at the model's shapes, cuda against the host and against its
#   PyTorch peer, and the kernel variants; transformers' step, eager, then
#   torch.compile while time remains.
# profile (at most 3 minutes): every kernel of one 26B-A4B step timed alone
#   by Nsight Compute (DIR/kernels.csv), summed by the part of the model each
#   kernel computes and by launch shape (bench/kernel_profile.py: DIR/kernels.txt).
# all is quick then perf (the default).
#
# Each row is appended to DIR/rows.md the moment it is known, each step's
# output to DIR/log.txt and its JSON lines to DIR/results.jsonl, so a run
# killed at its limit still returns what it measured. DIR is --out, else
# $OUT, else build/gpu-check-out. Every step has a timeout inside the
# phase's deadline (--deadline overrides it); steps that no longer fit are
# skipped and named. Exit status: 1 if any row is FAIL.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD
build=$(realpath -m "${DGC_BUILD_DIR:-build}") # the archive unpacks into ./build
phases=() out=${OUT:-$build/gpu-check-out} deadline=""
while [ $# -gt 0 ]; do
  case $1 in
  quick | perf | profile) phases+=("$1") ;;
  all) phases+=(quick perf) ;;
  --out) out=$2; shift ;;
  --deadline) deadline=$2; shift ;;
  -h | --help) sed -n '2,30p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) echo "gpu-check: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done
[ ${#phases[@]} -gt 0 ] || phases=(quick perf)
phase="${phases[*]}" budget=0
for p in "${phases[@]}"; do
  case $p in quick) budget=$((budget + 180)) ;; perf) budget=$((budget + 420)) ;;
  profile) budget=$((budget + 180)) ;; esac
done
budget=${deadline:-$budget}
start=$(date +%s)
mkdir -p "$out"
rows="$out/rows.md" log="$out/log.txt" results="$out/results.jsonl"
: >"$rows"
: >"$log"
: >"$results"
scratch=$(mktemp -d) # operands of gigabytes stay off $OUT
trap 'rm -rf "$scratch"' EXIT

row() { # one table row, kept and printed at once; the detail on one line
  local line
  line=$(printf '| %-46s | %-8s | %s |' "$1" "$2" "$(printf '%s' "$3" | tr '\n|' '  ')")
  echo "$line" >>"$rows"
  echo "$line"
}
left() { echo $((budget - ($(date +%s) - start))); }
# timeout_for MAX MIN NAME: prints the step's timeout, at most MAX and
# ending 5 s before the deadline; fails (and says so) when under MIN.
timeout_for() {
  local t=$(($(left) - 5))
  [ "$t" -gt "$1" ] && t=$1
  if [ "$t" -lt "$2" ]; then
    row "$3" SKIPPED "$(left) s left of the ${budget} s deadline; needs $2 s" >&2
    return 1
  fi
  echo "$t"
}
# logged NAME FILE...: appends each file to the log under a heading.
logged() {
  local name=$1
  shift
  for f in "$@"; do
    [ -s "$f" ] && { echo "=== $name: $(basename "$f")"; cat "$f"; } >>"$log"
  done
}
# jsonl STEP FILE: appends the file's JSON lines, tagged with their step.
jsonl() {
  grep '^{' "$2" 2>/dev/null | sed "s/^{/{\"step\": \"$1\", /" >>"$results"
}

archive="$build/gpu-check.tar.xz"
if [ -f "$archive" ]; then
  # A warm machine keeps an older unpacked archive: unpack a changed one.
  sum=$(sha256sum "$archive" | cut -d' ' -f1)
  if [ "$(cat "$build/.gpu-check.sha256" 2>/dev/null)" != "$sum" ]; then
    echo "== unpacking $archive"
    tar -xJf "$archive" || exit 1
    echo "$sum" >"$build/.gpu-check.sha256"
  fi
fi
# The runtime and the libraries it needs beyond the C and C++ runtimes.
export LD_LIBRARY_PATH="$build/lib:$build/gpu/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
# The tests were built elsewhere: their compiled-in paths move here.
from=$(python3 -c 'import re,sys
m = re.search(rb"(/[\x21-\x7e]*)/test/fixtures/tiny\x00", open(sys.argv[1], "rb").read())
print(m.group(1).decode() if m else "")' "$build/bin/dgc-e2e-tests")
export DGC_RELOCATE_FROM="$from" DGC_RELOCATE_TO="$root"
cuda_module="$build/test/e2e/tiny-cuda.dgm"
bf16_module="$build/test/e2e/tiny-bf16.dgm"
export PYTHONUNBUFFERED=1

echo "== GPU (phase $phase, deadline ${budget} s, rows in $rows)"
nvidia-smi --query-gpu=name,driver_version,memory.total,memory.used,clocks.sm \
  --format=csv,noheader 2>&1 | tee -a "$log"
gpu=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1)

quick() {
  local t
  echo "== runtime cuda device"
  if t=$(timeout_for 60 20 "runtime cuda device (driver, PTX JIT, launch)"); then
    if timeout "$t" "$build/bin/dgc-runtime-tests" --gtest_filter='Cuda*' \
      >"$scratch/device.txt" 2>&1; then
      row "runtime cuda device (driver, PTX JIT, launch)" PASS \
        "$(grep -c '^\[       OK' "$scratch/device.txt") tests, skipped: $(grep -c '^\[  SKIPPED \].*ms)$' "$scratch/device.txt")"
    else
      row "runtime cuda device (driver, PTX JIT, launch)" FAIL \
        "$(grep -E '^\[  FAILED|Failure|error' "$scratch/device.txt" | head -3)"
    fi
    logged "runtime cuda device" "$scratch/device.txt"
  fi

  echo "== tiny model on cuda: vs host, vs transformers"
  if t=$(timeout_for 120 30 "tiny model on cuda (vs host, vs fixtures)"); then
    local start_tests=$(date +%s)
    if DGC_TEST_CUDA_MODULE="$cuda_module" DGC_TEST_CUDA_BF16_MODULE="$bf16_module" \
      timeout "$t" "$build/bin/dgc-e2e-tests" \
      --gtest_filter='CudaMatchesHost*:*/cuda:GumbelEdge*' >"$scratch/tiny.txt" 2>&1; then
      row "graphs cuda vs host, random inputs" PASS \
        "$(grep 'cuda-vs-host' "$scratch/tiny.txt" | sed 's/.*\] //' | paste -sd ';' | cut -c1-300)"
      row "tiny model on cuda vs transformers fixtures" PASS \
        "$(grep -c 'OK \].*cuda' "$scratch/tiny.txt") tests in $(($(date +%s) - start_tests)) s; $(grep -m1 'numerics \] cuda' "$scratch/tiny.txt" | sed 's/.*\] //')"
    else
      row "tiny model on cuda (vs host, vs fixtures)" FAIL \
        "$(grep -E '^\[  FAILED|kernel|CUDA_ERROR' "$scratch/tiny.txt" | head -4)"
      # Kernels are queued without waits; a wait after each names a
      # faulting one.
      if t=$(timeout_for 60 20 "tiny model on cuda, DGC_CUDA_SYNC=1"); then
        DGC_CUDA_SYNC=1 DGC_TEST_CUDA_MODULE="$cuda_module" \
          DGC_TEST_CUDA_BF16_MODULE="$bf16_module" timeout "$t" \
          "$build/bin/dgc-e2e-tests" --gtest_filter='CudaMatchesHost*:*/cuda' \
          >"$scratch/tiny-sync.txt" 2>&1
        row "tiny model on cuda, DGC_CUDA_SYNC=1" INFO \
          "$(grep -E "kernel '|FAILED" "$scratch/tiny-sync.txt" | head -3)"
        logged "tiny model, DGC_CUDA_SYNC=1" "$scratch/tiny-sync.txt"
      fi
    fi
    logged "tiny model on cuda" "$scratch/tiny.txt"
  fi

  echo "== tiny model in bf16: dgc on cuda vs transformers on this GPU"
  if t=$(timeout_for 90 30 "tiny bf16 on cuda vs transformers bf16"); then
    local reference="$scratch/bf16-reference.safetensors"
    if timeout "$t" python3 bench/tiny_bf16_reference.py --device cuda "$reference" \
      >"$scratch/bf16.txt" 2>&1 &&
      DGC_TEST_BF16_REFERENCE="$reference" DGC_TEST_CUDA_BF16_MODULE="$bf16_module" \
        timeout 60 "$build/bin/dgc-e2e-tests" --gtest_filter='Bf16Agreement*' \
        >>"$scratch/bf16.txt" 2>&1 && grep -q '^\[       OK \] Bf16Agreement' "$scratch/bf16.txt"; then
      row "tiny bf16 on cuda vs transformers bf16" PASS \
        "$(grep -m1 'bf16-agreement \] argmax' "$scratch/bf16.txt" | sed 's/.*\] //')"
    else
      row "tiny bf16 on cuda vs transformers bf16" FAIL \
        "$(grep -E 'bf16-agreement|Failure|Error|error' "$scratch/bf16.txt" | head -3)"
    fi
    logged "tiny bf16 vs transformers" "$scratch/bf16.txt"
  fi

  echo "== dgc-run --device cuda"
  if t=$(timeout_for 60 15 "dgc-run --device cuda (tiny, 2 canvases)"); then
    local run_start=$(date +%s%N)
    if timeout "$t" "$build/bin/dgc-run" "$cuda_module" --device cuda \
      --weights test/fixtures/tiny/checkpoint --prompt-ids "2 10 20 30" --json --quiet \
      >"$scratch/run.json" 2>"$scratch/run.err"; then
      row "dgc-run --device cuda (tiny, 2 canvases)" PASS \
        "$(python3 -c "import json;s=json.load(open('$scratch/run.json'))['stats'];print(f\"{s['tokens_per_forward']:.2f} tokens/forward, {s['tokens_per_second']:.1f} tokens/s\")" 2>&1); whole run $((($(date +%s%N) - run_start) / 1000000)) ms"
      # Its steps replay recorded CUDA graphs, or it warns and launches them.
      if grep -q 'warning: steps were launched' "$scratch/run.err"; then
        row "dgc-run steps replayed as CUDA graphs" FAIL "$(grep -m1 warning "$scratch/run.err")"
      else
        row "dgc-run steps replayed as CUDA graphs" PASS "no fallback to launches"
      fi
    else
      row "dgc-run --device cuda (tiny, 2 canvases)" FAIL "$(head -c 300 "$scratch/run.err")"
    fi
    logged "dgc-run" "$scratch/run.json" "$scratch/run.err"
  fi
}

perf() {
  local t
  # dgc first: the peer's torch.compile may take long.
  echo "== dgc 26B-A4B denoise step on cuda"
  local big="$build/gpu/diffusiongemma-26b-a4b-decoder.dgm"
  if t=$(timeout_for 240 90 "dgc 26B-A4B step (cuda)"); then
    # Each batch launched, then replayed as the CUDA graph its first steps
    # record (--cuda-graph): two lines per batch.
    timeout "$t" "$build/bin/dgc-bench" "$big" --device cuda --random-weights \
      --context 4096 --batch 1,4 --runs 3 --cuda-graph >"$scratch/step.jsonl" \
      2>"$scratch/step.err" ||
      row "dgc 26B-A4B step (cuda)" FAIL "$(tail -c 300 "$scratch/step.err")"
    jsonl dgc-step "$scratch/step.jsonl"
    logged "dgc 26B-A4B step" "$scratch/step.jsonl" "$scratch/step.err"
    while IFS='|' read -r label result detail; do
      row "$label" "$result" "$detail"
    done < <(python3 bench/gpu_step_rows.py "$gpu" /dev/null "$scratch/step.jsonl")
  fi

  echo "== fused kernels at the 26B-A4B shapes: cuda vs host, vs PyTorch"
  # At 16 rows the host checks each kernel in seconds; at the model's 256
  # rows dgc is timed and PyTorch runs the same operands.
  local kernels="$build/gpu/diffusiongemma-26b-a4b-kernels" k="$scratch/kernels"
  mkdir -p "$k"
  : >"$k/check.jsonl"
  : >"$k/dgc.jsonl"
  : >"$k/peer.jsonl"
  if t=$(timeout_for 120 30 "fused kernels, cuda vs host"); then
    timeout "$t" "$build/bin/dgc-kernel-check" "$kernels-16.dgm" --device cuda \
      --compare host --runs 1 >"$k/check.jsonl" 2>"$k/check.err"
    # 1: a comparison failed, which its row says
    [ $? -le 1 ] || row "fused kernels, cuda vs host" FAIL "$(tail -c 300 "$k/check.err")"
    jsonl kernel-check "$k/check.jsonl"
    logged "fused kernels, cuda vs host" "$k/check.err"
  fi
  # The router at a random-weight step's scale (its probabilities near
  # ties), on cuda and on the host: the H200 profile's expert GEMMs read
  # 8.3 of their 45.7 GB, as if the step's rows chose few experts.
  if t=$(timeout_for 60 15 "router at a random-weight step's scale"); then
    mkdir -p "$k/router-cuda" "$k/router-host"
    if timeout "$t" "$build/bin/dgc-kernel-check" "$kernels-16.dgm" --device cuda --only router \
      --scale 0.03 --runs 1 --out "$k/router-cuda" >/dev/null 2>"$k/router.err" &&
      timeout "$t" "$build/bin/dgc-kernel-check" "$kernels-16.dgm" --device host --only router \
        --scale 0.03 --runs 1 --out "$k/router-host" >/dev/null 2>>"$k/router.err"; then
      row "router at a random-weight step's scale" INFO \
        "cuda: $(python3 bench/router_coverage.py "$k/router-cuda/router.safetensors" \
          "$k/router-host/router.safetensors" 2>&1); host: $(python3 bench/router_coverage.py \
          "$k/router-host/router.safetensors" 2>&1)"
    else
      row "router at a random-weight step's scale" FAIL "$(tail -c 300 "$k/router.err")"
    fi
  fi
  if t=$(timeout_for 90 30 "fused kernels on cuda, timed"); then
    timeout "$t" "$build/bin/dgc-kernel-check" "$kernels.dgm" --device cuda --runs 10 \
      --out "$k" >"$k/dgc.jsonl" 2>"$k/dgc.err" ||
      row "fused kernels on cuda, timed" FAIL "$(tail -c 300 "$k/dgc.err")"
    jsonl kernel-dgc "$k/dgc.jsonl"
    logged "fused kernels on cuda, timed" "$k/dgc.err"
    if t=$(timeout_for 120 30 "fused kernels' PyTorch peers"); then
      timeout "$t" python3 bench/fused_kernels.py peer configs/diffusiongemma-26b-a4b "$k" \
        --runs 10 >"$k/peer.jsonl" 2>"$k/peer.err"
      [ $? -le 1 ] || row "fused kernels' PyTorch peers" FAIL "$(tail -c 300 "$k/peer.err")"
      jsonl kernel-peer "$k/peer.jsonl"
      logged "fused kernels' PyTorch peers" "$k/peer.err"
    fi
  fi
  rm -f "$k"/*.safetensors # gigabytes of operands
  # The GEMMs with the LM head's 128 x 64 tile instead of 64 x 32, and with
  # rings of four tiles; the MoE block with expert tiles of 32 rows; the
  # sampling head with its f32 logits written and read back: what the bf16
  # candidates save.
  local variants=()
  local variant label
  for variant in "wide:gemm_q_proj,moe,soft_embedding:128 x 64 GEMM tiles" \
    "stages4:gemm_q_proj,moe,soft_embedding:GEMM rings of 4" \
    "rows32:moe:expert tiles of 32 rows" \
    "exact:sample:top-64 over f32 logits"; do
    local name=${variant%%:*} only=${variant#*:}
    label=${only#*:} only=${only%%:*}
    t=$(timeout_for 45 15 "kernel variant $name, timed") || continue
    timeout "$t" "$build/bin/dgc-kernel-check" "$kernels-$name.dgm" --device cuda --runs 10 \
      --only "$only" >"$k/$name.jsonl" 2>"$k/$name.err" ||
      row "kernel variant $name, timed" FAIL "$(tail -c 300 "$k/$name.err")"
    jsonl "kernel-$name" "$k/$name.jsonl"
    variants+=("$label=$k/$name.jsonl")
  done
  while IFS='|' read -r label result detail; do
    row "$label" "$result" "$detail"
  done < <(python3 bench/kernel_rows.py "$gpu" "$k/check.jsonl" "$k/dgc.jsonl" \
    "$k/peer.jsonl" "${variants[@]}")

  echo "== peer: transformers 26B-A4B shape, one denoise step"
  if t=$(timeout_for 300 60 "peer transformers 26B-A4B step"); then
    # Eager first; torch.compile only while the step's time remains.
    timeout "$t" python3 bench/torch_gpu_step.py configs/diffusiongemma-26b-a4b 4096 1 4 \
      --deadline $((t - 10)) >"$scratch/peer.jsonl" 2>"$scratch/peer.err" ||
      row "peer transformers 26B-A4B step" FAIL "$(tail -c 300 "$scratch/peer.err")"
    jsonl torch-step "$scratch/peer.jsonl"
    logged "transformers step" "$scratch/peer.err"
    while IFS='|' read -r label result detail; do
      row "$label" "$result" "$detail"
    done < <(python3 bench/gpu_step_rows.py "$gpu" "$scratch/peer.jsonl" "$scratch/step.jsonl" \
      --ratios)
  fi
}

profile() {
  local t
  # Each kernel of one 26B-A4B denoise step (batch 1, 4096-token context),
  # timed alone by Nsight Compute: the launches in order, with their shapes.
  echo "== profile: every kernel of one 26B-A4B step (ncu)"
  if t=$(timeout_for 240 90 "kernels of the 26B-A4B step (ncu)"); then
    local big="$build/gpu/diffusiongemma-26b-a4b-decoder.dgm"
    # dgc-bench --profile-step runs a step to warm up, then one inside the
    # profiler's bracket: ncu profiles that step's launches, however many.
    if timeout "$t" ncu --profile-from-start off --clock-control none \
      --metrics gpu__time_duration.sum,dram__bytes.sum --csv --log-file "$out/kernels.csv" \
      "$build/bin/dgc-bench" "$big" --device cuda --random-weights --context 4096 \
      --batch 1 --runs 1 --profile-step >"$scratch/profile.txt" 2>&1; then
      row "kernels of the 26B-A4B step (ncu)" INFO \
        "$(python3 bench/kernel_profile.py "$out/kernels.csv" --summary 2>&1 | head -1)"
      python3 bench/kernel_profile.py "$out/kernels.csv" --gpu "$gpu" --top 40 \
        --config configs/diffusiongemma-26b-a4b/config.json \
        >"$out/kernels.txt" 2>&1
      logged "profile by part and shape" "$out/kernels.txt"
    else
      row "kernels of the 26B-A4B step (ncu)" FAIL "$(tail -c 300 "$scratch/profile.txt")"
    fi
    logged "profile" "$scratch/profile.txt"
  fi
}

for p in "${phases[@]}"; do
  "$p"
done

echo
echo "gpu-check: phase $phase on ${gpu:-no GPU}, $(date -u +%Y-%m-%d), $(($(date +%s) - start)) s"
printf '| %-46s | %-8s | %s |\n' check result detail
printf '|%s|%s|%s|\n' "$(printf -- '-%.0s' {1..48})" "----------" "--------"
cat "$rows"
! grep -q '| FAIL ' "$rows"
