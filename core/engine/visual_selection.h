#pragma once

// What a visual-token method (HiRED, its baselines, or the full model) did to one LLaVA-NeXT image,
// as the model records it per partition, and the Trace made of it (engine/trace.h): CLIP's CLS
// attention at layer 0 and at the feature layer become vision layers with those scores, the
// selection a projector layer "select", the removal of selected tokens that lie in the canvas
// padding a projector layer "unpad". Torch-free plain data.

#include <vector>

#include "engine/trace.h"

namespace tokenscope {

// One partition of an image: the full image (index 0) or a tile (1..k, row-major).
struct PartitionSelection {
    bool isFullImage = false;
    int row = -1, column = -1;  // tile position in the grid; -1 for the full image
    // Where the partition's N = p×p tokens lie in the original image, in original pixels (see TraceRegion).
    double x = 0, y = 0, width = 0, height = 0;
    int budget = 0;       // tokens allotted (Full: N)
    double share = 0;     // what the budget split weighed: paper = CLS attention sum over the
                          // tile's region, reference = flagged tokens in its chunk (0 for the full image)
    std::vector<int> selected;  // token indices chosen (ascending), before unpadding
    std::vector<int> kept;      // the ones that reach the language model (ascending)
    std::vector<float> clsAttentionInitial;  // N values: CLIP layer 0, CLS row, heads summed
    std::vector<float> clsAttentionFinal;    // N values: the feature layer (vision_feature_layer)
};

struct VisualSelection {
    int imageHeight = 0, imageWidth = 0;  // original size
    int gridRows = 0, gridColumns = 0;    // tiles
    int patchGrid = 0;                    // p: tokens per side of a partition (24 for ViT-L/336)
    int tileSize = 0;                     // pixels per tile side (336)
    int featureLayer = -1;                // the CLIP layer whose attention clsAttentionFinal holds
    bool reduced = false;                 // a method chose the tokens (not the full model)
    VisualBudget budget;
    std::vector<PartitionSelection> partitions;
};

// Throws Error when the record cannot make a trace (indices out of range, attention maps of the
// wrong length, no partitions, a tile outside the grid), naming the partition.
void validateVisualSelection(const VisualSelection& selection);
Trace visualSelectionTrace(const VisualSelection& selection);

}  // namespace tokenscope
