#!/usr/bin/env bash
# Installs missing Debian packages, then configures and builds TokenScope in build/ (Release).
# Extra arguments go to CMake's configure step (e.g. -DTOKENSCOPE_GUI=OFF).
set -euo pipefail
cd "$(dirname "$0")/.."
tools/bootstrap.sh
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
if [[ ! -f build/CMakeCache.txt ]]; then
    cmake -S . -B build "${generator[@]}" -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
elif [[ $# -gt 0 ]]; then
    cmake -S . -B build "$@" >/dev/null
fi
cmake --build build --parallel "$(nproc)"
