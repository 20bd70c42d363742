#!/usr/bin/env bash
# Installs what is missing, builds, and runs the whole test suite (ctest). In CI (CI=true)
# warnings are errors.
set -euo pipefail
cd "$(dirname "$0")/.."
extra=()
[[ "${CI:-}" == "true" ]] && extra+=(-DTOKENSCOPE_WERROR=ON)
tools/build.sh "${extra[@]}"
cd build
ctest --output-on-failure --timeout 600 -j "$(nproc)"
