#pragma once

// Core-internal: PuMer's token reducer (Cao et al., "PuMer: Pruning and Merging Tokens for
// Efficient Vision Language Models", ACL 2023) as a pure function, at parity with csarron/PuMer
// src/pumer/model/vilt/vit_vilt.py Block.forward, src/pumer/model/reducer.py and src/pumer/model/common.py.
//
// Contract: pumerReduce() is pure: it reads the tensors it is given (hidden states after the
// attention residual, the attention rows / key metric of the same layer) and returns new tensors
// plus a ReductionRecord; it never touches a model. Same device/dtype in and out. Every sample of a
// batch loses the same number of tokens. Throws tokenscope::Error on inconsistent shapes.
//
// Modes:
//  * Reference: what PuMer's code does, quirks included: everything is skipped when
//    round(p·I) == 0 (then the legacy whole-sequence ToMe runs with int(mergeRatio) tokens and the
//    text length is left stale); padded text query rows are summed into the pruning score; the
//    merge count is relative to the pre-prune image count.
//  * Fixed: pruning, image merging and text merging are gated independently (p = 0 keeps every
//    image token in its original order but still merges); padded text query rows are weighted by
//    the text mask (excluded) in the pruning score; no whole-sequence fallback.
// Counts use Python's round (half to even) in both modes.

#include <cstdint>

#include <torch/torch.h>

#include "reduce/reducer_settings.h"
#include "reduce/tome.h"

namespace tokenscope {

// Token counts of one reducer call for I image tokens (incl. image CLS and padding) and T text tokens.
struct PumerCounts {
    int64_t imageIn = 0, textIn = 0;
    int64_t tokensPruned = 0, tokensKept = 0;
    int64_t mergeRequested = 0, tokensMerged = 0;  // image merge: requested round(r·I), applied after the cap
    int64_t imageOut = 0;
    int64_t textMergeRequested = 0, textMerged = 0, textOut = 0;
    int64_t wholeSequenceMerged = 0;  // reference fallback only (p rounds to 0)
    int64_t tokensOut() const { return textOut + imageOut; }
};
PumerCounts pumerCounts(int64_t imageTokens, int64_t textTokens, const PumerConfig& config);

// reducer.bipartite_weighted_matching ("tip"): metric [B, N, c] scaled by scores [B, N], then cosine
// matching with position 0 protected, r <= (N - 1) / 2, unmerged sorted. Apply with MergeReduce::Sum.
BipartiteMatch tipMatching(const torch::Tensor& metric, const torch::Tensor& scores, int64_t r);
// reducer.bipartite_diff_matching ("diff"): pairs A/B tokens with the closest scalar scores [B, N],
// smallest difference first, r <= N / 2, nothing protected, unmerged NOT re-sorted. Apply with Sum.
BipartiteMatch diffMatching(const torch::Tensor& scores, int64_t r);

struct PumerLayerInput {
    torch::Tensor hidden;       // [B, T+I, C] after the attention residual, text first
    int64_t textLength = 0;     // T (padded)
    torch::Tensor mask;         // [B, T+I] key mask of this layer (0/1, text part may be fractional)
    torch::Tensor keyMean;      // [B, T+I, dh] keys averaged over heads
    torch::Tensor queryMean;    // [B, T+I, dh] queries averaged over heads (QueryKey only)
    torch::Tensor textToImage;  // [B, H, T, I] attention probabilities, rows softmaxed over all keys
                                // (MeanHead / FirstHead only)
    torch::Tensor imageSource;  // [B, I, I0] provenance (undefined = identity of this layer's image tokens)
    torch::Tensor textSource;   // [B, T, T0] provenance (undefined = identity)
    bool recordProvenance = true;  // false: the record's sources and sizes stay undefined (no trace wanted)
};

// What one reducer call did. Positions are in the layer-input order unless stated.
struct ReductionRecord {
    PumerCounts counts;
    bool isReduced = false;               // the prune/merge path ran (reference: round(p·I) > 0)
    bool isJointSequence = false;         // indices/rows are over the whole text+image sequence (ToMe joint)
    torch::Tensor imageScore;             // [B, I] text-informed importance of every input image token
    torch::Tensor keptIndex;              // [B, kept] input image positions kept, in score order (Fixed, p = 0: spatial order)
    torch::Tensor keptScore;              // [B, kept]
    torch::Tensor imageMergeSource;       // [B, r] positions in the kept list merged away
    torch::Tensor imageMergeDestination;  // [B, r] positions in the kept list they went into
    torch::Tensor textMergeSource;        // [B, rt] input text positions merged away
    torch::Tensor textMergeDestination;   // [B, rt] input text positions they went into
    torch::Tensor imageOrigin;            // [B, I_out] input image position each output image token continues
    torch::Tensor textOrigin;             // [B, T_out]
    torch::Tensor imageSource;            // [B, I_out, I0] updated provenance (pruned originals have no owner)
    torch::Tensor textSource;             // [B, T_out, T0]
    torch::Tensor imageSize, textSize;    // [B, I_out], [B, T_out] original tokens inside each (rows of the sources)
};

struct PumerLayerOutput {
    torch::Tensor hidden;    // [B, T'+I', C]
    torch::Tensor mask;      // [B, T'+I'] float; image part: Reference all ones, Fixed the kept/merged input mask
    int64_t textLength = 0;  // T' (reference whole-sequence fallback: stale, as the reference returns it)
    ReductionRecord record;
};

PumerLayerOutput pumerReduce(const PumerLayerInput& input, const PumerConfig& config);

}  // namespace tokenscope
