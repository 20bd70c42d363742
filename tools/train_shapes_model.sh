#!/usr/bin/env bash
# Reproduces the bundled Shapes VQA models from scratch with tokenscope-cli (CPU, one thread each):
#   resources/models/shapes-vilt        the trained ViLT (6 layers, 128 wide, 192-px scenes in 24-px
#                                       patches; six training stages, about 2 h 40 min on one core)
#                                       with DynamicViT predictors trained on it, its training logs,
#                                       test accuracy and the accuracy/throughput sweep
#   resources/models/shapes-vilt-pumer  the same model fine-tuned with PuMer in place and KL
#                                       distillation from it (PuMer's recipe)
# Usage: tools/train_shapes_model.sh [WORK_DIR]   (default: build/shapes-train; resumable: a
# stopped stage continues from its checkpoint when the script is run again)
set -euo pipefail
cd "$(dirname "$0")/.."
cli=${TOKENSCOPE_CLI:-build/app/tokenscope-cli}
work=${1:-build/shapes-train}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
mkdir -p "$work"
stage() { echo; echo "== $*"; }

stage "1. the backbone, from random weights (42 min on one core of the project's machine)"
aux=(--patch-loss 1 --grounding-loss 0.3 --grounding-layer 1)
[[ -f "$work/scratch/model.safetensors" ]] ||
    "$cli" train --task shapes --out "$work/scratch" --steps 4000 --batch 32 --lr 5e-4 --warmup 0.03 \
        "${aux[@]}" --attention-loss 0.1 --validate-every 250 --val-n 320 --checkpoint-every 250 --log-every 50

stage "1b. jobs for the patches and the heads, on fresh scenes (train seed 12; 13 min)"
roles=(--role-loss 1 --role-loss-layer 3 --head-attention-loss 0.3)
[[ -f "$work/roles/model.safetensors" ]] ||
    "$cli" train --task shapes --out "$work/roles" --init-from "$work/scratch" --train-seed 12 \
        --steps 4000 --stop-after 1250 --batch 32 --lr 3e-4 --warmup 0.02 "${aux[@]}" "${roles[@]}" \
        --validate-every 250 --val-n 320 --checkpoint-every 250 --log-every 50

stage "1c. where things are, for left/right and above/below (train seed 13; 30 min)"
where=(--position-loss 1 --position-loss-layer 5)
[[ -f "$work/where/model.safetensors" ]] ||
    "$cli" train --task shapes --out "$work/where" --init-from "$work/roles" --train-seed 13 \
        --steps 3000 --batch 32 --lr 3e-4 --warmup 0.02 "${aux[@]}" "${roles[@]}" "${where[@]}" \
        --validate-every 250 --val-n 320 --checkpoint-every 250 --log-every 50

stage "1d. how far apart a relation's two objects are, read at the [CLS] (train seed 14; 31 min)"
[[ -f "$work/apart/model.safetensors" ]] ||
    "$cli" train --task shapes --out "$work/apart" --init-from "$work/where" --train-seed 14 \
        --steps 4000 --stop-after 3000 --batch 32 --lr 3e-4 --warmup 0.02 "${aux[@]}" "${roles[@]}" "${where[@]}" --cls-loss 1 \
        --validate-every 250 --val-n 320 --checkpoint-every 250 --log-every 50

stage "1e. the same, the [CLS] loss weighed 3 (train seed 16; 22 min)"
[[ -f "$work/base/model.safetensors" ]] ||
    "$cli" train --task shapes --out "$work/base" --init-from "$work/apart" --train-seed 16 \
        --steps 2000 --batch 32 --lr 3e-4 --warmup 0.02 "${aux[@]}" "${roles[@]}" "${where[@]}" --cls-loss 3 \
        --validate-every 250 --val-n 320 --checkpoint-every 250 --log-every 50

stage "1f. which way the relation question asks, read at the [CLS] with the offsets, the [CLS] loss weighed 10 (train seed 22; 24 min)"
[[ -f "$work/direction/model.safetensors" ]] ||
    "$cli" train --task shapes --out "$work/direction" --init-from "$work/base" --train-seed 22 \
        --steps 2400 --batch 32 --lr 3e-4 --warmup 0.02 "${aux[@]}" "${roles[@]}" "${where[@]}" --cls-loss 10 --cls-direction \
        --validate-every 300 --val-n 320 --checkpoint-every 300 --log-every 50

stage "2. PuMer fine-tuning with the reducers in place, distilled from the backbone"
[[ -f "$work/shapes-vilt-pumer/model.safetensors" ]] ||
    "$cli" train --task shapes --out "$work/shapes-vilt-pumer" --init-from "$work/direction" --distill-from "$work/direction" \
        --method pumer --layers 1,3,4 --prune 0.1 --merge 0.3 --merge-text 0.2 \
        --steps 300 --batch 32 --lr 1e-4 --warmup 0.05 --validate-every 150 --val-n 320 --checkpoint-every 150 --log-every 50

stage "3. DynamicViT predictors on the frozen backbone (ratio loss + distillation)"
[[ -f "$work/shapes-vilt/model.safetensors" ]] ||
    "$cli" train --task shapes --out "$work/shapes-vilt" --init-from "$work/direction" --distill-from "$work/direction" \
        --method dynamicvit --keep-ratio 0.7 --train-predictor-only \
        --steps 200 --batch 32 --lr 1e-3 --warmup 0.05 --validate-every 100 --val-n 320 --checkpoint-every 100 --log-every 50

stage "4. test accuracy (seed 3, never seen in training) and the sweep"
pumer=(--method pumer --layers 1,3,4 --prune 0.1 --merge 0.3 --merge-text 0.2)
"$cli" eval --model "$work/direction" --seed 3 --n 1000 --json > "$work/base_test.json"
"$cli" eval --model "$work/direction" --seed 3 --n 1000 "${pumer[@]}" --json > "$work/base_pumer_test.json"
"$cli" eval --model "$work/shapes-vilt-pumer" --seed 3 --n 1000 "${pumer[@]}" --json > "$work/pumer_test.json"
"$cli" eval --model "$work/shapes-vilt" --seed 3 --n 1000 --method dynamicvit --keep-ratio 0.7 --json > "$work/dynamicvit_test.json"
"$cli" eval --model "$work/shapes-vilt" --sweep --seed 3 --n 500 --batch 32 --passes 3 --out "$work/shapes-vilt"
echo
echo "Copy $work/shapes-vilt and $work/shapes-vilt-pumer to resources/models/"
echo "(config.json, model.safetensors, vocab.txt, preprocessor_config.json, train_command.txt, sweep.*), and each"
echo "stage's train_log.csv as train_log_N_STAGE.csv (1_scratch, 2_roles, 3_where, 4_apart, 5_base, 6_direction);"
echo "shapes-vilt's own train_log.csv (the predictors') as dynamicvit_train_log.csv."
