#include "engine/trace_json.h"

#include <cmath>
#include <limits>
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

namespace {

nlohmann::json stepToJson(const StreamStep& step) {
    return {{"tokens_in", step.tokensIn}, {"tokens", step.tokens}, {"owner", step.owner}, {"size", step.size},
            {"score", scores(step.score)}, {"merges", step.merges}};
}

std::vector<float> scoresFromJson(const nlohmann::json& j) {
    std::vector<float> out;
    for (const auto& v : j) out.push_back(v.is_null() ? std::numeric_limits<float>::quiet_NaN() : v.get<float>());
    return out;
}

StreamStep stepFromJson(const nlohmann::json& j) {
    StreamStep step;
    step.tokensIn = j.value("tokens_in", 0);
    step.tokens = j.value("tokens", 0);
    step.owner = j.value("owner", std::vector<int>{});
    step.size = j.value("size", std::vector<float>{});
    if (j.contains("score")) step.score = scoresFromJson(j.at("score"));
    step.merges = j.value("merges", std::vector<std::pair<int, int>>{});
    return step;
}

Stage stageFromName(const std::string& name) {
    for (Stage stage : {Stage::Embeddings, Stage::Vision, Stage::Text, Stage::Fusion, Stage::Projector, Stage::Decoder, Stage::Head})
        if (name == stageName(stage)) return stage;
    throw Error("unknown stage \"" + name + "\"");
}

// Version 1 (ViLT only): flat per-layer fields, every layer an encoder (fusion) layer.
Trace traceFromJsonV1(const nlohmann::json& j) {
    Trace t;
    const auto grid = j.at("grid").get<std::vector<int>>();
    const auto resized = j.at("resized_hw").get<std::vector<int>>();
    if (grid.size() != 2 || resized.size() != 2) throw Error("\"grid\" and \"resized_hw\" need two numbers");
    t.image.gridHeight = grid[0], t.image.gridWidth = grid[1];
    t.image.patchSize = j.at("patch_size").get<int>();
    t.image.resizedHeight = resized[0], t.image.resizedWidth = resized[1];
    t.image.patchCell = j.at("patch_cell").get<std::vector<std::array<int, 2>>>();
    t.text.labels = j.at("text_tokens").get<std::vector<std::string>>();
    t.image.droppedAt = j.at("image_dropped_at").get<std::vector<int>>();
    t.text.droppedAt = j.at("text_dropped_at").get<std::vector<int>>();
    for (const auto& l : j.at("layers")) {
        TraceLayer layer;
        layer.stage = Stage::Fusion;
        layer.index = l.at("layer").get<int>();
        layer.reduced = l.value("reduced", false);
        layer.jointSequence = l.value("joint_sequence", false);
        layer.latencyMs = l.value("latency_ms", 0.0);
        layer.image.tokensIn = l.value("image_tokens_in", 0);
        layer.text.tokensIn = l.value("text_tokens_in", 0);
        layer.image.tokens = l.value("image_tokens", 0);
        layer.text.tokens = l.value("text_tokens", 0);
        layer.image.owner = l.at("image_owner").get<std::vector<int>>();
        layer.text.owner = l.at("text_owner").get<std::vector<int>>();
        layer.image.size = l.value("image_size", std::vector<float>{});
        layer.text.size = l.value("text_size", std::vector<float>{});
        if (l.contains("image_score")) layer.image.score = scoresFromJson(l.at("image_score"));
        layer.image.merges = l.value("image_merges", std::vector<std::pair<int, int>>{});
        layer.text.merges = l.value("text_merges", std::vector<std::pair<int, int>>{});
        t.layers.push_back(std::move(layer));
    }
    return t;
}

}  // namespace

