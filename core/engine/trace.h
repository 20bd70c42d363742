#pragma once

// What a run did to every token, layer by layer, for every model family: the contract between the
// engine and everything that draws (viz, the window, `tokenscope-cli trace`, trace.json).
// Torch-free plain data on purpose.
//
// Streams. A trace has an image stream and a text stream. Each knows its geometry and its
// "original" tokens, the ones before any reduction:
//   - a patch grid (ViLT, METER): image token 0 is the image CLS, 1..N the valid patches in raster
//     order (patchCell gives each one's row and column in the grid of the resized image);
//   - AnyRes regions (LLaVA-NeXT): the full image and every tile, each a p×p block of tokens;
//     region r's tokens are firstToken .. firstToken + p² - 1, token t of it at row t / p, column
//     t % p of the region's rectangle (given in original-image pixels);
//   - text: the word pieces of the question ([CLS] first and [SEP] last for BERT-style tokenizers).
//
// Layers. Each layer is tagged with its stage (vision, text, fusion, projector, decoder) and its
// index within that stage, and records per stream what the layer's MLP (or the next stage) sees
// after the layer's reduction: the owner of every original token ("current" token index, -1 =
// pruned), how many originals each current token holds, the reducer's scores and the merges.
// ViLT's encoder layers are fusion layers (one joint sequence); LLaVA-NeXT's visual-token
// selection is a projector layer (HiRED: "select", then "unpad" removes the selected tokens that
// lie in the canvas padding), with the CLIP layers whose CLS attention it read before it as
// vision layers carrying those scores; decoder-side methods add decoder layers.

#include <array>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "engine/timeline.h"  // Stage

namespace tokenscope {

enum class StreamKind { Image, Text };

// One AnyRes region of an image stream: the full image (index 0) or a tile (row-major).
struct TraceRegion {
    bool isFullImage = false;
    int row = -1, column = -1;  // tile position in the tile grid; -1 for the full image
    // Where the region's tokens lie in the original image, in original pixels: the full image is
    // (0, 0, width, height); a tile is its square of the padded canvas mapped back, so it can reach
    // past the image where the tile holds padding. Each token cell is (width / p) × (height / p).
    double x = 0, y = 0, width = 0, height = 0;
    int tokensPerSide = 0;  // p
    int firstToken = 0;     // its first original token in the stream
    int budget = -1;        // tokens a method allotted it (-1: no budget)
    double share = 0;       // what a budget split weighed it by (HiRED: CLS attention, or flagged tokens)
};

struct TraceStream {
    // Patch grid (ViLT, METER)
    int gridHeight = 0, gridWidth = 0;  // patch grid of the resized image
    int patchSize = 0;
    int resizedHeight = 0, resizedWidth = 0;    // the image as the model saw it, in pixels
    std::vector<std::array<int, 2>> patchCell;  // per original token: (row, col); (-1, -1) = image CLS
    // AnyRes regions (LLaVA-NeXT)
    int imageHeight = 0, imageWidth = 0;  // the original image
    int tileRows = 0, tileColumns = 0;    // tile grid
    int tileSize = 0;                     // pixels per tile side
    std::vector<TraceRegion> regions;
    // Text
    std::vector<std::string> labels;  // per original token (text streams)
    // Per original token: the index into Trace::layers of the layer it was pruned in; -1 = kept to the end.
    std::vector<int> droppedAt;

    bool hasGrid() const { return !patchCell.empty(); }
    bool hasRegions() const { return !regions.empty(); }
    int originalCount() const;  // original tokens of the stream
};

// What one layer did to one stream.
struct StreamStep {
    int tokensIn = 0;            // tokens the layer's attention (or selection) saw
    int tokens = 0;              // after the layer's reduction
    std::vector<int> owner;      // per original token: current token holding it, -1 = pruned
    std::vector<float> size;     // per current token: how many original tokens it holds
    std::vector<float> score;    // per original token: the score the reducer (or the layer) gave its holder (empty = none)
    std::vector<std::pair<int, int>> merges;  // (source, destination) as original-token representatives
};

struct TraceLayer {
    Stage stage = Stage::Fusion;
    int index = 0;              // the layer's index within its stage (CLIP layer, fusion layer, ...)
    std::string label;          // what the layer is when not a plain layer ("select", "unpad")
    bool reduced = false;       // a reducer changed the tokens in this layer
    bool jointSequence = false; // owners index the whole text+image sequence (joint ToMe), not each stream
    bool removesPadding = false;  // the tokens pruned here lie in the canvas padding (not the method's choice)
    StreamStep image, text;
    double latencyMs = 0;       // this layer's wall time (synchronised on a GPU); 0 = not timed
};

// A visual-token method's budget (HiRED; baselines at its budget). total < 0: none.
struct VisualBudget {
    int total = -1;           // int(n · N · budget) (the full model: every token)
    int fullImage = 0;        // the full image's share
    int tiles = 0;            // what the tiles shared
    int flagged = 0;          // reference mode: int(N · (1 - alpha))
    int unreducedTokens = 0;  // the unreduced model's visual tokens (newlines included)
    int selectedTokens = 0;   // the selection over every region
    int deliveredTokens = 0;  // visual tokens the language model receives
};

struct Trace {
    TraceStream image;
    TraceStream text;
    std::vector<TraceLayer> layers;
    VisualBudget budget;

    // The index of the first layer of `stage` with `index` (and, when not empty, `label`); -1 = none.
    int find(Stage stage, int index, const std::string& label = {}) const;
    // A layer's name for scrubbers and pages: "layer 5" for fusion layers, else "<stage> 5" or the label.
    std::string layerName(int layer) const;
};

// Fills every stream's droppedAt from the layers' owners (the first layer where a token has none).
void finishDroppedAt(Trace& trace);

// Trace version 2 is this layout; the JSON of version 1 (ViLT only: one list of encoder layers, no
// stages or streams) is still read (engine/trace_json.h).
constexpr int kTraceVersion = 2;

}  // namespace tokenscope
