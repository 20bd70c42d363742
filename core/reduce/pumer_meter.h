#pragma once

// Core-internal: token reduction on METER's two streams, as pure functions called by the METER
// model (models/meter.h) at one hook per fusion layer: inside the text-side BertCrossLayer, after
// its cross-attention sub-block and before its FFN, where PuMer's METER code reduces.
//
//  * PuMer (Cao et al., ACL 2023), at parity with csarron/PuMer src/pumer/model/meter/modules_meter.py
//    BertCrossLayer.forward: text-informed pruning of the image stream (scores from the text-side
//    cross-attention), ToMe merging of the kept image tokens (head-mean cross-attention keys), ToMe
//    merging of the text (head-mean self-attention keys, text <s> protected), masks averaged.
//  * ToMe (Bolya et al., ICLR 2023) on the image stream only: bipartite soft matching on the same
//    image keys, image CLS protected, size-weighted averaging with sizes carried (no proportional
//    attention: METER's masks stay 0/1).
//  * Random / uniform dropping of image patches once, at the fusion input (image CLS kept).
//
// Contract: every function reads the tensors it is given and returns new tensors plus a record; it
// never touches a model. Same device/dtype in and out; every sample of a batch loses the same number
// of tokens (METER images are square and unpadded). Index tensors are int64. Throws
// tokenscope::Error on inconsistent shapes.
//
// PuMer modes:
//  * Reference, quirks included: the whole reducer is gated on prune_r > 0 (a ratio test: with
//    round(p·I) == 0 top-k still re-orders the image tokens by score); n_merge = round(r·I) is relative
//    to the pre-prune count I and clamped to (kept - 1) / 2; **when n_merge == 0 the pruning result is
//    discarded** (the image states stay the unpruned input; the record says isPruningDiscarded);
//    padded text query rows are summed into the score (divided by the valid count); the image CLS can
//    be pruned and "class-token" protection falls on the best-scored kept token (the image pooler then
//    reads it); the image mask is reset to ones. (Where the reference would crash — merge requested but
//    the ToMe clamp gives r <= 0, i.e. kept <= 2 — the pruned tokens are kept unmerged.)
//  * Fixed: pruning, image merging and text merging are gated independently on their counts; pruning
//    applies even without merging; pad query rows are excluded from the score (weighted by the text
//    mask); the image CLS is never pruned and stays first (pruning chooses among the patches, kept
//    patches in score order after it), so the pooler keeps reading the CLS; with nothing pruned the
//    image order is unchanged; the image mask is carried (gathered and averaged like the states).
// Counts use Python's round (half to even) in both modes.

#include <cstdint>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "reduce/pumer.h"
#include "reduce/tome.h"