nlohmann::json traceToJson(const Trace& t) {
    nlohmann::json j;
    j["version"] = kTraceVersion;
    nlohmann::json image;
    if (t.image.hasRegions()) {
        image["geometry"] = "regions";
        image["image_hw"] = {t.image.imageHeight, t.image.imageWidth};
        image["tiles"] = {t.image.tileRows, t.image.tileColumns};
        image["tile_size"] = t.image.tileSize;
        image["regions"] = nlohmann::json::array();
        for (const auto& r : t.image.regions)
            image["regions"].push_back({{"full_image", r.isFullImage}, {"row", r.row}, {"column", r.column},
                                        {"rect", {r.x, r.y, r.width, r.height}}, {"tokens_per_side", r.tokensPerSide},
                                        {"first_token", r.firstToken}, {"budget", r.budget}, {"share", r.share}});
    } else {
        image["geometry"] = "grid";
        image["grid"] = {t.image.gridHeight, t.image.gridWidth};
        image["patch_size"] = t.image.patchSize;
        image["resized_hw"] = {t.image.resizedHeight, t.image.resizedWidth};
        image["patch_cell"] = t.image.patchCell;
    }
    image["dropped_at"] = t.image.droppedAt;
    j["streams"] = {{"image", image}, {"text", {{"tokens", t.text.labels}, {"dropped_at", t.text.droppedAt}}}};
    j["layers"] = nlohmann::json::array();
    for (const auto& l : t.layers) {
        nlohmann::json layer = {{"stage", stageName(l.stage)}, {"index", l.index}, {"reduced", l.reduced},
                                {"joint_sequence", l.jointSequence}, {"latency_ms", l.latencyMs},
                                {"image", stepToJson(l.image)}, {"text", stepToJson(l.text)}};
        if (!l.label.empty()) layer["label"] = l.label;
        if (l.removesPadding) layer["removes_padding"] = true;
        j["layers"].push_back(std::move(layer));
    }
    if (t.budget.total >= 0)
        j["budget"] = {{"total", t.budget.total}, {"full_image", t.budget.fullImage}, {"tiles", t.budget.tiles},
                       {"flagged", t.budget.flagged}, {"unreduced_tokens", t.budget.unreducedTokens},
                       {"selected_tokens", t.budget.selectedTokens}, {"delivered_tokens", t.budget.deliveredTokens}};
    return j;
}

