// Shared pieces of tokenscope-cli (see cli_common.h).

#include "cli_common.h"

#include <chrono>
#include <cstdio>
#include <iostream>
#include <sstream>

#include <unistd.h>

#include "common/error.h"
#ifdef TOKENSCOPE_HAS_IMAGEIO
#include "viz/image_io.h"
#endif

namespace tokenscope::cli {

std::vector<OptionSpec> modelOptions() {
    return {
        {"model", "DIR", "", "Hugging Face model folder (config.json + weights + vocab.txt)"},
        {"arch", "NAME", "", "built-in architecture with random weights (vilt-b32, vilt-b32-nlvr2, vilt-b32-retrieval, clip-vit-l-336, clip-vit-b-32)"},
        {"config", "FILE", "", "config.json to build with random weights"},
        {"seed", "N", "0", "seed of the random weights (--arch, --config)"},
        {"vocab", "FILE", "", "WordPiece vocab.txt for --arch / --config models (questions need one)"},
        {"device", "cpu|cuda", "cpu", "where to run"},
        {"dtype", "fp32|bf16|fp16", "fp32", "weight and activation precision (fp16 needs cuda)"},
    };
}

std::vector<OptionSpec> methodOptions() {
    return {
        {"method", "NAME", "none", "none, pumer, tome, smres (smaller resolution), random, uniform, dynamicvit (models with predictors)"},
        {"preset", "NAME", "", "PuMer preset from the released checkpoints: vqav2, nlvr2, snli-ve"},
        {"mode", "reference|fixed", "reference", "PuMer: the reference code with its quirks, or with them fixed"},
        {"layers", "LIST", "2,5,8", "PuMer: reduction layers (0-based)"},
        {"prune", "P", "0.1", "PuMer: fraction of image tokens pruned per reduction layer"},
        {"merge", "R", "0.3", "PuMer: fraction of image tokens merged per reduction layer"},
        {"merge-text", "T", "0.2", "PuMer: fraction of text tokens merged per reduction layer"},
        {"score", "NAME", "mean-head", "PuMer: text-image score: mean-head, first-head, key, qk"},
        {"merge-style", "NAME", "tome", "PuMer: image merge: tome, tip, diff"},
        {"r", "N", "8", "ToMe: tokens merged per layer"},
        {"schedule", "LIST", "", "ToMe: 'r,inflect' or one r per layer (e.g. 8,8,6,...)"},
        {"joint", "", "", "ToMe: merge over the whole text+image sequence (default: image tokens only)"},
        {"keep", "F", "0.54", "random, uniform, smres: fraction of image patches kept"},
        {"resolution", "PX", "", "smres: shortest edge in pixels (default: from --keep)"},
        {"drop-seed", "N", "0", "random: seed of the dropped patches"},
        {"keep-ratio", "RHO", "0.7", "dynamicvit: stage i keeps int(P0 * RHO^i) of the P0 patches"},
        {"prune-loc", "LIST", "", "dynamicvit: blocks the pruned tokens enter (default: the checkpoint's, e.g. 3,6,9)"},
    };
}

std::vector<int> parseIntList(const std::string& text, const std::string& option) {
    std::vector<int> values;
    std::stringstream in(text);
    std::string item;
    while (std::getline(in, item, ',')) {
        std::size_t used = 0;
        int v = 0;
        try {
            v = std::stoi(item, &used);
        } catch (const std::exception&) {
            used = 0;
        }
        if (item.empty() || used != item.size()) throw UsageError("--" + option + " must be a comma-separated list of integers, not '" + text + "'");
        values.push_back(v);
    }
    return values;
}

double parseRatio(const Arguments& args, const std::string& name) {
    const std::string text = args.value(name);
    std::size_t used = 0;
    double v = 0;
    try {
        v = std::stod(text, &used);
    } catch (const std::exception&) {
        used = 0;
    }
    if (text.empty() || used != text.size() || !(v >= 0.0 && v <= 1.0))
        throw UsageError("--" + name + " must be a number in [0, 1], not '" + text + "'");
    return v;
}

MethodSettings methodFromArgs(const Arguments& args, const std::string& methodName) {
    MethodSettings m = args.has("preset") ? pumerPreset(args.value("preset")) : MethodSettings{};
    m.method = parseMethod(methodName);
    m.mode = args.value("mode");
    if (args.has("layers") || !args.has("preset")) m.layers = parseIntList(args.value("layers"), "layers");
    if (args.has("prune") || !args.has("preset")) m.pruneRatio = parseRatio(args, "prune");
    if (args.has("merge") || !args.has("preset")) m.imageMergeRatio = parseRatio(args, "merge");
    if (args.has("merge-text") || !args.has("preset")) m.textMergeRatio = parseRatio(args, "merge-text");
    m.score = args.value("score");
    m.mergeStyle = args.value("merge-style");
    m.tomeR = args.intValue("r", 0, 100000);
    if (args.has("schedule")) {
        const auto list = args.value("schedule");
        const auto comma = list.find(',');
        // "r,inflect" when the second number has a decimal point or a sign, else a per-layer list.
        const auto second = comma == std::string::npos ? std::string() : list.substr(comma + 1);
        if (!second.empty() && second.find(',') == std::string::npos &&
            (second.find('.') != std::string::npos || second[0] == '-' || second[0] == '+')) {
            m.tomeR = parseIntList(list.substr(0, comma), "schedule").at(0);
            m.tomeInflect = std::stod(second);
        } else {
            m.tomeSchedule = parseIntList(list, "schedule");
        }
    }
    m.tomeJoint = args.has("joint");
    m.keepRatio = parseRatio(args, "keep");
    if (args.has("resolution")) m.shortestEdge = args.intValue("resolution", 32, 4096);
    m.seed = static_cast<uint64_t>(args.intValue("drop-seed", 0, 1 << 30));
    m.dynamicVitKeepRatio = parseRatio(args, "keep-ratio");
    if (args.has("prune-loc")) m.dynamicVitLocations = parseIntList(args.value("prune-loc"), "prune-loc");
    return m;
}

std::vector<OptionSpec> withMethod(std::vector<OptionSpec> specific) {
    auto all = methodOptions();
    specific.insert(specific.end(), all.begin(), all.end());
    return specific;
}

std::vector<OptionSpec> withModel(std::vector<OptionSpec> specific) {
    auto all = modelOptions();
    all.insert(all.end(), specific.begin(), specific.end());
    return all;
}

void showProgress(uint64_t done, uint64_t total) {
    static auto last = std::chrono::steady_clock::time_point{};
    const auto now = std::chrono::steady_clock::now();
    if (!isatty(STDERR_FILENO) || (now - last < std::chrono::milliseconds(100) && done < total)) return;
    last = now;
    std::fprintf(stderr, "\rloading weights %5.1f%% (%llu / %llu MiB)", total ? 100.0 * done / total : 100.0,
                 static_cast<unsigned long long>(done >> 20), static_cast<unsigned long long>(total >> 20));
    if (done >= total) std::fprintf(stderr, "\r\033[K");
}

std::unique_ptr<Engine> openModel(const Arguments& args, const std::string& seedOption) {
    const int sources = args.has("model") + args.has("arch") + args.has("config");
    if (sources != 1) throw UsageError("give exactly one of --model, --arch, --config");
    EngineOptions options;
    options.device = parseDevice(args.value("device"));
    options.precision = parsePrecision(args.value("dtype"));
    options.seed = static_cast<uint64_t>(args.intValue(seedOption, 0, 1 << 30));
    options.progress = showProgress;
    if (args.has("vocab")) options.vocabPath = args.value("vocab");
    std::unique_ptr<Engine> engine;
    if (args.has("model")) {
        engine = Engine::open(args.value("model"), options);
    } else {
        engine = Engine::fromConfig(
            args.has("arch") ? builtinModelConfig(args.value("arch")) : loadModelConfig(args.value("config")), options);
    }
    for (const auto& warning : engine->summary().warnings) std::cerr << "warning: " << warning << "\n";
    return engine;
}

ImageU8 readImage(const std::string& path) {
#ifdef TOKENSCOPE_HAS_IMAGEIO
    auto loaded = loadImageFile(path);
    if (!loaded.note.empty()) std::cerr << "note: " << loaded.note << "\n";
    return std::move(loaded.image);
#else
    throw Error(path + ": this build has no image decoding (configured with TOKENSCOPE_GUI=OFF, without OpenCV); "
                       "use 'forward' with raw tensors");
#endif
}

}  // namespace tokenscope::cli
