#pragma once

// Core-internal: what a MethodSettings means for a ViLT model (the engine, training and
// evaluation share it).

#include <optional>

#include "config/model_config.h"
#include "engine/trace.h"
#include "image/vilt_preprocess.h"
#include "models/vilt.h"

namespace tokenscope {

// The encoder's reduction for a method (std::nullopt for none and smaller resolution, which
// changes the preprocessing instead). Throws Error for settings the model cannot take.
std::optional<ViltReduction> viltReductionFor(const MethodSettings& settings, const ViltConfig& config);

// Smaller resolution: the shortest edge that leaves about keepRatio of the default patch count
// (patches scale with the area), on the size divisor's grid; settings.shortestEdge when given.
int smallerResolutionEdge(const MethodSettings& settings, const ViltPreprocessConfig& config);

}  // namespace tokenscope
