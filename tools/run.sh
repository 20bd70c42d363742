#!/usr/bin/env bash
# Installs what is missing, builds, and starts the TokenScope window on the bundled trained model
# (resources/models/shapes-vilt), a bundled Shapes scene and its question. Without a display it
# saves a screenshot of the window (through Xvfb) to tokenscope-screenshot.png and prints what the
# window shows: the question, the model's answer and the scene's right answer.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/build.sh
if [[ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]]; then
    exec build/app/tokenscope "$@"
fi
echo
echo "No display: opening the window off screen and saving a screenshot of it."
xvfb-run -a build/app/tokenscope --screenshot tokenscope-screenshot.png "$@"
echo "saved tokenscope-screenshot.png"
