#pragma once

// Core-internal: turns reduction records into the torch-free Trace. traceFromRecords is the
// family-independent part (one stream pair, the layers of one stage, a record per reduced layer);
// buildTrace fills it from one ViLT encoding (its encoder layers are fusion layers), the METER
// family from its fusion passes.

#include <map>
#include <set>
#include <string>
#include <vector>

#include "engine/trace.h"
#include "models/vilt.h"
#include "reduce/pumer.h"

namespace tokenscope {

struct TraceGeometry {
    int patchSize = 0;
    int resizedHeight = 0, resizedWidth = 0;
    int numLayers = 0;
};

// What traceFromRecords needs of one sample.
struct RecordedLayers {
    Trace skeleton;                          // the streams' geometry and labels (image.patchCell, text.labels)
    std::vector<int64_t> imagePositions;     // the reducer's image position of each original image token
    int imageCount = 0, textCount = 0;       // the tokens the first layer sees (padding included)
    Stage stage = Stage::Fusion;
    int numLayers = 0;
    std::map<int, const ReductionRecord*> records;  // by layer; -1 = before the first layer
    std::set<int> reducesBeforeAttention;    // layers whose attention already saw the reduced tokens
    std::vector<double> layerMs;             // may be empty
};
// The layers of the stage, each with the owners and sizes after it, the scores and merges of its
// reducer; finishDroppedAt done. Sample `sample` of the records' batch.
Trace traceFromRecords(const RecordedLayers& input, int64_t sample);

// Sample `sample` of the batch. textTokens are the word pieces of that sample (unpadded length).
// layerMs (may be empty) gives each block's latency.
Trace buildTrace(const ViltEncoding& encoding, int64_t sample, const std::vector<std::string>& textTokens,
                 const TraceGeometry& geometry);

}  // namespace tokenscope
