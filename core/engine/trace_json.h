#pragma once

// trace.json: the TokenTrace of a run with its answers and settings (schema in the README).

#include <string>

#include <nlohmann/json.hpp>

#include "engine/engine.h"

namespace tokenscope {

nlohmann::json traceToJson(const TokenTrace& trace);
// memory_protocol, memory_counter, weights_mib, activations_peak_mib, activations_peak_layer (null outside
// a layer), activations_peak_where, layer_activation_peak_mib, kv_cache_mib, reserved_mib (CUDA), rss_peak_mib.
nlohmann::json memoryToJson(const MemoryReport& memory);
nlohmann::json runToJson(const RunResult& run);
// Writes {"model", "question", "reduced": runToJson(reduced), "baseline": runToJson(baseline)}.
void writeTraceJson(const std::string& path, const std::string& model, const std::string& question,
                    const RunResult& reduced, const RunResult* baseline);

}  // namespace tokenscope
