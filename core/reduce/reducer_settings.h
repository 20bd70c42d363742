#pragma once

// The typed settings of each reducer, as models and reducers take them (torch-free plain data).
// Users set methods through MethodSettings (core/methods/method_settings.h); a method's plan
// builder turns those into these (core/methods/reduction_plan.h).

#include <cstdint>
#include <string>
#include <vector>

namespace tokenscope {

// PuMer (Cao et al., ACL 2023; core/reduce/pumer.h). Reference reproduces csarron/PuMer with its
// quirks, Fixed corrects them (see "Modes" in core/reduce/pumer.h).
enum class ReductionMode { Reference, Fixed };
enum class PruneScore { MeanHead, FirstHead, KeyMetric, QueryKey };  // "mh", "fh", "km", "qk"
enum class ImageMergeStyle { Tome, Tip, Diff };

struct PumerConfig {
    double pruneRatio = 0.1;      // p: fraction of the layer-input image tokens (incl. image CLS) pruned
    double mergeRatio = 0.3;      // r: fraction of the pre-prune image count merged
    double textMergeRatio = 0.2;  // t: fraction of the current (padded) text length merged
    PruneScore score = PruneScore::MeanHead;
    ImageMergeStyle mergeStyle = ImageMergeStyle::Tome;
    ReductionMode mode = ReductionMode::Reference;
};

// ToMe inside ViLT (facebookresearch/ToMe; joint = whole-sequence merging like the ToMe-only fallback of
// csarron/PuMer vit_vilt.py Block.forward); see runViltTomeLayer
// (core/models/vilt.h) for what the model does with it. The r of each layer is the plan's step there.
struct TomeSettings {
    bool joint = false;             // merge over the whole text+image sequence (else the image part)
    bool proportionalAttention = true;
};

// Image-patch dropping before the first layer: per sample, kept = clamp(roundHalfEven(keepRatio · P),
// 1, P) of its P valid patches (the image CLS always kept, kept patches in raster order).
//  * random: a uniformly random subset from a SplitMix64 stream seeded by `seed` alone;
//  * uniform: evenly spaced in raster order, the j-th kept patch floor((j + 0.5) · P / kept).
// keepRatio >= 1 drops nothing.
enum class DropKind { Random, Uniform };
struct DropSettings {
    DropKind kind = DropKind::Random;
    double keepRatio = 1.0;
    uint64_t seed = 0;
};

// DynamicViT (raoyongming/DynamicViT) with a model's trained predictors: stage i keeps int(P0 · ρ^i)
// of the P0 initial patches, pruned before the blocks in `locations`.
struct DynamicVitSettings {
    std::vector<int> locations;
    double keepRatio = 0.7;  // ρ
    bool training = false;
};

// What happens to LLaVA's visual tokens between the projector and the language model.
//   Full    the unreduced model (transformers' packing: unpadded grid with image_newline).
//   Hired   HiRED (Arif et al., arXiv 2408.10945): a budget of the image's visual tokens, split
//           between the full image (alpha) and the tiles (by layer-0 CLS attention of the full
//           image), tokens chosen per partition by the feature layer's CLS attention.
//   Spatial every g-th token of each partition, g = N / int(N · budget) (HiRED repository's
//           spatial baseline; the method "uniform").
//   Random  a seeded random int(N · budget) tokens of each partition (the method "random").
// Hired, Spatial and Random pack as HiRED does: kept full-image tokens, then the kept tile tokens
// in raster order of the stitched and unpadded tile grid, no image_newline, contiguous positions.
enum class LlavaMethod { Full, Hired, Spatial, Random };
// Paper: Algorithm 1 of the paper (tile budgets from sums of attention over each tile's geometric
//   region of the full image; tiles stitched in the processor's row-major order).
// Reference: hasanar1f/HiRED as written: tile budgets from counts of the top int(N·(1-alpha))
//   flagged tokens over consecutive N/k-token chunks of the full image (bands, not regions),
//   float32 ratios truncated with int(); non-square tile grids stitched with rows and columns
//   swapped and unpadded with int() (hasanar1f/HiRED modeling_llava_next.py: HiRED_sub_img_budgets,
//   pack_HiRED_image_features).
enum class HiredMode { Paper, Reference };

std::string llavaMethodName(LlavaMethod method);  // "full" "hired" "spatial" "random"
std::string hiredModeName(HiredMode mode);        // "paper" "reference"

// The knobs of the visual-token selection. budget >= 1 keeps every token (= Full).
struct VisualTokenSettings {
    LlavaMethod method = LlavaMethod::Full;
    double budget = 0.2;  // token_budget_rate: fraction of the image's n·N visual tokens
    double alpha = 0.5;   // HiRED: the full image's share of the budget
    HiredMode mode = HiredMode::Paper;
    uint64_t seed = 0;    // Random
};

// Python's round() for the products PuMer rounds: ties go to the even integer.
int64_t roundHalfEven(double value);

}  // namespace tokenscope
