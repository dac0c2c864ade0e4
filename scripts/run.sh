#!/usr/bin/env bash
# The main job on the bundled default: build dgc, compile the bundled tiny
# model for the host CPU, and generate with it from a text prompt, printing
# every denoise step so the canvases can be seen converging.
#
# The tiny model (configs/tiny) has seeded random weights made by
# transformers (test/fixtures/tiny/checkpoint): its text is not meaningful,
# but every step of the sampler runs as it would on the real checkpoint.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
build_dir=${DGC_BUILD_DIR:-build}
ninja -C "$build_dir" dgc dgc-run
module="$build_dir/models/tiny.dgm"
# A module newer than the compiler and the config needs no compile.
if [ -f "$module/manifest.json" ] && [ "$module/manifest.json" -nt "$build_dir/bin/dgc" ] &&
  [ "$module/manifest.json" -nt configs/tiny/config.json ] &&
  [ "$module/manifest.json" -nt configs/tiny/generation_config.json ]; then
  echo "== $module is up to date"
else
  echo "== dgc compile configs/tiny/config.json -o $module"
  "$build_dir/bin/dgc" compile configs/tiny/config.json -o "$module"
fi
echo "== dgc-run: 2 canvases of 16 tokens, up to 8 denoise steps each"
"$build_dir/bin/dgc-run" "$build_dir/models/tiny.dgm" \
  --weights test/fixtures/tiny/checkpoint \
  --prompt "Why is the sky blue?" --seed 1 --show-steps "$@"
# Random weights keep every entropy high at the default temperatures; a
# cold schedule lets the canvases converge and stop before their last step.
echo "== dgc-run, cold schedule (T 0.1 to 0.05, stop once mean entropy < 0.1)"
"$build_dir/bin/dgc-run" "$build_dir/models/tiny.dgm" \
  --weights test/fixtures/tiny/checkpoint \
  --prompt "Why is the sky blue?" --seed 1 --show-steps \
  --t-min 0.05 --t-max 0.1 --stability-threshold 0 --confidence-threshold 0.1
