#pragma once

// What tokenscope-cli's commands share: the command table entry, the model and method options,
// opening a model and reading an image. Commands live in tokenscope_cli.cpp (answer, forward,
// trace, bench, preprocess, tokenize), cli_generate.cpp (LLaVA-NeXT generation) and
// cli_tasks.cpp (training and evaluation on the built-in tasks).

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

#include "cli_args.h"
#include "engine/engine.h"

namespace tokenscope::cli {

struct Command {
    std::string name;
    std::string summary;
    std::vector<OptionSpec> options;
    std::function<int(const Arguments&)> run;
};

std::vector<OptionSpec> modelOptions();
std::vector<OptionSpec> methodOptions();
// The command's own options followed by the method options / preceded by the model options.
std::vector<OptionSpec> withMethod(std::vector<OptionSpec> specific);
std::vector<OptionSpec> withModel(std::vector<OptionSpec> specific);

std::vector<int> parseIntList(const std::string& text, const std::string& option);
double parseRatio(const Arguments& args, const std::string& name);  // a number in [0, 1]
// What a method's options depend on in the loaded model: its family picks the preset (--preset
// vqav2 is ViLT's or METER's), its depth (the layers methods act in) places a preset's layers.
struct MethodTarget {
    FamilyKind family = FamilyKind::Vilt;
    int depth = 0;  // 0: unknown (the preset's layers as written)
};
MethodTarget methodTargetOf(const Engine& engine);
MethodTarget methodTargetOf(const ModelConfig& config);  // a folder's config.json, before any engine
// A preset's layer lists written for a deeper model go to the same relative depth (with a note on
// stderr), as the window places them.
MethodSettings methodFromArgs(const Arguments& args, const std::string& methodName, const MethodTarget& target = {});

// A progress line on stderr for long loads, only when stderr is a terminal.
void showProgress(uint64_t done, uint64_t total);
// --model / --arch / --config with --device, --dtype, --seed, --vocab; prints load warnings.
// seedOption names the option that seeds random weights (eval's --seed is the split's).
std::unique_ptr<Engine> openModel(const Arguments& args, const std::string& seedOption = "seed");
// Decodes an image file (throws Error naming the file; builds without OpenCV cannot).
ImageU8 readImage(const std::string& path);

// Command groups defined in their own files.
// Reads an option's value: the given one, else the default the caller chooses.
using OptionReader = std::function<std::string(const std::string&)>;
// The generation benchmark (TTFT, decode tokens/s, end-to-end time, memory per budget and batch)
// of a generating model: `bench-generate`, and `bench` on a model that generates. cli_generate.cpp
int benchGeneration(Engine& engine, const Arguments& args, const OptionReader& option);

std::vector<Command> benchCommands();       // cli_bench.cpp
std::vector<Command> generationCommands();  // cli_generate.cpp
std::vector<Command> taskCommands();        // cli_tasks.cpp
std::vector<Command> trainCommands();       // cli_train.cpp
std::vector<Command> scoreCommands();       // cli_score.cpp
std::vector<OptionSpec> scoreOptions();     // the score command's options
// The score command's work with its output going to `out` (eval-merge scores merged shards so).
int scoreTo(const Arguments& scoreArguments, std::ostream& out);
// Evaluation on a dataset in its own layout, sharded and resumable (cli_dataset_eval.cpp): eval
// with --dataset, and eval-merge.
int runDatasetEvaluation(const Arguments& args);
std::vector<OptionSpec> datasetEvalOptions();
std::vector<Command> datasetEvalCommands();

}  // namespace tokenscope::cli
