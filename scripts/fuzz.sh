#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan + UBSan) in build-fuzz and runs
# each for SECONDS seconds (default 10) from its seed corpus, one per core
# at a time. Part of the test command; run longer by hand: scripts/fuzz.sh 600
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-10}
dir=${DGC_FUZZ_BUILD_DIR:-build-fuzz}
if [ ! -f "$dir/build.ninja" ]; then
  cmake -G Ninja -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
    -DDGC_ENABLE_FUZZ=ON >/dev/null
fi
ninja -C "$dir" safetensors_header_fuzzer manifest_fuzzer tokenizer_fuzzer \
  image_fuzzer options_fuzzer batch_line_fuzzer generation_merge_fuzzer \
  >/dev/null
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# One fuzzer per core at a time: each still runs SECONDS seconds.
fuzz_one() {
  local name=$1 corpus=$2 extra=()
  mkdir -p "$work/$corpus"
  [ -f "test/fuzz/$corpus.dict" ] && extra+=("-dict=test/fuzz/$corpus.dict")
  "$dir/bin/${name}_fuzzer" -max_total_time="$seconds" -print_final_stats=1 \
    "${extra[@]}" "$work/$corpus" "test/fuzz/corpus/$corpus" \
    2>"$work/$name.log"
}
targets=(safetensors_header:safetensors manifest:manifest tokenizer:tokenizer
         image:image options:options batch_line:batch_line
         generation_merge:generation_merge)
jobs=$(nproc)
declare -A pids
for target in "${targets[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n || true; done
  fuzz_one "${target%%:*}" "${target##*:}" &
  pids[$target]=$!
done
status=0
for target in "${targets[@]}"; do
  name=${target%%:*}
  if ! wait "${pids[$target]}"; then
    tail -50 "$work/$name.log"
    echo "fuzz: ${name}_fuzzer failed"
    status=1
    continue
  fi
  runs=$(grep -o "stat::number_of_executed_units: *[0-9]*" "$work/$name.log" | grep -o "[0-9]*$")
  echo "fuzz: ${name}_fuzzer ran ${runs:-?} inputs in ${seconds} s under ASan+UBSan, no crash"
done
exit $status
