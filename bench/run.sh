#!/usr/bin/env bash
# The host target side by side with PyTorch + transformers: the same config,
# the same weights, the same number of threads on both sides.
#
#   bench/run.sh [CONFIG_DIR]     default bench/configs/small
#   PROMPT=256 RUNS=5 bench/run.sh
#   THREADS=2 bench/run.sh         threads on each side (default 1)
#   FUSE=1 bench/run.sh            also time the fused module (dgc compile's default)
#
# Installs torch and transformers from PyPI if they are missing.
set -euo pipefail
cd "$(dirname "$0")/.."
config=${1:-bench/configs/small}
prompt=${PROMPT:-256}
runs=${RUNS:-5}
threads=${THREADS:-1}
scripts/setup.sh >/dev/null
ninja -C build dgc dgc-bench >/dev/null
python3 -c "import torch, transformers, safetensors" 2>/dev/null ||
  python3 -m pip install -q torch transformers safetensors
out=build/bench/$(basename "$config")
mkdir -p "$out"
[ -f "$out/checkpoint/model.safetensors" ] ||
  python3 bench/make_checkpoint.py "$config" "$out/checkpoint"
build/bin/dgc compile "$config/config.json" --no-fuse -o "$out/model.dgm" 2>/dev/null
dgc=$(build/bin/dgc-bench "$out/model.dgm" --weights "$out/checkpoint" --prompt "$prompt" --runs "$runs" --threads "$threads" 2>/dev/null)
fused=null
if [ -n "${FUSE:-}" ]; then
  build/bin/dgc compile "$config/config.json" --fuse --graphs=encoder,decoder \
    -o "$out/model-fused.dgm" 2>/dev/null
  fused=$(build/bin/dgc-bench "$out/model-fused.dgm" --weights "$out/checkpoint" --prompt "$prompt" --runs "$runs" --threads "$threads" 2>/dev/null)
fi
torch=$(python3 bench/torch_step.py "$out/checkpoint" "$prompt" "$runs" "$threads" 2>/dev/null | tail -1)
python3 - "$dgc" "$torch" "$config" "$prompt" "$fused" "$threads" <<'PY'
import json, sys
d, t, f = json.loads(sys.argv[1]), json.loads(sys.argv[2]), json.loads(sys.argv[5])
print(f"config {sys.argv[3]}, prompt {sys.argv[4]} tokens, {sys.argv[6]} thread(s) each, median ms")
print(f"{'':18}{'dgc host':>12}{'PyTorch ' + t['torch']:>24}{'dgc / PyTorch':>16}")
for key, label in (("prefill_ms", "prefill"), ("step_ms", "denoise step")):
    print(f"{label:18}{d[key]:12.1f}{t[key]:24.1f}{d[key] / t[key]:16.2f}")
if f:
    print(f"\nwith --fuse: dgc / PyTorch, and fused / unfused")
    for key, label in (("prefill_ms", "prefill"), ("step_ms", "denoise step")):
        print(f"{label:18}{f[key]:12.1f}{t[key]:24.1f}{f[key] / t[key]:16.2f}{f[key] / d[key]:12.2f}")
PY
