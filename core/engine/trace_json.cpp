#include "engine/trace_json.h"

#include <cmath>
#include <fstream>

#include "common/error.h"
#include "methods/method_json.h"

namespace tokenscope {

namespace {
nlohmann::json scores(const std::vector<float>& values) {
    auto out = nlohmann::json::array();
    for (float v : values) out.push_back(std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr));
    return out;
}
}  // namespace

nlohmann::json traceToJson(const TokenTrace& t) {
    nlohmann::json j;
    j["grid"] = {t.gridHeight, t.gridWidth};
    j["patch_size"] = t.patchSize;
    j["resized_hw"] = {t.resizedHeight, t.resizedWidth};
    j["patch_cell"] = t.patchCell;
    j["text_tokens"] = t.textTokens;
    j["image_dropped_at"] = t.imageDroppedAt;
    j["text_dropped_at"] = t.textDroppedAt;
    j["layers"] = nlohmann::json::array();
    for (const auto& l : t.layers) {
        nlohmann::json layer;
        layer["layer"] = l.layer;
        layer["reduced"] = l.reduced;
        layer["joint_sequence"] = l.jointSequence;
        layer["image_tokens_in"] = l.imageTokensIn;
        layer["text_tokens_in"] = l.textTokensIn;
        layer["image_tokens"] = l.imageTokens;
        layer["text_tokens"] = l.textTokens;
        layer["image_owner"] = l.imageOwner;
        layer["text_owner"] = l.textOwner;
        layer["image_size"] = l.imageSize;
        layer["text_size"] = l.textSize;
        layer["image_score"] = scores(l.imageScore);
        layer["image_merges"] = l.imageMerges;
        layer["text_merges"] = l.textMerges;
        layer["latency_ms"] = l.latencyMs;
        j["layers"].push_back(std::move(layer));
    }
    return j;
}

nlohmann::json memoryToJson(const MemoryReport& m) {
    nlohmann::json j;
    j["memory_protocol"] = memoryProtocolName(m.protocol);
    j["memory_counter"] = m.counter;
    j["weights_mib"] = toMiB(m.weightsBytes);
    if (m.hasAllocatorFigures()) {
        j["activations_peak_mib"] = toMiB(m.activationsPeakBytes);
        j["activations_peak_layer"] = m.activationsPeakLayer >= 0 ? nlohmann::json(m.activationsPeakLayer) : nlohmann::json(nullptr);
        j["activations_peak_where"] = m.activationsPeakWhere;
        auto layers = nlohmann::json::array();
        for (const auto bytes : m.layerActivationPeakBytes) layers.push_back(bytes >= 0 ? nlohmann::json(toMiB(bytes)) : nlohmann::json(nullptr));
        j["layer_activation_peak_mib"] = layers;
    } else {
        j["activations_peak_mib"] = nullptr;
    }
    j["kv_cache_mib"] = toMiB(m.kvCacheBytes);
    if (m.reservedBytes >= 0) j["reserved_mib"] = toMiB(m.reservedBytes);
    j["rss_peak_mib"] = toMiB(m.rssPeakBytes);
    return j;
}

nlohmann::json runToJson(const RunResult& run) {
    nlohmann::json j;
    j["method"] = run.method.method();
    j["settings"] = describe(run.method);
    j["knobs"] = methodSettingsToJson(run.method)["knobs"];
    for (const auto& a : run.answers)
        j["answers"].push_back({{"label", a.label}, {"id", a.id}, {"score", a.score}, {"logit", a.logit}});
    j["timings_ms"] = {{"preprocess", run.preprocessMs}, {"forward", run.forwardMs}};
    j["memory"] = memoryToJson(run.memory);
    j["trace"] = traceToJson(run.trace);
    return j;
}

void writeTraceJson(const std::string& path, const std::string& model, const std::string& question,
                    const RunResult& reduced, const RunResult* baseline) {
    nlohmann::json j;
    j["schema"] = "tokenscope-trace/1";
    j["model"] = model;
    j["question"] = question;
    j["reduced"] = runToJson(reduced);
    if (baseline) j["baseline"] = runToJson(*baseline);
    std::ofstream out(path);
    if (!out) throw Error(path + ": cannot open for writing");
    out << j.dump(1) << "\n";
    if (!out) throw Error(path + ": write failed");
}

}  // namespace tokenscope
