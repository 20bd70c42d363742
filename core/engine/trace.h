#pragma once

// What a run did to every token, layer by layer: the contract between the engine and everything
// that draws (viz, the window, `tokenscope-cli trace`). Torch-free plain data on purpose.
//
// Indexing. "Original" image tokens are the encoder's image tokens before any reduction: index 0
// is the image CLS, 1..N the valid patches in raster order of the patch grid (patchCell gives
// each one's row and column). Original text tokens are the word pieces of the question, [CLS]
// first and [SEP] last. "Current" tokens are the ones a layer's MLP sees after that layer's
// reduction; their indices run over the image part and the text part separately.

#include <array>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace tokenscope {

enum class Method { None, Pumer, Tome, SmallerResolution, RandomDrop, UniformDrop, DynamicVit };

std::string methodName(Method method);             // "none" "pumer" "tome" "smres" "random" "uniform" "dynamicvit"
Method parseMethod(const std::string& name);        // throws Error listing the names

// Every knob of every method. Only the fields of the chosen method matter.
struct MethodSettings {
    Method method = Method::None;
    // PuMer (docs/algorithms.md §1): reduction layers and ratios; "reference" reproduces
    // csarron/PuMer including its quirks, "fixed" corrects them.
    std::string mode = "reference";
    std::vector<int> layers{2, 5, 8};
    double pruneRatio = 0.1;       // p
    double imageMergeRatio = 0.3;  // r
    double textMergeRatio = 0.2;   // t
    std::string score = "mean-head";  // mean-head | first-head | key | qk (reference mode)
    std::string mergeStyle = "tome";  // tome | tip | diff (reference mode)
    // ToMe: tokens merged per layer, constant r, or (r, inflect), or an explicit list per layer.
    int tomeR = 8;
    double tomeInflect = 0.0;
    std::vector<int> tomeSchedule;  // non-empty: r of layer i (overrides tomeR)
    bool tomeJoint = false;         // false: image tokens only; true: the whole text+image sequence
    // Baselines at a token budget: the fraction of image patches kept (random, uniform), or the
    // fraction of patches the smaller input resolution leaves (smres).
    double keepRatio = 0.54;
    int shortestEdge = 0;  // smres: explicit shortest edge in pixels (0 = derive from keepRatio)
    uint64_t seed = 0;     // random
    // DynamicViT (docs/algorithms.md §4), only on checkpoints with trained predictors: stage i keeps
    // int(P0 · ρ^i) of the P0 initial patches, pruned before the blocks in dynamicVitLocations
    // (empty = the locations the predictors were trained at, config.json dynamicvit_config).
    double dynamicVitKeepRatio = 0.7;  // ρ
    std::vector<int> dynamicVitLocations;
};

// Presets from the released PuMer checkpoints: "vqav2" and "nlvr2" (layers 2,5,8, p 0.1, r 0.3,
// t 0.2) and "snli-ve" (layers 2,4,6,8). Throws Error for an unknown name.
MethodSettings pumerPreset(const std::string& name);
// The presets name layers of 12-layer ViLT-B/32: the same depth fractions in a model of `depth`
// layers (rounded, clamped, duplicates dropped; unchanged for 12 or more layers).
std::vector<int> presetLayersAtDepth(const std::vector<int>& layers, int depth);
// One line, e.g. "pumer reference L2,5,8 p0.1 r0.3 t0.2".
std::string describe(const MethodSettings& settings);

struct LayerTrace {
    int layer = 0;
    bool reduced = false;       // a reducer changed the tokens in this layer
    bool jointSequence = false; // owners index the whole text+image sequence (joint ToMe), not each part
    int imageTokensIn = 0;      // image tokens the layer's attention saw (incl. image CLS)
    int textTokensIn = 0;
    int imageTokens = 0;        // after this layer's reduction
    int textTokens = 0;
    std::vector<int> imageOwner;   // per original image token: current image token holding it, -1 = pruned
    std::vector<int> textOwner;    // per original text token: current text token holding it, -1 = pruned
    std::vector<float> imageSize;  // per current image token: how many original tokens it holds
    std::vector<float> textSize;
    std::vector<float> imageScore; // per original image token: score the reducer gave its holder here (empty = none)
    std::vector<std::pair<int, int>> imageMerges;  // (source, destination) as original-token representatives
    std::vector<std::pair<int, int>> textMerges;
    double latencyMs = 0;          // this layer's wall time (synchronised on a GPU)
};

struct TokenTrace {
    int gridHeight = 0, gridWidth = 0;  // patch grid of the resized image
    int patchSize = 0;
    int resizedHeight = 0, resizedWidth = 0;  // the image as the model saw it, in pixels
    std::vector<std::array<int, 2>> patchCell;  // per original image token: (row, col); (-1, -1) = image CLS
    std::vector<std::string> textTokens;        // per original text token
    std::vector<LayerTrace> layers;             // one per encoder layer
    std::vector<int> imageDroppedAt;            // per original image token: layer it was pruned in, -1 = kept to the end
    std::vector<int> textDroppedAt;
};

}  // namespace tokenscope
