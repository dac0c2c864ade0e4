#!/usr/bin/env bash
# Installs the Debian packages dgc builds with (only those missing) and
# configures the build directory. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(cmake ninja-build g++ python3
          llvm-22-dev llvm-22-tools libmlir-22-dev mlir-22-tools
          nlohmann-json3-dev libgtest-dev clang libclang-rt-14-dev
          libpng-dev libjpeg62-turbo-dev
          libcpp-httplib-dev python3-jinja2 python3-venv)
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
# dgc-serve's tests drive it with the openai client (PyPI), in a venv over
# Debian's python3 so that they also see its jinja2.
openai_version=3.63.0
if ! "$build_dir/venv/bin/python" -c "import openai, sys; sys.exit(openai.__version__ != '$openai_version')" 2>/dev/null; then
  echo "setup: installing openai $openai_version in $build_dir/venv"
  /usr/bin/python3 -m venv --system-site-packages "$build_dir/venv"
  "$build_dir/venv/bin/pip" install -q "openai==$openai_version"
fi
echo "setup: ready ($build_dir)"
