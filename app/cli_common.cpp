// Shared pieces of tokenscope-cli (see cli_common.h).

#include "cli_common.h"

#include "common/int_list.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <map>
#include <sstream>

#include <unistd.h>

#include "common/error.h"
#include "methods/method_registry.h"
#ifdef TOKENSCOPE_HAS_IMAGEIO
#include "viz/image_io.h"
#endif

namespace tokenscope::cli {

std::vector<OptionSpec> modelOptions() {
    return {
        {"model", "DIR", "", "Hugging Face model folder (config.json + weights + vocab.txt)"},
        {"arch", "NAME", "", "built-in architecture with random weights (vilt-b32, vilt-b32-nlvr2, vilt-b32-retrieval, clip-vit-l-336, clip-vit-b-32, meter-b16, meter-b16-nlvr2, meter-b16-snli, meter-tiny)"},
        {"config", "FILE", "", "config.json to build with random weights"},
        {"seed", "N", "0", "seed of the random weights (--arch, --config)"},
        {"vocab", "FILE", "", "WordPiece vocab.txt for --arch / --config models (questions need one)"},
        {"device", "cpu|cuda", "cpu", "where to run"},
        {"dtype", "fp32|bf16|fp16", "fp32", "weight and activation precision (fp16 needs cuda)"},
        {"fusion-order", "sequential|parallel", "", "METER: the order of the two streams in each co-attention layer (sequential: csarron/PuMer's code; parallel: zdou0830/METER); default: the checkpoint's"},
        {"head", "vqa|nlvr2|snli|itm|retrieval", "", "METER: which of the checkpoint's heads answers; default: vqa, else snli, itm"},
    };
}

// The model settings the CLI names (engine/model_option.h), applied after loading.
const char* const kModelSettingOptions[] = {"fusion-order", "head"};

// Every knob of every method, once per key (the same key in several methods shares the option:
// --mode is PuMer's mode or HiRED's, by --method), generated from the registry.
std::vector<OptionSpec> methodOptions() {
    std::string ids;
    for (const auto& m : methodRegistry()) ids += (ids.empty() ? "" : ", ") + m.id;
    std::vector<OptionSpec> options{
        {"method", "NAME", "none", "token-reduction method: " + ids + " (tokenscope-cli methods lists them)"},
        {"preset", "NAME", "", "the method's preset for the loaded model's family (PuMer: vqav2, nlvr2, snli-ve; ViLT's paper settings or METER's released ones); methods without presets ignore it"},
        {"knob", "KEY=VALUE", "", "any knob of the method by its key (repeatable)", true},
    };
    std::map<std::string, std::size_t> byKey;
    for (const auto& m : methodRegistry()) {
        for (const auto& k : m.knobs) {
            for (const auto& name : [&] {
                     std::vector<std::string> names{k.key};
                     names.insert(names.end(), k.aliases.begin(), k.aliases.end());
                     return names;
                 }()) {
                const std::string help = m.id + ": " + k.tooltip + " (default " + knobValueText(k.defaultValue) + ")";
                const auto found = byKey.find(name);
                if (found != byKey.end()) {
                    options[found->second].help += "; " + help;
                    continue;
                }
                byKey[name] = options.size();
                const std::string valueName = k.kind == KnobKind::Flag      ? ""
                                              : k.kind == KnobKind::IntList ? "LIST"
                                              : k.kind == KnobKind::Choice  ? "WORD"
                                                                            : "X";
                options.push_back({name, valueName, "", help});
            }
        }
    }
    return options;
}

std::vector<int> parseIntList(const std::string& text, const std::string& option) {
    const auto values = parseIntegerList(text);
    if (!values)
        throw UsageError("--" + option + " must be a comma-separated list of integers, not '" + text + "'");
    return *values;
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

MethodTarget methodTargetOf(const ModelConfig& config) {
    MethodTarget target;
    switch (config.family) {
        case ModelFamily::Vilt: target.depth = config.vilt.numHiddenLayers; break;
        case ModelFamily::Meter:
            target.family = FamilyKind::Meter;
            target.depth = config.meter.numTopLayer;
            break;
        case ModelFamily::LlavaNext:
            target.family = FamilyKind::Llava;
            target.depth = config.llavaNext.text.numHiddenLayers;
            break;
        case ModelFamily::ClipVision: break;
    }
    return target;
}

MethodTarget methodTargetOf(const Engine& engine) {
    MethodTarget target = methodTargetOf(engine.summary().config);
    target.family = engine.capabilities().family;
    return target;
}

namespace {

// The preset's layer lists at the model's depth (presetLayersAtDepth), with a note when they moved.
void placePresetLayers(MethodSettings& settings, const MethodDescriptor& descriptor, const std::string& preset,
                       const MethodTarget& target) {
    int presetDepth = 12;
    for (const auto* p : presetsFor(descriptor, target.family))
        if (p->name == preset) presetDepth = p->depth;
    if (target.depth <= 0 || target.depth >= presetDepth) return;
    for (const auto& knob : descriptor.knobs) {
        if (!knob.layerList || !settings.isSet(knob.key)) continue;
        const auto written = settings.intList(knob.key);
        const auto placed = presetLayersAtDepth(written, target.depth, presetDepth);
        if (placed == written) continue;
        settings.set(knob.key, placed);
        std::cerr << "note: preset " << preset << " names " << knob.key << " of a " << presetDepth << "-layer model; on this "
                  << target.depth << "-layer model they sit at the same depth: " << knobValueText(KnobValue(placed)) << "\n";
    }
}

}  // namespace

MethodSettings methodFromArgs(const Arguments& args, const std::string& methodName, const MethodTarget& target) {
    try {
        const auto& descriptor = methodDescriptor(methodName);
        // --preset belongs to the methods that have presets ("--method none,pumer --preset vqav2" compares
        // the unreduced model with PuMer's preset); a method with presets must have the named one.
        const bool hasPresets = !presetsFor(descriptor, target.family).empty();
        MethodSettings m = args.has("preset") && hasPresets ? presetSettings(descriptor.id, args.value("preset"), target.family)
                                                            : MethodSettings(descriptor.id);
        if (args.has("preset") && hasPresets) placePresetLayers(m, descriptor, args.value("preset"), target);
        for (const auto& knob : descriptor.knobs) {
            std::vector<std::string> names{knob.key};
            names.insert(names.end(), knob.aliases.begin(), knob.aliases.end());
            for (const auto& name : names) {
                if (!args.has(name)) continue;
                // ToMe's --schedule also takes "r,inflect" (the second number with a decimal point or a sign).
                if (descriptor.id == "tome" && knob.key == "schedule") {
                    const auto list = args.value(name);
                    const auto comma = list.find(',');
                    const auto second = comma == std::string::npos ? std::string() : list.substr(comma + 1);
                    if (!second.empty() && second.find(',') == std::string::npos &&
                        (second.find('.') != std::string::npos || second[0] == '-' || second[0] == '+')) {
                        m.setText("r", list.substr(0, comma));
                        m.setText("inflect", second);
                        continue;
                    }
                }
                m.setText(knob.key, knob.kind == KnobKind::Flag ? "true" : args.value(name));
            }
        }
        for (const auto& assignment : args.values("knob")) {
            const auto eq = assignment.find('=');
            if (eq == std::string::npos) throw UsageError("--knob takes KEY=VALUE, not '" + assignment + "'");
            const auto key = assignment.substr(0, eq);
            // With several methods (bench --method a,b) a knob applies to those that have it; a key
            // no method has is an error.
            if (!descriptor.knob(key)) {
                const auto& all = methodRegistry();
                if (std::none_of(all.begin(), all.end(), [&](const MethodDescriptor& d) { return d.knob(key) != nullptr; }))
                    throw UsageError("--knob " + key + ": no method has a knob '" + key + "' (tokenscope-cli methods lists them)");
                continue;
            }
            m.setText(key, assignment.substr(eq + 1));
        }
        return m;
    } catch (const UsageError&) {
        throw;
    } catch (const Error& e) {
        throw UsageError(e.what());
    }
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
    for (const char* key : kModelSettingOptions)
        if (args.has(key) && !args.value(key).empty()) engine->setOption(key, args.value(key));
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
