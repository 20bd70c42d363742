#pragma once

// LLaVA-NeXT generation through the engine facade: the request, the streamed answer, what HiRED
// (or a baseline) did to every tile, timings and memory. Torch-free plain data on purpose (the
// window includes it through engine/engine.h). Spec: docs/models.md §2, docs/algorithms.md §2.

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "engine/memory.h"
#include "methods/method_settings.h"
#include "reduce/reducer_settings.h"

#include "image/pil_resample.h"

namespace tokenscope {

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
    MethodSettings method;          // as the user set it (describe() names it)
    VisualTokenSettings settings;   // what the method did to the visual tokens
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
    MethodSettings method;  // a method serving LLaVA (core/methods): none, hired, uniform, random
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
    MethodSettings method;
    int batch = 1;
    int imageHeight = 600, imageWidth = 600;
    int promptTokens = 16;  // text tokens around the image
    int maxNewTokens = 15;
    int runs = 3;
    uint64_t seed = 0;
};

struct GenerationBenchRow {
    MethodSettings method;
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