namespace tokenscope {

// Counts of one PuMer METER call for I image tokens (incl. the former CLS) and T text tokens. They
// describe the effect: in Reference mode with n_merge == 0 (pruning discarded) tokensPruned = 0,
// tokensKept = imageOut = I, mergeRequested = 0 (the discarded top-k is in the record's keptIndex).
PumerCounts pumerMeterCounts(int64_t imageTokens, int64_t textTokens, const PumerConfig& config);
// Whether the reference would discard the pruning at this layer (Reference, p > 0, round(r·I) == 0).
bool pumerMeterDiscardsPruning(int64_t imageTokens, const PumerConfig& config);

// What the hook sees in the text-side layer of one fusion layer.
struct MeterReducerInput {
    torch::Tensor text;          // [B, T, C] text states after the cross-attention sub-block (before the FFN)
    torch::Tensor textMask;      // [B, T] key weights (0/1; fractional after PuMer text merges)
    torch::Tensor image;         // [B, I, C] the image states the cross-attention read
    torch::Tensor imageMask;     // [B, I]
    torch::Tensor textKeyMean;   // [B, T, dh] head-mean keys of the text self-attention (PuMer text merge)
    torch::Tensor imageKeyMean;  // [B, I, dh] head-mean keys of the cross-attention (key projection of image)
    torch::Tensor textToImage;   // [B, H, T, I] cross-attention probabilities (PuMer pruning score)
    torch::Tensor imageSize;     // [B, I, 1] originals inside each image token (ToMe; undefined = ones)
    torch::Tensor imageSource;   // [B, I, I0] provenance (undefined = identity of this layer's image tokens)
    torch::Tensor textSource;    // [B, T, T0] provenance (undefined = identity)
    bool recordProvenance = true;  // false: the record's sources and sizes stay undefined
};

// How the image stream was reduced, so that the same selection can be applied to another tensor of
// the same tokens (METER's parallel order reduces the image-side layer's output with it).
struct MeterImageSelection {
    torch::Tensor keptIndex;  // [B, kept] gathered first (undefined = none)
    BipartiteMatch match;     // then merged (r == 0: none)
    torch::Tensor weight;     // [B, kept, 1] merge weights (undefined = equal weights)
};
// x [B, I, C] -> [B, I', C] by the selection.
torch::Tensor applyImageSelection(const MeterImageSelection& selection, const torch::Tensor& x);

struct MeterReducerOutput {
    torch::Tensor text;       // [B, T', C]
    torch::Tensor textMask;   // [B, T']
    torch::Tensor image;      // [B, I', C]
    torch::Tensor imageMask;  // [B, I']
    torch::Tensor imageSize;  // [B, I', 1] (ToMe: carried sizes; otherwise undefined)
    // Record fields as in pumer.h (positions in this layer's input order): counts; isReduced;
    // imageScore [B, I] (PuMer); keptIndex/keptScore [B, kept] (PuMer: top-k order; Reference with a
    // discarded pruning: the discarded top-k); imageMergeSource/Destination [B, r] positions in the
    // kept list (ToMe: in the input) as 2·A-index / 2·B-index + 1; textMergeSource/Destination;
    // imageOrigin [B, I'] / textOrigin [B, T'] = input position each output token continues;
    // imageSource [B, I', I0], textSource [B, T', T0]; imageSize/textSize [B, I'] / [B, T'].
    ReductionRecord record;
    bool isPruningDiscarded = false;  // Reference quirk: top-k computed, image states not reassigned
    BipartiteMatch imageMatch;        // the image merge (over the kept list), r == 0 when none
    BipartiteMatch textMatch;         // the text merge, r == 0 when none
    MeterImageSelection selection;    // re-applies the image reduction
};

// PuMer in the text-side layer (call only in the listed fusion layers).
MeterReducerOutput pumerReduceMeter(const MeterReducerInput& input, const PumerConfig& config);

// ToMe on the image stream: r tokens merged (clamped to (I - 1) / 2, CLS at position 0 protected),
// sizes carried (input.imageSize), text untouched. r <= 0 returns the input with isReduced false.
MeterReducerOutput tomeReduceMeterImage(const MeterReducerInput& input, int64_t r);

enum class MeterDropMethod { Random, Uniform };
// Drops image patches at the fusion input (before fusion layer 0): image [B, 1 + P, C] -> [B, 1 + k, C]
// with k = clamp(round(keepRatio · P), 1, P); the CLS (position 0) is always kept; kept patches stay
// in raster order. Random: a uniform subset from SplitMix64 seeded by `seed` (the same subset for every
// sample, on every device); Uniform: patch floor((j + 0.5) · P / k) for j < k. keepRatio >= 1 keeps
// all (isReduced false). Only image, imageMask and the provenance fields of `input` are read.
MeterReducerOutput dropMeterImage(const MeterReducerInput& input, MeterDropMethod method, double keepRatio, uint64_t seed);

// PuMer's released METER settings (csarron/PuMer README checkpoints, notes/cmd.md) in METER's fusion-layer indices
// (PuMer's layer_idx / 2): VQAv2 layers 0,1,2,3 p0.2 r0.2 t0.2 at 384 px, text 32; SNLI-VE 0,1,2,3
// p0.3 r0.5 t0.2 at 384 px, text 40; NLVR2 1,2,3 p0.3 r0.5 t0.2 at 288 px, text 40.
struct MeterPumerPreset {
    std::string name;         // "vqa2", "snli-ve", "nlvr2"
    std::vector<int> fusionLayers;
    PumerConfig pumer;        // mode Reference
    int imageSize = 384;
    int maxTextLen = 32;
};
std::vector<MeterPumerPreset> meterPumerPresets();
// Throws Error for an unknown name, listing the known ones.
MeterPumerPreset meterPumerPreset(const std::string& name);
// PuMer's reduce_layers (layer_idx = 2 × fusion layer) -> fusion-layer indices; odd values are an Error.
std::vector<int> meterFusionLayersFromLayerIdx(const std::vector<int>& layerIdx);

}  // namespace tokenscope
