#!/usr/bin/env bash
# Reproduces the bundled Shapes VQA models from scratch with tokenscope-cli (CPU, one torch thread
# each; the trainer draws the next batch's scenes on a second thread):
#   resources/models/shapes-vilt        the trained ViLT (6 layers, 128 wide, 192-px scenes in 24-px
#                                       patches; one run from random weights, 5,500 steps of 32,
#                                       about 55 min on the project's 2-core machine) with DynamicViT
#                                       predictors trained on it, its training log, test accuracy
#                                       and the accuracy/throughput sweep
#   resources/models/shapes-vilt-pumer  the same model fine-tuned with PuMer in place and KL
#                                       distillation from it (PuMer's recipe)
#   resources/models/shapes-meter       a METER (RoBERTa 2 layers, CLIP 4 blocks, 2 co-attention
#                                       layers, all 128 wide; PuMer's sequential order) trained
#                                       from random weights: 6,000 steps of 32, then 2,000 more
#                                       at a lower rate (73 min in all)
#   resources/models/shapes-meter-pumer that METER fine-tuned with PuMer's VQAv2 preset in place
#                                       (reference mode) and KL distillation from it
# Usage: tools/train_shapes_model.sh [WORK_DIR]   (default: build/shapes-train; resumable: a
# stopped stage continues from its checkpoint when the script is run again)
set -euo pipefail
cd "$(dirname "$0")/.."
cli=${TOKENSCOPE_CLI:-build/app/tokenscope-cli}
work=${1:-build/shapes-train}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
mkdir -p "$work"
stage() { echo; echo "== $*"; }

stage "1. the backbone, from random weights, with every auxiliary loss (about 55 min)"
# What each loss teaches: the README's "Shapes VQA" section.
[[ -f "$work/backbone/model.safetensors" ]] ||
    "$cli" train --task shapes --out "$work/backbone" --steps 5500 --batch 32 --lr 1e-3 --warmup 0.03 \
        --patch-loss 1 --grounding-loss 0.3 --grounding-layer 1 --role-loss 1 --role-loss-layer 3 \
        --head-attention-loss 0.3 --position-loss 1 --position-loss-layer 5 --cls-loss 10 --cls-direction \
        --validate-every 500 --val-n 320 --checkpoint-every 500 --log-every 100

stage "2. PuMer fine-tuning with the reducers in place, distilled from the backbone (4 min)"
[[ -f "$work/shapes-vilt-pumer/model.safetensors" ]] ||
    "$cli" train --task shapes --out "$work/shapes-vilt-pumer" --init-from "$work/backbone" --distill-from "$work/backbone" \
        --method pumer --layers 1,3,4 --prune 0.1 --merge 0.3 --merge-text 0.2 \
        --steps 300 --batch 32 --lr 1e-4 --warmup 0.05 --validate-every 150 --val-n 320 --checkpoint-every 150 --log-every 50

stage "3. DynamicViT predictors on the frozen backbone, ratio loss + distillation (3 min)"
[[ -f "$work/shapes-vilt/model.safetensors" ]] ||
    "$cli" train --task shapes --out "$work/shapes-vilt" --init-from "$work/backbone" --distill-from "$work/backbone" \
        --method dynamicvit --keep-ratio 0.7 --train-predictor-only \
        --steps 200 --batch 32 --lr 1e-3 --warmup 0.05 --validate-every 100 --val-n 320 --checkpoint-every 100 --log-every 50

stage "4. METER from random weights, with the auxiliary losses on its own tensors (56 min), then 2,000 steps more at a lower rate (17 min)"
# Loss layers count the image's path: CLIP blocks 1-4, then the fusion layers' image side (5, 6);
# the grounding loss reads fusion layer 0's text-to-image attention, the head attention loss the last.
# At lr 1e-3 the post-LN fusion stays at chance; 5e-4 learns, and a second, cooler cosine lifts the
# relations (the auxiliary heads start afresh there, so the first few hundred steps dip).
meter_losses=(--patch-loss 1 --patch-loss-layer 2 --grounding-loss 0.3 --grounding-layer 0 --role-loss 1 --role-loss-layer 5
    --head-attention-loss 0.3 --position-loss 1 --position-loss-layer 5 --cls-loss 10 --cls-direction
    --validate-every 500 --val-n 320 --checkpoint-every 500 --log-every 100)
