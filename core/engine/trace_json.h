#pragma once

// trace.json: the Trace of a run with its answers and settings (schema in the README). Writes
// version 2 (stage-tagged layers, streams with their geometry); reads versions 1 and 2.

#include <string>

#include <nlohmann/json.hpp>

#include "engine/engine.h"

namespace tokenscope {

nlohmann::json traceToJson(const Trace& trace);
// `version` 1 or 2 (the file's schema number). Throws Error naming what does not fit.
Trace traceFromJson(const nlohmann::json& json, int version);
// memory_protocol, memory_counter, weights_mib, activations_peak_mib, activations_peak_layer (null outside
// a layer), activations_peak_where, layer_activation_peak_mib, kv_cache_mib, reserved_mib (CUDA), rss_peak_mib.
nlohmann::json memoryToJson(const MemoryReport& memory);
nlohmann::json runToJson(const RunResult& run);
// Writes {"model", "question", "reduced": runToJson(reduced), "baseline": runToJson(baseline)}.
struct TraceFileRun {
    std::string name;  // "reduced" or "baseline"
    MethodSettings method;
    Trace trace;
};
struct TraceFile {
    int version = 0;
    std::string model, question;
    std::vector<TraceFileRun> runs;
};
// Reads a trace.json of version 1 or 2; throws Error naming the file and the problem.
TraceFile readTraceFile(const std::string& path);

void writeTraceJson(const std::string& path, const std::string& model, const std::string& question,
                    const RunResult& reduced, const RunResult* baseline);

}  // namespace tokenscope
