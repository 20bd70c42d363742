#!/usr/bin/env bash
# Installs what is missing, builds, and starts the TokenScope window on the bundled model and a
# bundled image. Without a display it answers on the command line instead and saves a screenshot
# of the window (through Xvfb) to tokenscope-screenshot.png.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/build.sh
model=resources/models/vilt-tiny-random
image=resources/images/photo.png
echo
echo "The bundled model ($model) has RANDOM weights: its answers show the pipeline working, not understanding."
echo "Open a Hugging Face ViLT folder (e.g. dandelin/vilt-b32-finetuned-vqa) with Ctrl+O for real answers."
if [[ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]]; then
    exec build/app/tokenscope "$@"
fi
echo "No display: answering on the command line, and saving a screenshot of the window."
build/app/tokenscope-cli answer --model "$model" --image "$image" --question "what color is the cat?"
xvfb-run -a build/app/tokenscope --screenshot tokenscope-screenshot.png "$@"
echo "saved tokenscope-screenshot.png"
