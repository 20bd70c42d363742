#!/usr/bin/env bash
# Builds the libFuzzer targets with clang + ASan/UBSan and runs each for a while.
#   tools/run_fuzzers.sh [--seconds 600] [--jobs 2] [TARGET...]     (targets: safetensors pickle config tokenizer sentencepiece bpe;
#   pickle covers pytorch_model.bin and Lightning .ckpt)
# Corpora persist in fuzz-corpus/<target> (git-ignored); crashes land in fuzz-corpus/crashes/.
# Prints one line per target: executions, seconds, and whether anything was found.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=600
jobs=2
targets=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        --seconds) seconds="$2"; shift 2 ;;
        --jobs) jobs="$2"; shift 2 ;;
        -h|--help) sed -n '2,6p' "$0"; exit 0 ;;
        *) targets+=("$1"); shift ;;
    esac
done
[[ ${#targets[@]} -gt 0 ]] || targets=(safetensors pickle config tokenizer sentencepiece bpe)

tools/bootstrap.sh --fuzz
CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTOKENSCOPE_FUZZ=ON \
    -DTOKENSCOPE_GUI=OFF -DTOKENSCOPE_TESTS=OFF >/dev/null
cmake --build build-fuzz --target "${targets[@]/#/fuzz_}" >/dev/null

# Seeds: real files of each kind from the test data.
mkdir -p fuzz-corpus/crashes
for t in "${targets[@]}"; do
    mkdir -p "fuzz-corpus/$t"
    case "$t" in
        safetensors) python3 -c "
import json, struct
header = json.dumps({'__metadata__': {'format': 'pt'}, 'a': {'dtype': 'F32', 'shape': [2, 2], 'data_offsets': [0, 16]},
                     'b': {'dtype': 'I64', 'shape': [1], 'data_offsets': [16, 24]}}).encode()
header += b' ' * (-len(header) % 8)
open('fuzz-corpus/safetensors/seed', 'wb').write(struct.pack('<Q', len(header)) + header + bytes(24))" ;;
        config) cp tests/data/vilt/config.json "fuzz-corpus/$t/vilt.json"; cp tests/data/clip_vision/config.json "fuzz-corpus/$t/clip.json" ;;
        tokenizer) python3 -c "
import json, sys
for i, c in enumerate(json.load(open('tests/data/vilt/tokenizer_cases.json'))['cases']):
    open(f'fuzz-corpus/tokenizer/case{i}', 'w', encoding='utf-8').write(c['text'])" ;;
        bpe) python3 -c "
import json
m = 'tests/data/meter/'
texts = [c['text'] for f in ('tokenizer_cases.json', 'tokenizer_generated.json') for c in json.load(open(m + f))['cases']]
for i, text in enumerate(texts):
    open(f'fuzz-corpus/bpe/text{i}', 'wb').write(b'\\0' + text.encode())
open('fuzz-corpus/bpe/vocab', 'wb').write(b'\\1' + open(m + 'roberta_tiny/vocab.json', 'rb').read())
open('fuzz-corpus/bpe/merges', 'wb').write(b'\\2' + open(m + 'roberta_tiny/merges.txt', 'rb').read() + b'\\0What color is the cat?')" ;;
        sentencepiece) cp tests/data/sentencepiece/bpe_user_defined.model resources/models/llava-next-tiny-random/tokenizer.model \
                           "fuzz-corpus/$t/"
                       split -l 40 -d tests/data/sentencepiece/corpus.txt "fuzz-corpus/$t/text" ;;
        pickle) for test in tst_torch_bin tst_lightning_ckpt; do
                    if [[ -x build/tests/$test ]]; then
                        TOKENSCOPE_FUZZ_SEED_DIR="fuzz-corpus/$t" build/tests/$test >/dev/null 2>&1 || true
                    fi
                done
                # METER's Lightning checkpoint layout (bookkeeping, BINFLOAT config): its data.pkl.
                python3 -c "
import zipfile
z = zipfile.ZipFile('tests/data/meter/model.ckpt')
open('fuzz-corpus/pickle/meter_data.pkl', 'wb').write(z.read('model/data.pkl'))" ;;
    esac
done

run_one() {
    local t="$1" log="build-fuzz/fuzz_$1.log" max_len=8192
    [[ "$t" == pickle ]] && max_len=32768  # the METER checkpoint's data.pkl is 27 kB
    build-fuzz/tests/fuzz/fuzz_"$t" -max_total_time="$seconds" -artifact_prefix=fuzz-corpus/crashes/"$t"- \
        -print_final_stats=1 -max_len="$max_len" "fuzz-corpus/$t" >"$log" 2>&1
    local rc=$?
    local runs; runs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$' || echo "?")
    if [[ $rc -eq 0 ]]; then
        echo "fuzz_$t: $runs executions in ${seconds} s, nothing found"
    else
        echo "fuzz_$t: FOUND A PROBLEM after $runs executions (exit $rc), see $log and fuzz-corpus/crashes/"
    fi
    return $rc
}

status=0
pids=()
for t in "${targets[@]}"; do
    run_one "$t" &
    pids+=($!)
    if [[ ${#pids[@]} -ge $jobs ]]; then
        wait "${pids[0]}" || status=1
        pids=("${pids[@]:1}")
    fi
done
for p in "${pids[@]}"; do wait "$p" || status=1; done
exit $status
