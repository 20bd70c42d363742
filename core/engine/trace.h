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

#include "methods/method_registry.h"
#include "methods/method_settings.h"

namespace tokenscope {

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
