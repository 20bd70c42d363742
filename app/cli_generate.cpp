// tokenscope-cli commands for LLaVA-NeXT generation (issue 6): `generate` (an answer streamed
// from an image and a prompt, or raw tensors in and out for parity with Python) and
// `bench-generate` (TTFT, decode tokens/s, end-to-end time and memory over budgets and batches).

#include <algorithm>
#include <iomanip>
#include <iostream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "cli_common.h"
#include "engine/trace_json.h"
#include "common/error.h"
#include "methods/method_registry.h"

namespace tokenscope::cli {
namespace {

double parseNumber(const std::string& text, const std::string& option, double minimum) {
    std::size_t used = 0;
    double v = 0;
    try {
        v = std::stod(text, &used);
    } catch (const std::exception&) {
        used = 0;
    }
    if (text.empty() || used != text.size() || !(v >= minimum))
        throw UsageError("--" + option + " must be a number >= " + std::to_string(minimum) + ", not '" + text + "'");
    return v;
}

// The method of a LLaVA command: one serving LLaVA (the old names full and spatial are aliases of
// none and uniform); random and uniform keep 0.2 of the tokens unless --budget / --keep says otherwise
// (the HiRED repository's default budget).
MethodSettings llavaMethodFromArgs(const Arguments& args, const std::string& name) {
    const MethodDescriptor* descriptor = nullptr;
    try {
        descriptor = &methodDescriptor(name);
    } catch (const Error&) {
    }
    if (!descriptor || !descriptor->serves(FamilyKind::Llava))
        throw UsageError("'" + name + "' is not a visual-token method of LLaVA-NeXT: use full, hired, spatial or random "
                         "(registry names none, hired, uniform, random)");
    auto method = methodFromArgs(args, descriptor->id);
    if ((method.is("random") || method.is("uniform")) && !method.isSet("keep")) method.set("keep", 0.2);
    return method;
}

std::string mib(int64_t bytes) {
    std::ostringstream out;
    out << std::fixed << std::setprecision(bytes < (int64_t(10) << 20) ? 2 : 0) << bytes / 1048576.0 << " MiB";
    return out.str();
}

// The tokens of `region` still present after trace layer `layer` (region-local indices, ascending).
std::vector<int> aliveIn(const Trace& trace, const TraceRegion& region, int layer) {
    std::vector<int> out;
    if (layer < 0) return out;
    const auto& owner = trace.layers[static_cast<std::size_t>(layer)].image.owner;
    const int count = region.tokensPerSide * region.tokensPerSide;
    for (int t = 0; t < count; ++t)
        if (owner.at(static_cast<std::size_t>(region.firstToken + t)) >= 0) out.push_back(t);
    return out;
}

// One of the trace's vision-layer CLS-attention maps, sliced to `region` (empty when absent).
std::vector<float> attentionIn(const Trace& trace, const TraceRegion& region, bool initial) {
    const std::vector<float>* scores = nullptr;
    for (const auto& layer : trace.layers)
        if (layer.stage == Stage::Vision && !layer.image.score.empty() && (!initial || !scores)) scores = &layer.image.score;
    if (!scores) return {};
    const auto begin = scores->begin() + region.firstToken;
    return std::vector<float>(begin, begin + region.tokensPerSide * region.tokensPerSide);
}

// The per-tile record of `generate --json` (its "reduction" object), read off the trace.
nlohmann::json recordJson(const GenerateResult& result) {
    const Trace& trace = result.trace;
    const int select = trace.find(Stage::Projector, 0, "select");
    const int last = static_cast<int>(trace.layers.size()) - 1;
    nlohmann::json partitions = nlohmann::json::array();
    for (const auto& p : trace.image.regions) {
        partitions.push_back({{"full_image", p.isFullImage}, {"row", p.row}, {"column", p.column},
                              {"rect", {p.x, p.y, p.width, p.height}}, {"budget", p.budget}, {"share", p.share},
                              {"selected", aliveIn(trace, p, select)}, {"kept", aliveIn(trace, p, last)},
                              {"cls_attention_initial", attentionIn(trace, p, true)},
                              {"cls_attention_final", attentionIn(trace, p, false)}});
    }
    const auto& s = trace.image;
    const auto& b = trace.budget;
    const int patchGrid = s.regions.empty() ? 0 : s.regions.front().tokensPerSide;
    return {{"settings", describe(result.method)}, {"image_hw", {s.imageHeight, s.imageWidth}},
            {"grid", {s.tileRows, s.tileColumns}}, {"tokens_per_side", patchGrid}, {"tile_px", s.tileSize},
            {"total_budget", b.total}, {"full_image_budget", b.fullImage}, {"tiles_budget", b.tiles},
            {"flagged_tokens", b.flagged}, {"tokens_unreduced", b.unreducedTokens},
            {"tokens_selected", b.selectedTokens}, {"tokens_kept", b.deliveredTokens}, {"partitions", partitions}};
}

int runGenerateFile(const Arguments& args, Engine& engine) {
    if (args.has("image") || args.has("prompt")) throw UsageError("--inputs takes no --image / --prompt");
    engine.generateFile(args.require("inputs"), args.require("out"), args.intValue("max-new-tokens", 1, 1 << 20),
                        llavaMethodFromArgs(args, args.value("method")));
    std::cerr << "wrote " << args.value("out") << "\n";
    return 0;
}

int runGenerate(const Arguments& args) {
    if (args.has("inputs") != args.has("out")) throw UsageError("--inputs and --out go together");
    if (!args.has("inputs") && (!args.has("image") || !args.has("prompt")))
        throw UsageError("give --image and --prompt (or --inputs and --out)");
    auto engine = openModel(args);
    if (args.has("inputs")) return runGenerateFile(args, *engine);

    GenerateRequest request;
    request.image = readImage(args.value("image"));
    request.prompt = args.value("prompt");
    request.rawPrompt = args.has("raw-prompt");
    request.method = llavaMethodFromArgs(args, args.value("method"));
    request.maxNewTokens = args.intValue("max-new-tokens", 1, 1 << 20);
    const bool json = args.has("json");
    request.attentionMaps = json;

    const auto result = engine->generate(request, [&](const std::string& delta, int64_t) {
        if (!json) std::cout << delta << std::flush;
        return true;
    });
    const auto& t = result.timings;
    const auto& m = result.memory;
    const auto& trace = result.trace;
    const auto& r = trace.budget;
    if (json) {
        nlohmann::json out;
        out["model"] = engine->summary().source;
        out["random_weights"] = engine->summary().randomWeights;
        out["prompt"] = result.prompt;
        out["answer"] = result.text;
        out["token_ids"] = result.tokenIds;
        out["stopped_at_eos"] = result.stoppedAtEos;
        out["prompt_tokens"] = result.promptTokens;
        out["visual_tokens"] = result.visualTokens;
        out["reduction"] = recordJson(result);
        out["timings_ms"] = {{"load", engine->summary().loadMs}, {"preprocess", t.preprocessMs}, {"vision", t.visionMs},
                             {"prefill", t.prefillMs}, {"ttft", t.ttftMs}, {"decode", t.decodeMs}, {"total", t.totalMs}};
        out["decode_tokens_per_s"] = t.decodeTokensPerSecond;
        out["hired_tokens_per_s"] = t.hiredTokensPerSecond;
        out["memory_bytes"] = {{"weights", m.weightsBytes}, {"kv_cache", m.kvCacheBytes},
                               {"activations_peak", m.activationsPeakBytes}, {"rss_peak", m.rssPeakBytes}};
        out["memory"] = memoryToJson(m);
        std::cout << out.dump(2) << "\n";
        return 0;
    }
    std::cout << "\n\n";
    std::cout << "visual tokens  " << r.deliveredTokens << " kept of " << r.unreducedTokens << " (" << describe(result.method);
    const int select = trace.find(Stage::Projector, 0, "select");
    if (select >= 0 && trace.layers[static_cast<std::size_t>(select)].reduced)
        std::cout << "; budget " << r.total << ", selected " << r.selectedTokens;
    std::cout << "), " << result.promptTokens << " prompt tokens in all\n";
    std::cout << "tiles          " << trace.image.tileRows << "x" << trace.image.tileColumns << ":";
    for (const auto& p : trace.image.regions) {
        std::cout << "  " << (p.isFullImage ? std::string("full") : std::to_string(p.row) + "," + std::to_string(p.column))
                  << " " << aliveIn(trace, p, static_cast<int>(trace.layers.size()) - 1).size() << "/" << p.budget;
    }
    std::cout << "\n" << std::fixed << std::setprecision(1);
    std::cout << "time           preprocess " << t.preprocessMs << " ms, vision " << t.visionMs << " ms, prefill "
              << t.prefillMs << " ms, TTFT " << t.ttftMs << " ms, decode " << result.tokenIds.size() << " tokens in "
              << t.decodeMs << " ms (" << t.decodeTokensPerSecond << " tokens/s), HiRED's tokens/s "
              << t.hiredTokensPerSecond << (result.stoppedAtEos ? ", stopped at eos" : "") << "\n";
    std::cout << "memory         weights " << mib(m.weightsBytes) << ", KV cache " << mib(m.kvCacheBytes)
              << ", activations peak " << mib(m.activationsPeakBytes) << " at " << m.activationsPeakWhere
              << " (allocator; process RSS peak " << mib(m.rssPeakBytes) << ")\n";
    return 0;
}

}  // namespace

int benchGeneration(Engine& engine, const Arguments& args, const OptionReader& option) {
    const auto intOption = [&](const std::string& name, int minimum, int maximum) {
        return parseIntOption(name, option(name), minimum, maximum);
    };
    const bool json = option("format") == "json";
    if (!json && option("format") != "csv") throw UsageError("--format must be csv or json");
    const auto batches = parseIntList(option("batch"), "batch");
    // "full" is a budget entry here; the other budgets go to --method's budget (hired) or keep.
    auto name = option("method");
    if (methodDescriptor(name).id == "none") name = "hired";
    const auto base = llavaMethodFromArgs(args, name);
    const std::string budgetKnob = base.is("hired") ? "budget" : "keep";
    std::vector<MethodSettings> settings;
    std::stringstream list(option("budgets"));
    for (std::string item; std::getline(list, item, ',');) {
        if (item == "full") {
            settings.push_back(MethodSettings("none"));
            continue;
        }
        auto s = base;
        const double budget = parseNumber(item, "budgets", 0.0);
        s.set(budgetKnob, std::min(budget, 1.0));
        settings.push_back(s);
    }
    auto size = option("image-size");
    if (size.find('x') == std::string::npos && !size.empty() && size.find_first_not_of("0123456789") == std::string::npos)
        size += "x" + size;  // one number: a square
    const auto x = size.find('x');
    if (x == std::string::npos) throw UsageError("--image-size must be HEIGHTxWIDTH, e.g. 600x600");
    const auto height = parseIntList(size.substr(0, x), "image-size"), width = parseIntList(size.substr(x + 1), "image-size");

    const auto& summary = engine.summary();
    nlohmann::json rows = nlohmann::json::array();
    if (!json)
        std::cout << "model,device,dtype,settings,batch,runs,visual_tokens_unreduced,visual_tokens_kept,prompt_tokens,"
                     "new_tokens,vision_ms,prefill_ms,ttft_ms,decode_tokens_per_s,end_to_end_ms,hired_tokens_per_s,"
                     "memory_protocol,weights_mib,kv_cache_mib,activations_peak_mib,activations_peak_layer,rss_peak_mib,note\n";
    for (const auto& s : settings) {
        for (int batch : batches) {
            GenerationBenchRequest request;
            request.method = s;
            request.batch = batch;
            request.imageHeight = height.at(0);
            request.imageWidth = width.at(0);
            request.promptTokens = intOption("prompt-tokens", 2, 100000);
            request.maxNewTokens = intOption("max-new-tokens", 1, 100000);
            request.runs = intOption("runs", 1, 100000);
            request.seed = static_cast<uint64_t>(args.intValue("seed", 0, 1 << 30));
            const auto row = engine.benchmarkGeneration(request);
            const auto note = row.outOfMemory ? "out of memory: " + row.error : std::string();
            const auto& m = row.memory;
            if (json) {
                rows.push_back({{"model", summary.source}, {"device", args.value("device")}, {"dtype", args.value("dtype")},
                                {"settings", describe(s)}, {"batch", row.batch}, {"runs", row.runs},
                                {"visual_tokens_unreduced", row.visualTokensUnreduced},
                                {"visual_tokens_kept", row.visualTokensKept}, {"prompt_tokens", row.promptTokens},
                                {"new_tokens", row.newTokens}, {"vision_ms", row.visionMs}, {"prefill_ms", row.prefillMs},
                                {"ttft_ms", row.ttftMs}, {"decode_tokens_per_s", row.decodeTokensPerSecond},
                                {"end_to_end_ms", row.endToEndMs}, {"hired_tokens_per_s", row.hiredTokensPerSecond},
                                {"note", note}});
                rows.back().update(memoryToJson(m));
                continue;
            }
            std::cout << '"' << summary.source << "\"," << args.value("device") << "," << args.value("dtype") << ",\""
                      << describe(s) << "\"," << row.batch << "," << row.runs << "," << row.visualTokensUnreduced << ","
                      << row.visualTokensKept << "," << row.promptTokens << "," << row.newTokens << "," << std::fixed
                      << std::setprecision(2) << row.visionMs << "," << row.prefillMs << "," << row.ttftMs << ","
                      << row.decodeTokensPerSecond << "," << row.endToEndMs << "," << row.hiredTokensPerSecond << ","
                      << memoryProtocolName(m.protocol) << "," << toMiB(m.weightsBytes) << "," << toMiB(m.kvCacheBytes) << ","
                      << toMiB(std::max<int64_t>(0, m.activationsPeakBytes)) << "," << m.activationsPeakLayer << ","
                      << toMiB(m.rssPeakBytes) << "," << note << std::endl;
        }
    }
    if (json) std::cout << rows.dump(2) << "\n";
    return 0;
}

namespace {

int runBenchGenerate(const Arguments& args) {
    auto engine = openModel(args);
    return benchGeneration(*engine, args, [&](const std::string& name) { return args.value(name); });
}

}  // namespace

std::vector<Command> generationCommands() {
    auto generateOptions = withModel({{"image", "FILE", "", "image file (PNG, JPEG, BMP, WebP)"},
                                      {"prompt", "TEXT", "", "the question (put into the model's chat template)"},
                                      {"raw-prompt", "", "", "--prompt is the whole prompt, holding <image> once"},
                                      {"max-new-tokens", "N", "128", "most tokens generated"},
                                      {"json", "", "", "print one JSON object (answer, per-tile record with attention maps, timings, memory)"},
                                      {"inputs", "FILE", "", "raw tensors: input_ids, attention_mask, position_ids, pixel_values, image_sizes"},
                                      {"out", "FILE", "", "with --inputs: write logits [B, T, V] and generated_new_tokens [B, N]"}});
    for (auto o : methodOptions()) {
        if (o.name == "method") o.help = "visual tokens: none (full), hired, uniform (spatial, HiRED repository's stride baseline), random";
        generateOptions.push_back(o);
    }
    auto benchOptions = withModel({{"budgets", "LIST", "full,0.4,0.2,0.1", "budgets to measure ('full' = the unreduced model)"},
                                   {"batch", "LIST", "1,2,4", "batch sizes (one synthetic image per sequence)"},
                                   {"image-size", "HxW", "600x600", "synthetic image size (HiRED's protocol: 600x600)"},
                                   {"prompt-tokens", "N", "16", "text tokens around the image"},
                                   {"max-new-tokens", "N", "15", "tokens generated per sequence (no early stop)"},
                                   {"runs", "N", "3", "timed runs after one warm-up (medians reported)"},
                                   {"format", "csv|json", "csv", "output format"}});
    for (auto o : methodOptions()) {
        if (o.name == "method") o = {"method", "NAME", "hired", "method of the non-full budgets: hired, uniform (spatial), random"};
        if (o.name == "budget") continue;  // --budgets
        benchOptions.push_back(o);
    }
    return {
        {"generate", "LLaVA-NeXT: stream an answer about an image (HiRED or a baseline on the visual tokens), or run raw tensors",
         generateOptions, runGenerate},
        {"bench-generate", "LLaVA-NeXT: TTFT, decode tokens/s, end-to-end time and memory per budget and batch (CSV or JSON)",
         benchOptions, runBenchGenerate},
    };
}

}  // namespace tokenscope::cli
