#!/usr/bin/env bash
# Installs the Debian packages dgc builds with (only those missing) and
# configures the build directory. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(cmake ninja-build g++ python3
          llvm-22-dev llvm-22-tools libmlir-22-dev mlir-22-tools
          nlohmann-json3-dev libgtest-dev clang libclang-rt-14-dev
          libpng-dev libjpeg62-turbo-dev)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
    missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

build_dir=${DGC_BUILD_DIR:-build}
if [ ! -f "$build_dir/build.ninja" ]; then
  cmake -G Ninja -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
echo "setup: ready ($build_dir)"
