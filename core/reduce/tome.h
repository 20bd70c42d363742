#pragma once

// Core-internal: ToMe (Bolya et al., "Token Merging: Your ViT But Faster", ICLR 2023) as pure
// functions, at parity with facebookresearch/ToMe tome/merge.py (and tome/patch/timm.py, tome/utils.py).
//
// Contract: every function here is pure (no model access, no globals); tensors stay on the device
// and dtype they come in; index tensors are int64. Sequences are [B, N, C]; A = even positions
// 0, 2, 4, ..., B = odd positions 1, 3, 5, .... A merge output is [unmerged A, all of B], length N - r.
// Errors (bad ranks) throw tokenscope::Error.

#include <cstdint>
#include <tuple>
#include <utility>
#include <vector>

#include <torch/torch.h>

#include "reduce/tome_schedule.h"

namespace tokenscope {

// What one bipartite soft matching decided. r == 0 means "identity" (every function passes through).
struct BipartiteMatch {
    int64_t tokens = 0;   // N, the input length
    int64_t r = 0;        // effective merge count: min(requested, (N - protected) / 2), >= 0
    bool hasClassToken = false;
    torch::Tensor unmergedIndex;     // [B, |A| - r] int64, positions in A (ascending when hasClassToken)
    torch::Tensor sourceIndex;       // [B, r] int64, positions in A, best match first
    torch::Tensor destinationIndex;  // [B, r] int64, positions in B, partner of sourceIndex
    torch::Tensor sourceScore;       // [B, r] cosine similarity of each merged pair (metric dtype)
};

enum class MergeReduce { Sum, Mean, Amax };

// The best partner of every row of scores [B, Na, Nb] (largest when `descending`, else smallest):
// its score and index, the first index among those within a few units of rounding of the best (8
// machine epsilons of the dtype, relative to the scale of 1). The reference takes the first of
// exactly equal scores; a float GEMM need not score equal tokens (duplicate padding patches, a
// flat background) exactly equally, as OpenBLAS's FMA kernels round a row in an edge tile
// differently from the same row inside, and the choice among them would depend on the CPU.
std::tuple<torch::Tensor, torch::Tensor> bestPartner(const torch::Tensor& scores, bool descending);

// The match that scores [B, Na, Nb] (A against B, masked already) decide: each A token's best B
// partner (bestPartner), the r A tokens with the best partners merge (best first). sortUnmerged:
// the tokens left in A go back to position order (a class token stays first), else they stay in
// score order. Shared by ToMe and PuMer's tip and diff styles.
BipartiteMatch matchFromScores(const torch::Tensor& scores, int64_t tokens, int64_t r, bool descending, bool sortUnmerged);

// ToMe's bipartite_soft_matching. metric [B, N, C] (head-averaged keys); the metric is L2-normalised
// per token (no epsilon, like the reference: an all-zero key gives NaN). classToken protects
// position 0 (never a source, never a destination, stays first).
BipartiteMatch bipartiteSoftMatching(const torch::Tensor& metric, int64_t r, bool classToken);

// Rows picked per sample: out[b, i] = x[b, stride * index[b, i] + offset]; x [B, N, C], index [B, k]
// int64 -> [B, k, C]. The same values as x.gather(1, expanded index) (a copy of whole rows), as one
// index_select over the [B * N, C] table: LibTorch 1.13's CPU gather walks element by element with
// an index check each, 6-10x slower for the row sizes of a ViT.
torch::Tensor selectRows(const torch::Tensor& x, const torch::Tensor& index, int64_t stride = 1, int64_t offset = 0);

// The closure `merge(x, mode)`: x [B, N, C] -> [B, N - r, C]. scatter_reduce includes the
// destination itself (Mean = mean over destination and its sources); Sum on the CPU adds the
// sources in the same order with index_add_ (the same sums, several times faster).
torch::Tensor applyMerge(const BipartiteMatch& match, const torch::Tensor& x, MergeReduce mode);

// merge_wavg: x <- merge(x * s, sum) / merge(s, sum); s <- merge(s, sum). size [B, N, 1] or
// undefined (= ones). Returns the merged x [B, N - r, C] and sizes [B, N - r, 1].
struct WeightedMerge {
    torch::Tensor x;
    torch::Tensor size;
};
WeightedMerge mergeWeightedAverage(const BipartiteMatch& match, const torch::Tensor& x,
                                   const torch::Tensor& size = {});

// The sums merge_wavg divides: x = merge(x * size, sum) [B, N - r, C], size = merge(size, sum)
// [B, N - r, 1], in one gather / scatter. size [B, N, 1] defined.
WeightedMerge mergeWeightedSums(const BipartiteMatch& match, const torch::Tensor& x, const torch::Tensor& size);

// Equal-weight averages (merge_wavg without sizes) of a state x [B, N, C] and its mask [B, N],
// merged as one tensor. Returns the merged state [B, N - r, C] and mask [B, N - r].
std::pair<torch::Tensor, torch::Tensor> mergeWithMask(const BipartiteMatch& match, const torch::Tensor& x,
                                                      const torch::Tensor& mask);

// merge_source: source [B, N, N0] (undefined = identity [B, N, N]) merged with Amax; row = current
// token, column = original token, 1 where the original is inside it.
torch::Tensor mergeSource(const BipartiteMatch& match, const torch::Tensor& x, const torch::Tensor& source = {});

// unmerge: merged [B, N - r, C] -> [B, N, C]; every source slot gets a copy of its destination.
torch::Tensor unmerge(const BipartiteMatch& match, const torch::Tensor& merged);

// For each current token, the current position it came from before this merge:
// positions of [unmerged A, B] in the input order. [B, N - r] int64.
torch::Tensor mergedOrigin(const BipartiteMatch& match);

}  // namespace tokenscope
