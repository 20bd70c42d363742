#pragma once

// LLaVA-NeXT generation through the engine facade: the request, the streamed answer, what HiRED
// (or a baseline) did to every tile, timings and memory. Torch-free plain data on purpose (the
// window includes it through engine/engine.h). Spec: docs/models.md §2, docs/algorithms.md §2.

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "engine/memory.h"

#include "image/pil_resample.h"

namespace tokenscope {

// What happens to the visual tokens between the projector and the language model.
//   Full    the unreduced model (transformers' packing: unpadded grid with image_newline).
//   Hired   HiRED (Arif et al., arXiv 2408.10945): a budget of the image's visual tokens, split
//           between the full image (alpha) and the tiles (by layer-0 CLS attention of the full
//           image), tokens chosen per partition by the feature layer's CLS attention.
//   Spatial HiRED repository's spatial baseline: every g-th token of each partition,
//           g = N / int(N · budget) (0.4 realises 50%).
//   Random  a seeded random int(N · budget) tokens of each partition.
// Hired, Spatial and Random pack as HiRED does: kept full-image tokens, then the kept tile tokens
// in raster order of the stitched and unpadded tile grid, no image_newline, contiguous positions.
enum class LlavaMethod { Full, Hired, Spatial, Random };
// Paper: Algorithm 1 of the paper (tile budgets from sums of attention over each tile's
//   geometric region of the full image; tiles stitched in the processor's row-major order).
// Reference: hasanar1f/HiRED as written: tile budgets from counts of the top int(N·(1-alpha))
//   flagged tokens over consecutive N/k-token chunks of the full image (bands, not regions),
//   float32 ratios truncated with int(); non-square tile grids stitched with rows and columns
//   swapped and unpadded with int() (docs/algorithms.md §8 items 12-14).
enum class HiredMode { Paper, Reference };

std::string llavaMethodName(LlavaMethod method);  // "full" "hired" "spatial" "random"
LlavaMethod parseLlavaMethod(const std::string& name);  // throws Error listing the names
std::string hiredModeName(HiredMode mode);        // "paper" "reference"
HiredMode parseHiredMode(const std::string& name);  // throws Error

// The knobs of the visual-token methods. budget >= 1 keeps every token (= Full).
struct VisualTokenSettings {
    LlavaMethod method = LlavaMethod::Full;
    double budget = 0.2;  // token_budget_rate: fraction of the image's n·N visual tokens
    double alpha = 0.5;   // HiRED: the full image's share of the budget
    HiredMode mode = HiredMode::Paper;
    uint64_t seed = 0;    // Random
};
// One line, e.g. "hired paper budget 0.2 alpha 0.5".
std::string describe(const VisualTokenSettings& settings);

// One partition of an image: the full image (index 0) or a tile (1..k, row-major).
struct PartitionRecord {
    bool isFullImage = false;
    int row = -1, column = -1;  // tile position in the grid; -1 for the full image
    // Where the partition's N = p×p tokens lie in the original image, in original pixels: the
    // full image is (0, 0, width, height); a tile is its square of the padded canvas mapped back,
    // so it can reach past the image where the tile holds padding. Token t sits at row t / p,
    // column t % p of this rectangle, each token cell (width / p) × (height / p).
    double x = 0, y = 0, width = 0, height = 0;
    int budget = 0;       // tokens allotted (Full: N)
    double share = 0;     // what the budget split weighed: paper = CLS attention sum over the
                          // tile's region, reference = flagged tokens in its chunk (0 for the full image)
    std::vector<int> selected;  // token indices chosen (ascending), before unpadding
    std::vector<int> kept;      // the ones that reach the language model (ascending)
    std::vector<float> clsAttentionInitial;  // N values: CLIP layer 0, CLS row, heads summed
    std::vector<float> clsAttentionFinal;    // N values: the feature layer (vision_feature_layer)
};

struct ImageReductionRecord {
    VisualTokenSettings settings;
    int imageHeight = 0, imageWidth = 0;  // original size
    int gridRows = 0, gridColumns = 0;    // tiles
    int patchGrid = 0;                    // p: tokens per side of a partition (24 for ViT-L/336)
    int tileSize = 0;                     // pixels per tile side (336)
    int totalBudget = 0;                  // int(n · N · budget) (Full: every token)
    int fullImageBudget = 0;
    int tilesBudget = 0;                  // what the tiles shared
    int flaggedTokens = 0;                // reference mode: int(N · (1 - alpha))
    int tokensUnreduced = 0;              // the unreduced model's visual tokens (newlines included)
    int tokensSelected = 0;               // sum of the partitions' selections
    int tokensKept = 0;                   // visual tokens the language model receives (<= budget)
    std::vector<PartitionRecord> partitions;
};

// One answer about one image.
struct GenerateRequest {
    ImageU8 image;        // RGB
    std::string prompt;   // the user's question, put into the model's chat template; with
                          // rawPrompt the whole prompt, which must hold "<image>" once
    bool rawPrompt = false;
    LlavaMethod method = LlavaMethod::Full;
    double budget = 0.2, alpha = 0.5;
    HiredMode mode = HiredMode::Paper;
    uint64_t seed = 0;
    int maxNewTokens = 128;
    bool attentionMaps = true;  // fill the CLS attention maps of every partition (cheap: one row)
};

struct GenerateTimings {
    double preprocessMs = 0;  // AnyRes resize, crops, normalisation
    double visionMs = 0;      // CLIP tower, projector, HiRED / baseline selection, packing
    double prefillMs = 0;     // the language model over the prompt, up to the first token
    double ttftMs = 0;        // time to first token: preprocess + vision + prefill
    double decodeMs = 0;      // the cached decode steps after the first token
    double totalMs = 0;       // preprocess to the last token
    double decodeTokensPerSecond = 0;  // (generated - 1) / decode time, per sequence
    double hiredTokensPerSecond = 0;   // HiRED's definition: generated tokens / total time
};

struct GenerateResult {
    std::string text;               // the answer, decoded
    std::vector<int64_t> tokenIds;  // generated ids (the stop token included when one came)
    bool stoppedAtEos = false;
    std::string prompt;             // the prompt as formatted, "<image>" in place of the visual tokens
    int promptTokens = 0;           // language-model input tokens, visual tokens included
    int visualTokens = 0;           // = reduction.tokensKept
    ImageReductionRecord reduction;
    GenerateTimings timings;
    MemoryReport memory;
};

// Called on the generating thread for every new token with the text it adds (may be empty while
// a multi-byte character is incomplete, and is empty for the stop token). Return false to stop
// after this token. Bytes still held back after the last token come in one more call with
// tokenId -1. The deltas concatenated equal GenerateResult::text.
using GenerateCallback = std::function<bool(const std::string& delta, int64_t tokenId)>;

// A timed generation on synthetic inputs (random pixels, a fixed prompt), HiRED's protocol
// (docs/algorithms.md §2.10): `runs` timed repetitions after one warm-up, no early stop.
struct GenerationBenchRequest {
    VisualTokenSettings settings;
    int batch = 1;
    int imageHeight = 600, imageWidth = 600;
    int promptTokens = 16;  // text tokens around the image
    int maxNewTokens = 15;
    int runs = 3;
    uint64_t seed = 0;
};

struct GenerationBenchRow {
    VisualTokenSettings settings;
    int batch = 0;
    int runs = 0;
    int visualTokensUnreduced = 0, visualTokensKept = 0;  // per image (image 0)
    int promptTokens = 0;                // language-model input per sequence (longest)
    int newTokens = 0;                   // per sequence
    double visionMs = 0, prefillMs = 0;  // medians over the runs
    double ttftMs = 0;                   // median
    double decodeTokensPerSecond = 0;    // batch · (new - 1) / decode time, median
    double endToEndMs = 0;               // median
    double hiredTokensPerSecond = 0;     // batch · new / end-to-end time, median
    MemoryReport memory;                  // of the last run
    bool outOfMemory = false;
    std::string error;
};

}  // namespace tokenscope
