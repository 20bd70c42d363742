#!/usr/bin/env bash
# Regenerates the SentencePiece models of tests/data/sentencepiece/ and the tokenizer.model of
# resources/models/llava-next-tiny-random/ with libsentencepiece's trainer (libsentencepiece-dev,
# installed by tools/bootstrap.sh). See tools/gen_sentencepiece_models.cpp for what each model is.
#   tools/gen_sentencepiece_models.sh [BUILD_DIR]     (default build/; the generator is built there)
set -euo pipefail
cd "$(dirname "$0")/.."
build="${1:-build}"
mkdir -p "$build"
g++ -std=c++17 -O1 tools/gen_sentencepiece_models.cpp -o "$build/gen_sentencepiece_models" \
    $(pkg-config --cflags --libs sentencepiece)
"$build/gen_sentencepiece_models" .
