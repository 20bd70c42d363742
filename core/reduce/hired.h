#pragma once

// Core-internal: HiRED (Arif et al., "HiRED: Attention-Guided Token Dropping for Efficient
// Inference of High-Resolution Vision-Language Models", arXiv 2408.10945; code hasanar1f/HiRED)
// and the baselines it is compared with, as pure functions of CLS-attention scores and the image
// geometry (hasanar1f/HiRED modeling_llava_next.py). LlavaNext calls them between the projector and the language
// model; nothing here touches a model.
//
// One image has n = 1 + k partitions of N = p² tokens each: the full image (index 0, the whole
// image squashed to S×S) and k = rows × columns tiles of the padded canvas, row-major.
// Token t of a partition sits at row t / p, column t % p.

#include <array>
#include <cstdint>
#include <utility>
#include <vector>

#include <torch/types.h>

#include "engine/generation.h"

namespace tokenscope {

struct PartitionGeometry {
    int rows = 1, columns = 1;               // tile grid
    int patchGrid = 24;                      // p
    int tileSize = 336;                      // S, pixels
    int imageHeight = 0, imageWidth = 0;     // original image
    int canvasHeight = 0, canvasWidth = 0;   // best resolution = rows·S × columns·S
    int resizedHeight = 0, resizedWidth = 0; // the image inside the canvas (aspect kept)

    int partitions() const { return 1 + rows * columns; }
    int tokensPerPartition() const { return patchGrid * patchGrid; }
};

// The geometry AnyRes gives an original (height, width) for the pinpoints.
PartitionGeometry partitionGeometry(int height, int width, const std::vector<std::pair<int, int>>& pinpoints,
                                    int tileSize, int patchSize);

// Where partition i lies in original-image pixels (x, y, width, height); see PartitionRecord.
std::array<double, 4> partitionRectangle(const PartitionGeometry& geometry, int partition);

// Rows [rowBegin, rowEnd) and columns [columnBegin, columnEnd) that unpad_image keeps of a
// currentHeight × currentWidth map for an original (height, width). Rounded: transformers
// (new = int(round(h · cur_w / w, 7)), the processor's count); Truncated: HiRED's copy (int()).
// The same floor((cur - new) / 2) is cut from both sides.
struct UnpadBox {
    int64_t rowBegin = 0, rowEnd = 0, columnBegin = 0, columnEnd = 0;
};
enum class UnpadRounding { Rounded, Truncated };
UnpadBox unpadBox(int64_t currentHeight, int64_t currentWidth, int64_t height, int64_t width, UnpadRounding rounding);

// Which tokens of which partition a method keeps, before packing.
struct TokenSelection {
    torch::Tensor masks;        // [n, N] bool, CPU
    std::vector<int> budgets;   // per partition
    std::vector<double> shares; // per partition: what the tile split weighed (0 for the full image)
    int totalBudget = 0;        // int(n · N · budget)
    int fullImageBudget = 0;
    int tilesBudget = 0;
    int flaggedTokens = 0;      // reference mode: int(N · (1 - alpha))
};

// HiRED. clsInitial, clsFinal: [n, N] CLS attention (heads summed) of CLIP layer 0 and of the
// feature layer, any float dtype and device. Budgets (HiRED paper Algorithm 1 / the reference's
// HiRED_token_selection and HiRED_sub_img_budgets):
//   total = int(n·N·budget); full = min(int(total·alpha), N); tiles = min(total - full, (n-1)·N)
//   Paper:     s_i = Σ_t clsInitial[0, t] · (the fraction of full-image token t inside tile i's
//              region of the image), N_i = min(int(tiles · s_i / Σ s), N)
//   Reference: the top int(N·(1-alpha)) tokens of clsInitial[0] flagged, c_i = flags in the i-th
//              consecutive N/k chunk, N_i = min(int(float32(c_i / Σ c) · tiles), N)
// (with Σ = 0, where the reference divides by zero, the tiles share evenly). Then the top full
// tokens of clsFinal[0] and the top N_i of clsFinal[i] (torch::topk). A single partition (no
// tiles) keeps min(total, N). budget >= 1 keeps everything. Throws Error on shape mismatches.
TokenSelection hiredSelect(const torch::Tensor& clsInitial, const torch::Tensor& clsFinal,
                           const PartitionGeometry& geometry, double budget, double alpha, HiredMode mode);

// HiRED repository's spatial baseline: per partition the tokens 0, g, 2g, ... < N - 1 with
// g = N / int(N · budget) (nothing when int(N · budget) = 0).
TokenSelection spatialSelect(int partitions, int tokensPerPartition, double budget);

// int(N · budget) tokens of each partition drawn without replacement from a generator seeded
// with seed (mt19937_64, the same on every platform).
TokenSelection randomSelect(int partitions, int tokensPerPartition, double budget, uint64_t seed);

// Every token of every partition.
TokenSelection keepAllSelect(int partitions, int tokensPerPartition);

// HiRED's packing order (pack_HiRED_image_features): the kept full-image tokens in raster order,
// then the tiles' masks stitched into one grid, unpadded for the original size, and read in raster
// order; no image_newline. Paper stitches the tiles as the processor cut them (rows × columns) and
// unpads Rounded; Reference stitches them as HiRED's code does (the grid shape unpacked swapped,
// so a 1×2 grid becomes 2×1) and unpads Truncated.
struct PackOrder {
    std::vector<int64_t> flatIndices;             // partition · N + token, in the order fed to the LM
    std::vector<std::vector<int>> keptPerPartition;  // ascending token indices that survived unpadding
};
PackOrder hiredPackOrder(const torch::Tensor& masks, const PartitionGeometry& geometry, HiredMode mode);

}  // namespace tokenscope
