#pragma once

// trace.json: the TokenTrace of a run with its answers and settings (schema in the README).

#include <string>

#include <nlohmann/json.hpp>

#include "engine/engine.h"

namespace tokenscope {

nlohmann::json traceToJson(const TokenTrace& trace);
nlohmann::json runToJson(const RunResult& run);
// Writes {"model", "question", "reduced": runToJson(reduced), "baseline": runToJson(baseline)}.
void writeTraceJson(const std::string& path, const std::string& model, const std::string& question,
                    const RunResult& reduced, const RunResult* baseline);

}  // namespace tokenscope