[[ -f "$work/shapes-meter-scratch/model.safetensors" ]] ||
    "$cli" train --task shapes --arch meter --out "$work/shapes-meter-scratch" --steps 6000 --batch 32 --lr 5e-4 --warmup 0.05 \
        "${meter_losses[@]}"
[[ -f "$work/shapes-meter/model.safetensors" ]] ||
    "$cli" train --task shapes --arch meter --init-from "$work/shapes-meter-scratch" --out "$work/shapes-meter" \
        --steps 2000 --batch 32 --lr 2e-4 --warmup 0.05 "${meter_losses[@]}"
stage "4b. METER fine-tuned with PuMer's VQAv2 preset in place (reference mode) and KL distillation from it (12 min)"
[[ -f "$work/shapes-meter-pumer/model.safetensors" ]] ||
    "$cli" train --task shapes --out "$work/shapes-meter-pumer" --init-from "$work/shapes-meter" --distill-from "$work/shapes-meter" \
        --method pumer --preset vqav2 --mode reference \
        --steps 1000 --batch 32 --lr 1e-4 --warmup 0.05 --validate-every 250 --val-n 320 --checkpoint-every 250 --log-every 50
"$cli" eval --model "$work/shapes-meter" --seed 2 --n 1000 --json > "$work/meter_val.json"
"$cli" eval --model "$work/shapes-meter" --seed 3 --n 1000 --json > "$work/meter_test.json"
"$cli" eval --model "$work/shapes-meter" --seed 3 --n 1000 --method pumer --preset vqav2 --json > "$work/meter_pumer_test.json"
"$cli" eval --model "$work/shapes-meter" --seed 3 --n 1000 --method pumer --preset vqav2 --mode fixed --json > "$work/meter_pumer_fixed_test.json"
"$cli" eval --model "$work/shapes-meter-pumer" --seed 3 --n 1000 --method pumer --preset vqav2 --json > "$work/meter_pumer_tuned_test.json"

stage "5. validation and test accuracy (seeds 2 and 3; training draws from seed 1) and the sweep"
pumer=(--method pumer --layers 1,3,4 --prune 0.1 --merge 0.3 --merge-text 0.2)
"$cli" eval --model "$work/backbone" --seed 2 --n 1000 --json > "$work/backbone_val.json"
"$cli" eval --model "$work/backbone" --seed 3 --n 1000 --json > "$work/backbone_test.json"
"$cli" eval --model "$work/backbone" --seed 3 --n 1000 "${pumer[@]}" --json > "$work/backbone_pumer_test.json"
"$cli" eval --model "$work/shapes-vilt-pumer" --seed 3 --n 1000 "${pumer[@]}" --json > "$work/pumer_test.json"
"$cli" eval --model "$work/shapes-vilt" --seed 3 --n 1000 --method dynamicvit --keep-ratio 0.7 --json > "$work/dynamicvit_test.json"
"$cli" eval --model "$work/shapes-vilt" --sweep --seed 3 --n 500 --batch 32 --passes 3 --out "$work/shapes-vilt"
echo
echo "Copy $work/shapes-vilt and $work/shapes-vilt-pumer to resources/models/ (config.json, model.safetensors,"
echo "vocab.txt, preprocessor_config.json, train_command.txt, train_log.csv, sweep.*); the backbone's"
echo "train_log.csv goes into shapes-vilt as train_log.csv, the predictors' as dynamicvit_train_log.csv."
echo "Copy $work/shapes-meter to resources/models/ (config.json, model.safetensors, vocab.json, merges.txt);"
echo "the train_log.csv and train_command.txt of shapes-meter-scratch and shapes-meter go there as"
echo "train_log.csv / train_command.txt (first) and continue_log.csv / continue_command.txt (second);"
echo "$work/shapes-meter-pumer likewise (config.json, model.safetensors, vocab.json, merges.txt, train_log.csv,"
echo "train_command.txt)."
