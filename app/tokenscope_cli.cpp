// tokenscope-cli: the TokenScope engine from the command line (answers, raw forward passes,
// preprocessing, tokenization). Exit codes: 0 ok, 1 error (one line on stderr), 2 usage.

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <functional>
#include <iomanip>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include <unistd.h>

#include <nlohmann/json.hpp>

#include "cli_common.h"
#include "common/error.h"
#include "engine/convert.h"
#include "engine/engine.h"
#include "engine/trace_json.h"
#include "engine/version.h"
#include "methods/method_json.h"
#include "methods/method_registry.h"
#include "text/bert_tokenizer.h"
#ifdef TOKENSCOPE_HAS_IMAGEIO
#include "viz/image_io.h"
#endif
#ifdef TOKENSCOPE_HAS_VIZ
#include <QGuiApplication>
#include <QImage>

#include "viz/overlay.h"
#endif

namespace tokenscope::cli {
namespace {

int runAnswer(const Arguments& args) {
    const auto images = args.values("image");
    if (images.empty()) throw UsageError("--image is required");
    const std::string question = args.require("question");
    const int topK = args.intValue("top-k", 1, 100000);
    auto engine = openModel(args);
    const auto& summary = engine->summary();
    AnswerResult result;
    if (images.size() == 2) {
        result = engine->answerPair(readImage(images[0]), readImage(images[1]), question, topK);
    } else if (images.size() == 1) {
        result = engine->answer(readImage(images[0]), question, topK);
    } else {
        throw UsageError("--image takes one image (two for an NLVR2 model)");
    }
    if (args.has("json")) {
        nlohmann::json out;
        out["model"] = summary.source;
        out["architecture"] = summary.config.architecture;
        out["random_weights"] = summary.randomWeights;
        out["question"] = question;
        out["tokens"] = result.textTokens;
        out["image_tokens"] = result.imageTokens;
        for (const auto& a : result.answers)
            out["answers"].push_back({{"label", a.label}, {"id", a.id}, {"score", a.score}, {"logit", a.logit}});
        out["timings_ms"] = {{"load", summary.loadMs}, {"preprocess", result.preprocessMs}, {"forward", result.forwardMs}};
        std::cout << out.dump(2) << "\n";
        return 0;
    }
    std::cout << "model     " << summary.source << " (" << summary.config.architecture << ", "
              << summary.parameterCount << " parameters" << (summary.randomWeights ? ", random weights" : "") << ")\n";
    std::cout << "question  " << question << "\ntokens   ";
    for (const auto& t : result.textTokens) std::cout << " " << t;
    std::cout << "  (" << result.textTokens.size() << " text + " << result.imageTokens << " image tokens)\n";
    for (std::size_t i = 0; i < result.answers.size(); ++i) {
        const auto& a = result.answers[i];
        std::cout << std::setw(3) << i + 1 << ". " << std::left << std::setw(24) << a.label << std::right << std::fixed
                  << std::setprecision(4) << a.score << "\n";
    }
    std::cout << std::fixed << std::setprecision(1) << "time      load " << summary.loadMs << " ms, preprocess "
              << result.preprocessMs << " ms, forward " << result.forwardMs << " ms\n";
    return 0;
}

int runForward(const Arguments& args) {
    auto engine = openModel(args);
    engine->forwardFile(args.require("inputs"), args.require("out"),
                        methodFromArgs(args, args.value("method"), methodTargetOf(*engine)));
    std::cerr << "wrote " << args.value("out") << "\n";
    return 0;
}

int runConvert(const Arguments& args) {
    const auto report = convertModelFolder(args.require("model"), args.require("out"));
    std::cout << "wrote " << args.value("out") << "/model.safetensors (" << report.tensors << " tensors, "
              << std::fixed << std::setprecision(1) << double(report.bytes) / (1024.0 * 1024.0) << " MiB)";
    for (const auto& file : report.copied) std::cout << ", " << file;
    std::cout << "\n";
    return 0;
}

void printAnswers(const char* title, const RunResult& run) {
    std::cout << title << " (" << describe(run.method) << ", forward " << std::fixed << std::setprecision(1)
              << run.forwardMs << " ms)\n";
    for (std::size_t i = 0; i < run.answers.size(); ++i) {
        std::cout << std::setw(5) << i + 1 << ". " << std::left << std::setw(24) << run.answers[i].label << std::right
                  << std::setprecision(4) << run.answers[i].score << "\n";
    }
}

int runTrace(const Arguments& args) {
    const std::string outDir = args.require("out");
    const std::string imagePath = args.require("image");
    const std::string question = args.require("question");
    auto engine = openModel(args);
    const auto image = readImage(imagePath);
    RunRequest request{image, question, methodFromArgs(args, args.value("method"), methodTargetOf(*engine)),
                       args.intValue("top-k", 1, 100000), true};
    const auto reduced = engine->run(request);
    RunRequest baselineRequest = request;
    baselineRequest.method = MethodSettings{};
    const auto baseline = engine->run(baselineRequest);

    std::error_code ec;
    std::filesystem::create_directories(outDir, ec);
    if (ec) throw tokenscope::Error(outDir + ": cannot create the output folder: " + ec.message());
    writeTraceJson(outDir + "/trace.json", engine->summary().source, question, reduced, &baseline);
    int pages = 0;
#ifdef TOKENSCOPE_HAS_VIZ
    if (qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM")) qputenv("QT_QPA_PLATFORM", "offscreen");
    int argc = 1;
    char name[] = "tokenscope-cli";
    char* argv[] = {name, nullptr};
    QGuiApplication app(argc, argv);
    OverlayStyle style;
    style.showHeatmap = args.has("heatmap");
    const auto& layers = reduced.trace.layers;
    for (std::size_t l = 0; l < layers.size(); ++l) {
        std::ostringstream title;
        title << "layer " << l << " of " << layers.size() << "  |  " << layers[l].image.tokens << " image + "
              << layers[l].text.tokens << " text tokens  |  " << describe(reduced.method);
        const auto page = renderLayerPage(image, reduced.trace, static_cast<int>(l), QString::fromStdString(title.str()), style);
        char file[32];
        std::snprintf(file, sizeof file, "/layer_%02zu.png", l);
        if (!page.save(QString::fromStdString(outDir + file)))
            throw tokenscope::Error(outDir + file + ": cannot write the PNG");
        ++pages;
    }
#endif
    printAnswers("reduced ", reduced);
    printAnswers("baseline", baseline);
    std::cout << "tokens per layer (image+text):";
    for (const auto& layer : reduced.trace.layers) std::cout << " " << layer.image.tokens << "+" << layer.text.tokens;
    std::cout << "\nwrote " << outDir << "/trace.json";
    if (pages) std::cout << " and " << pages << " layer PNGs";
    std::cout << "\n";
    if (!pages) std::cerr << "note: this build has no viz (TOKENSCOPE_GUI=OFF), so no PNGs were drawn\n";
    return 0;
}

int runPreprocess(const Arguments& args) {
    const auto paths = args.values("image");
    if (paths.empty()) throw UsageError("--image is required");
    auto engine = openModel(args);
    std::vector<ImageU8> images;
    for (const auto& p : paths) images.push_back(readImage(p));
    engine->preprocessToFile(images, args.require("out"));
    std::cerr << "wrote " << args.value("out") << "\n";
    return 0;
}

int runTokenize(const Arguments& args) {
    if (args.has("model") == args.has("vocab")) throw UsageError("give exactly one of --model, --vocab");
    const std::string vocab = args.has("vocab") ? args.value("vocab") : args.value("model") + "/vocab.txt";
    const auto tokenizer = BertTokenizer::fromVocabFile(vocab);
    const auto encoding = tokenizer.encode(args.require("text"));
    const bool pieces = args.has("tokens");
    for (std::size_t i = 0; i < encoding.inputIds.size(); ++i) {
        if (i) std::cout << " ";
        if (pieces) {
            std::cout << encoding.tokens[i];
        } else {
            std::cout << encoding.inputIds[i];
        }
    }
    std::cout << "\n";
    return 0;
}

int runMethods(const Arguments& args) {
    const bool json = args.value("format") == "json";
    if (!json && args.value("format") != "text") throw UsageError("--format must be text or json");
    std::vector<const MethodDescriptor*> shown;
    if (args.has("method")) {
        shown.push_back(&methodDescriptor(args.value("method")));
    } else {
        for (const auto& m : methodRegistry()) shown.push_back(&m);
    }
    if (json) {
        nlohmann::json out = nlohmann::json::array();
        for (const auto* m : shown) out.push_back(methodDescriptorToJson(*m));
        std::cout << (args.has("method") ? out.front() : out).dump(2) << "\n";
        return 0;
    }
    for (const auto* m : shown) {
        std::string families;
        for (auto family : {FamilyKind::Vilt, FamilyKind::Llava, FamilyKind::Meter}) {
            if (m->serves(family)) families += (families.empty() ? "" : ", ") + std::string(familyKindName(family));
        }
        std::cout << m->id << "  " << m->name << "   [hook " << methodHookName(m->hook) << "; " << families << "]\n    "
                  << m->summary << "\n";
        if (!m->aliases.empty()) {
            std::cout << "    aliases:";
            for (const auto& a : m->aliases) std::cout << " " << a;
            std::cout << "\n";
        }
        for (const auto& k : m->knobs) {
            std::cout << "    --" << std::left << std::setw(12) << k.key << std::right << " " << knobKindName(k.kind);
            if (k.kind == KnobKind::Choice) {
                std::cout << " {";
                for (std::size_t i = 0; i < k.choices.size(); ++i) std::cout << (i ? "|" : "") << k.choices[i];
                std::cout << "}";
            } else if (k.kind == KnobKind::Number) {
                std::cout << " [" << k.minimum << ", " << k.maximum << "]";
            } else if (k.kind != KnobKind::Flag) {
                std::cout << " [" << static_cast<long long>(k.minimum) << ", " << static_cast<long long>(k.maximum) << "]";
            }
            std::cout << " default " << (knobValueText(k.defaultValue).empty() ? "(none)" : knobValueText(k.defaultValue))
                      << "  " << k.tooltip << "\n";
        }
        for (const auto& p : m->presets) {
            std::cout << "    preset " << p.name << " (";
            bool first = true;
            for (auto family : {FamilyKind::Vilt, FamilyKind::Llava, FamilyKind::Meter}) {
                if (!p.serves(family) || !m->serves(family)) continue;
                std::cout << (first ? "" : ", ") << familyKindName(family);
                first = false;
            }
            std::cout << "):";
            for (const auto& [key, value] : p.values) std::cout << " " << key << "=" << knobValueText(value);
            std::cout << "\n";
        }
        std::cout << "\n";
    }
    return 0;
}

std::vector<Command> commands() {
    std::vector<Command> all{
        {"answer", "answer a question about an image (VQA), or a statement about two images (NLVR2)",
         withModel({{"image", "FILE", "", "image file (PNG, JPEG, BMP, WebP); twice for NLVR2", true},
                    {"question", "TEXT", "", "the question"},
                    {"top-k", "K", "5", "answers to print"},
                    {"json", "", "", "print one JSON object"}}),
         runAnswer},
        {"forward", "run the model on raw input tensors and write every output (parity with Python)",
         withModel(withMethod({{"inputs", "FILE", "", "safetensors with input_ids, attention_mask, token_type_ids, pixel_values, pixel_mask (CLIP: pixel_values)"},
                               {"out", "FILE", "", "safetensors to write (float32)"}})),
         runForward},
        {"convert", "write a model folder (safetensors, .bin, METER's Lightning .ckpt) as model.safetensors + config.json + its tokenizer files, to memory-map on the next load",
         {{"model", "DIR", "", "the model folder"}, {"out", "DIR", "", "the new folder (created; must not hold a model.safetensors)"}},
         runConvert},
        {"trace", "run a method on an image and a question; write trace.json and one PNG per layer",
         withModel(withMethod({{"image", "FILE", "", "image file"},
                               {"question", "TEXT", "", "the question"},
                               {"out", "DIR", "", "output folder (created)"},
                               {"top-k", "K", "5", "answers to print"},
                               {"heatmap", "", "", "draw the reducer's score as a heatmap"}})),
         runTrace},
        {"preprocess", "write pixel_values and pixel_mask as the model's image processor makes them",
         withModel({{"image", "FILE", "", "image file; repeat for a batch", true}, {"out", "FILE", "", "safetensors to write"}}),
         runPreprocess},
        {"methods", "list the token-reduction methods: id, hook, model families, knobs with kind, range and default, presets",
         {{"format", "text|json", "text", "output format"}, {"method", "NAME", "", "only this method"}},
         runMethods},
        {"tokenize", "print the token ids of a text (--tokens: the word pieces)",
         {{"model", "DIR", "", "model folder with vocab.txt"},
          {"vocab", "FILE", "", "a WordPiece vocab.txt"},
          {"text", "TEXT", "", "the text"},
          {"tokens", "", "", "print word pieces instead of ids"}},
         runTokenize},
    };
    for (auto group : {benchCommands(), generationCommands(), taskCommands(), trainCommands(), scoreCommands(), datasetEvalCommands()}) all.insert(all.end(), group.begin(), group.end());
    return all;
}

void printUsage(std::ostream& out, const std::vector<Command>& all) {
    out << "usage: tokenscope-cli COMMAND [OPTIONS]    (tokenscope-cli COMMAND --help for its options)\n\ncommands:\n";
    for (const auto& c : all) out << "  " << std::left << std::setw(12) << c.name << c.summary << "\n";
    out << "\n" << versionString() << "\n";
}

}  // namespace
}  // namespace tokenscope::cli

int main(int argc, char** argv) {
    using namespace tokenscope::cli;
    const auto all = commands();
    std::vector<std::string> args(argv + 1, argv + argc);
    if (args.empty()) {
        printUsage(std::cerr, all);
        return 2;
    }
    if (args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
        printUsage(std::cout, all);
        return 0;
    }
    if (args[0] == "--version") {
        std::cout << tokenscope::versionString() << "\n";
        return 0;
    }
    for (const auto& command : all) {
        if (command.name != args[0]) continue;
        const std::vector<std::string> rest(args.begin() + 1, args.end());
        const auto usage = "usage: tokenscope-cli " + command.name + " [OPTIONS]\n" + command.summary + "\n\n" +
                           Arguments::usage(command.options);
        if (!rest.empty() && (rest[0] == "--help" || rest[0] == "-h")) {
            std::cout << usage;
            return 0;
        }
        try {
            const Arguments parsed(command.options, rest);
            return command.run(parsed);
        } catch (const UsageError& e) {
            std::cerr << "tokenscope-cli " << command.name << ": " << e.what() << "\n\n" << usage;
            return 2;
        } catch (const tokenscope::Error& e) {
            std::cerr << "error: " << e.what() << "\n";
            return 1;
        } catch (const std::exception& e) {
            std::cerr << "error: " << e.what() << "\n";
            return 1;
        }
    }
    std::cerr << "tokenscope-cli: unknown command '" << args[0] << "'\n\n";
    printUsage(std::cerr, all);
    return 2;
}
