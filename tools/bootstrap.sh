#!/usr/bin/env bash
# Installs the Debian packages TokenScope needs to build, test and run. Idempotent: when everything is
# present it prints nothing and touches nothing. Usage: tools/bootstrap.sh [--fuzz]
set -euo pipefail

packages=(cmake ninja-build g++ pkg-config ccache
          qt6-base-dev qt6-base-dev-tools libqcustomplot-dev libqcustomplot2.1-qt6
          libtorch-dev libopenblas0-pthread libopenblas0-openmp libopencv-dev nlohmann-json3-dev libsentencepiece-dev
          xvfb xauth)
if [[ "${1:-}" == "--fuzz" ]]; then
    packages+=(clang libclang-rt-14-dev)
fi

missing=()
for p in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

echo "bootstrap: installing ${missing[*]}"
sudo_cmd=()
if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null || { echo "bootstrap: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
    sudo_cmd=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "bootstrap: done"