Trace traceFromJson(const nlohmann::json& j, int version) {
    try {
        if (version == 1) return traceFromJsonV1(j);
        if (version != kTraceVersion) throw Error("trace version " + std::to_string(version) + " is not one this build reads (1 or 2)");
        Trace t;
        const auto& image = j.at("streams").at("image");
        if (image.at("geometry").get<std::string>() == "regions") {
            const auto hw = image.at("image_hw").get<std::vector<int>>();
            const auto tiles = image.at("tiles").get<std::vector<int>>();
            if (hw.size() != 2 || tiles.size() != 2) throw Error("\"image_hw\" and \"tiles\" need two numbers");
            t.image.imageHeight = hw[0], t.image.imageWidth = hw[1];
            t.image.tileRows = tiles[0], t.image.tileColumns = tiles[1];
            t.image.tileSize = image.value("tile_size", 0);
            for (const auto& r : image.at("regions")) {
                TraceRegion region;
                region.isFullImage = r.value("full_image", false);
                region.row = r.value("row", -1);
                region.column = r.value("column", -1);
                const auto rect = r.at("rect").get<std::vector<double>>();
                if (rect.size() != 4) throw Error("a region's \"rect\" needs four numbers");
                region.x = rect[0], region.y = rect[1], region.width = rect[2], region.height = rect[3];
                region.tokensPerSide = r.at("tokens_per_side").get<int>();
                region.firstToken = r.at("first_token").get<int>();
                region.budget = r.value("budget", -1);
                region.share = r.value("share", 0.0);
                t.image.regions.push_back(region);
            }
        } else {
            const auto grid = image.at("grid").get<std::vector<int>>();
            const auto resized = image.at("resized_hw").get<std::vector<int>>();
            if (grid.size() != 2 || resized.size() != 2) throw Error("\"grid\" and \"resized_hw\" need two numbers");
            t.image.gridHeight = grid[0], t.image.gridWidth = grid[1];
            t.image.patchSize = image.at("patch_size").get<int>();
            t.image.resizedHeight = resized[0], t.image.resizedWidth = resized[1];
            t.image.patchCell = image.at("patch_cell").get<std::vector<std::array<int, 2>>>();
        }
        t.image.droppedAt = image.value("dropped_at", std::vector<int>{});
        const auto& text = j.at("streams").at("text");
        t.text.labels = text.value("tokens", std::vector<std::string>{});
        t.text.droppedAt = text.value("dropped_at", std::vector<int>{});
        for (const auto& l : j.at("layers")) {
            TraceLayer layer;
            layer.stage = stageFromName(l.at("stage").get<std::string>());
            layer.index = l.at("index").get<int>();
            layer.label = l.value("label", std::string());
            layer.reduced = l.value("reduced", false);
            layer.jointSequence = l.value("joint_sequence", false);
            layer.removesPadding = l.value("removes_padding", false);
            layer.latencyMs = l.value("latency_ms", 0.0);
            layer.image = stepFromJson(l.at("image"));
            layer.text = stepFromJson(l.at("text"));
            t.layers.push_back(std::move(layer));
        }
        if (j.contains("budget")) {
            const auto& b = j.at("budget");
            t.budget.total = b.value("total", -1);
            t.budget.fullImage = b.value("full_image", 0);
            t.budget.tiles = b.value("tiles", 0);
            t.budget.flagged = b.value("flagged", 0);
            t.budget.unreducedTokens = b.value("unreduced_tokens", 0);
            t.budget.selectedTokens = b.value("selected_tokens", 0);
            t.budget.deliveredTokens = b.value("delivered_tokens", 0);
        }
        return t;
    } catch (const nlohmann::json::exception& e) {
        throw Error(std::string("a trace that does not follow its schema: ") + e.what());
    }
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
    j["schema"] = "tokenscope-trace/" + std::to_string(kTraceVersion);
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

namespace tokenscope {

TraceFile readTraceFile(const std::string& path) {
    std::ifstream in(path);
    if (!in) throw Error(path + ": cannot open");
    nlohmann::json j;
    try {
        in >> j;
    } catch (const nlohmann::json::exception& e) {
        throw Error(path + ": not JSON (" + e.what() + ")");
    }
    const std::string schema = j.value("schema", std::string());
    const std::string prefix = "tokenscope-trace/";
    if (schema.rfind(prefix, 0) != 0) throw Error(path + ": not a TokenScope trace (schema \"" + schema + "\")");
    TraceFile file;
    try {
        file.version = std::stoi(schema.substr(prefix.size()));
    } catch (const std::exception&) {
        throw Error(path + ": schema \"" + schema + "\" has no version number");
    }
    file.model = j.value("model", std::string());
    file.question = j.value("question", std::string());
    for (const char* name : {"reduced", "baseline"}) {
        if (!j.contains(name)) continue;
        const auto& run = j.at(name);
        TraceFileRun r;
        r.name = name;
        try {
            r.method = methodSettingsFromJson({{"method", run.value("method", std::string("none"))},
                                               {"knobs", run.value("knobs", nlohmann::json::object())}});
            r.trace = traceFromJson(run.at("trace"), file.version);
        } catch (const Error& e) {
            throw Error(path + ": " + name + ": " + e.what());
        } catch (const nlohmann::json::exception& e) {
            throw Error(path + ": " + name + ": " + e.what());
        }
        file.runs.push_back(std::move(r));
    }
    if (file.runs.empty()) throw Error(path + ": holds no run (\"reduced\" or \"baseline\")");
    return file;
}

}  // namespace tokenscope
