#pragma once

// Core-internal: turns the reduction records of one ViLT encoding into the torch-free Trace (its encoder layers are fusion layers).

#include <string>
#include <vector>

#include "engine/trace.h"
#include "models/vilt.h"

namespace tokenscope {

struct TraceGeometry {
    int patchSize = 0;
    int resizedHeight = 0, resizedWidth = 0;
    int numLayers = 0;
};

// Sample `sample` of the batch. textTokens are the word pieces of that sample (unpadded length).
// layerMs (may be empty) gives each block's latency.
Trace buildTrace(const ViltEncoding& encoding, int64_t sample, const std::vector<std::string>& textTokens,
                 const TraceGeometry& geometry);

}  // namespace tokenscope
