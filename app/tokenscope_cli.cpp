// tokenscope-cli: the TokenScope engine from the command line (answers, raw forward passes,
// preprocessing, tokenization). Exit codes: 0 ok, 1 error (one line on stderr), 2 usage.

#include <chrono>
#include <cstdio>
#include <functional>
#include <iomanip>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include <unistd.h>

#include <nlohmann/json.hpp>

#include "cli_args.h"
#include "common/error.h"
#include "engine/engine.h"
#include "engine/version.h"
#include "text/bert_tokenizer.h"
#ifdef TOKENSCOPE_HAS_IMAGEIO
#include "viz/image_io.h"
#endif

namespace tokenscope::cli {
namespace {

struct Command {
    std::string name;
    std::string summary;
    std::vector<OptionSpec> options;
    std::function<int(const Arguments&)> run;
};

std::vector<OptionSpec> modelOptions() {
    return {
        {"model", "DIR", "", "Hugging Face model folder (config.json + weights + vocab.txt)"},
        {"arch", "NAME", "", "built-in architecture with random weights (vilt-b32, vilt-b32-nlvr2, vilt-b32-retrieval, clip-vit-l-336, clip-vit-b-32)"},
        {"config", "FILE", "", "config.json to build with random weights"},
        {"seed", "N", "0", "seed of the random weights (--arch, --config)"},
        {"device", "cpu|cuda", "cpu", "where to run"},
        {"dtype", "fp32|bf16|fp16", "fp32", "weight and activation precision (fp16 needs cuda)"},
    };
}

std::vector<OptionSpec> withModel(std::vector<OptionSpec> specific) {
    auto all = modelOptions();
    all.insert(all.end(), specific.begin(), specific.end());
    return all;
}

// A progress line on stderr for long loads, only when stderr is a terminal.
void showProgress(uint64_t done, uint64_t total) {
    static auto last = std::chrono::steady_clock::time_point{};
    const auto now = std::chrono::steady_clock::now();
    if (!isatty(STDERR_FILENO) || (now - last < std::chrono::milliseconds(100) && done < total)) return;
    last = now;
    std::fprintf(stderr, "\rloading weights %5.1f%% (%llu / %llu MiB)", total ? 100.0 * done / total : 100.0,
                 static_cast<unsigned long long>(done >> 20), static_cast<unsigned long long>(total >> 20));
    if (done >= total) std::fprintf(stderr, "\r\033[K");
}

std::unique_ptr<Engine> openModel(const Arguments& args) {
    const int sources = args.has("model") + args.has("arch") + args.has("config");
    if (sources != 1) throw UsageError("give exactly one of --model, --arch, --config");
    EngineOptions options;
    options.device = parseDevice(args.value("device"));
    options.precision = parsePrecision(args.value("dtype"));
    options.seed = static_cast<uint64_t>(args.intValue("seed", 0, 1 << 30));
    options.progress = showProgress;
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
    engine->forwardFile(args.require("inputs"), args.require("out"));
    std::cerr << "wrote " << args.value("out") << "\n";
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

std::vector<Command> commands() {
    return {
        {"answer", "answer a question about an image (VQA), or a statement about two images (NLVR2)",
         withModel({{"image", "FILE", "", "image file (PNG, JPEG, BMP, WebP); twice for NLVR2", true},
                    {"question", "TEXT", "", "the question"},
                    {"top-k", "K", "5", "answers to print"},
                    {"json", "", "", "print one JSON object"}}),
         runAnswer},
        {"forward", "run the model on raw input tensors and write every output (parity with Python)",
         withModel({{"inputs", "FILE", "", "safetensors with input_ids, attention_mask, token_type_ids, pixel_values, pixel_mask (CLIP: pixel_values)"},
                    {"out", "FILE", "", "safetensors to write (float32)"}}),
         runForward},
        {"preprocess", "write pixel_values and pixel_mask as the model's image processor makes them",
         withModel({{"image", "FILE", "", "image file; repeat for a batch", true}, {"out", "FILE", "", "safetensors to write"}}),
         runPreprocess},
        {"tokenize", "print the token ids of a text (--tokens: the word pieces)",
         {{"model", "DIR", "", "model folder with vocab.txt"},
          {"vocab", "FILE", "", "a WordPiece vocab.txt"},
          {"text", "TEXT", "", "the text"},
          {"tokens", "", "", "print word pieces instead of ids"}},
         runTokenize},
    };
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
