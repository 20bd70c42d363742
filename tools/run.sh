#!/usr/bin/env bash
# Installs what is missing, builds, and runs TokenScope on the bundled model and a bundled image.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/build.sh
model=resources/models/vilt-tiny-random
image=resources/images/photo.png
question="what color is the cat?"
echo
echo "Bundled model $model has RANDOM weights: its answers show the pipeline working, not understanding."
echo "For real answers pass a Hugging Face ViLT folder, e.g. dandelin/vilt-b32-finetuned-vqa:"
echo "  build/app/tokenscope-cli answer --model DIR --image FILE --question TEXT"
echo
exec build/app/tokenscope-cli answer --model "$model" --image "$image" --question "$question" "$@"
