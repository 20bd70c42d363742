#pragma once

// Evaluating a model on Shapes VQA under a token-reduction method: the test set of a split, the
// batched pass through Engine::predictBatch with a measured throughput, the counts (accuracy, per
// question type, agreement with the unreduced answers) and the grid of the accuracy-versus-
// throughput sweep. `tokenscope-cli eval` and the window's Trade-off chart both run this.
//
// Throughput is examples / (preprocess + forward time) summed over the batches of one pass, after
// an untimed warm-up batch, with the same batch size for every method; times come from
// predictBatch (one forward per batch). Compare throughputs only from one process and machine.
//
// Threads: every function runs on the caller's thread; an Engine is used from one thread at a time.

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "config/model_config.h"
#include "engine/engine.h"
#include "engine/trace.h"
#include "tasks/eval/eval_summary.h"
#include "tasks/eval/sweep_table.h"
#include "tasks/shapes/shapes_task.h"

namespace tokenscope::shapes {

// The split seeds by convention: the bundled model trains on 1 and is validated on 2; 3 is the
// test split the sweeps and the window's quick evaluation use. Any other seed is a fresh split.
constexpr uint64_t kTrainSeed = 1;
constexpr uint64_t kValidationSeed = 2;
constexpr uint64_t kTestSeed = 3;

// Samples 0..count-1 of a split.
struct EvalSet {
    uint64_t seed = 0;
    std::vector<ImageU8> images;
    std::vector<std::string> questions;
    std::vector<std::string> answers;
    std::vector<QuestionType> types;
    int size() const { return static_cast<int>(questions.size()); }
};
EvalSet makeEvalSet(uint64_t seed, int count, const ShapesOptions& options = {});

// A Shapes model answers with the task's labels: a ViLT VQA head whose id2label is
// answerVocabulary() in that order. (This is how the window decides to show the quick evaluation;
// no extra key in config.json is needed.)
bool isShapesModel(const ModelConfig& config);
// The scenes a model is evaluated on: drawn at its config's image_size (training draws them at
// that size too), ShapesOptions' default when that is outside 32..1024.
ShapesOptions sceneOptionsFor(const ModelConfig& config);
std::vector<std::string> questionTypeNames();  // in QuestionType order

// One pass of a configuration over an EvalSet.
struct MethodEval {
    MethodSettings method;
    std::vector<std::string> predicted;  // per example
    int batch = 0;
    double preprocessMs = 0, forwardMs = 0;  // summed over the timed batches
    double examplesPerSecond = 0;
    double imageTokens = 0;  // image tokens per layer, mean over the layers, on example 0
};

// Progress: examples done of the timed passes, and their total.
using EvalProgress = std::function<void(int done, int total)>;

struct EvalRunOptions {
    int batch = 32;
    // Timed passes over the set; the fastest gives examples/s (the least disturbed one on a busy
    // machine). The answers are the first pass's (every pass gives the same).
    int passes = 1;
    const std::atomic<bool>* cancel = nullptr;
    EvalProgress progress;
};

// Runs the set through predictBatch in batches (a warm-up batch first, untimed; options.passes
// timed passes back to back: evaluateInTurns with one configuration), then traces example 0 for
// the token count. Throws Error (bad settings, no tokenizer, not a VQA model) or
// Cancelled when *cancel rises (polled between batches and between layers).
MethodEval evaluateMethod(Engine& engine, const EvalSet& set, const MethodSettings& method, const EvalRunOptions& options);

// Evaluates the configurations with options.passes timed passes each, taken in turns: every
// configuration once per round, options.passes rounds, so a slow spell of a shared machine costs a
// configuration at most one of its passes instead of all of them; each keeps its fastest (answers
// and tokens from its first). progressFor gives each pass its progress (configuration, round from
// 0); onDone is called in the last round once configuration i is final (entries after i are not).
// Returns one MethodEval per configuration, in order. Throws Error / Cancelled.
struct TurnCallbacks {
    std::function<EvalProgress(std::size_t index, int round)> progressFor;                 // may be empty
    std::function<void(std::size_t index, const std::vector<MethodEval>& done)> onDone;  // may be empty
};
std::vector<MethodEval> evaluateInTurns(Engine& engine, const EvalSet& set, const std::vector<MethodSettings>& methods,
                                        const EvalRunOptions& options, const TurnCallbacks& callbacks = {});

// The tokens a configuration leaves, from one traced run of example 0 (every Shapes image has the
// same size, so the counts hold for the whole set).
struct TokenProbe {
    double meanImageTokens = 0;  // image tokens per layer, mean over the layers (image CLS included)
    int firstLayerImageTokens = 0;
    int resizedHeight = 0, resizedWidth = 0;  // the image as the model saw it
};
TokenProbe probeTokens(Engine& engine, const EvalSet& set, const MethodSettings& method,
                       const std::atomic<bool>* cancel = nullptr);

// The counts of a pass; unreduced (may be null) gives the agreement.
EvalSummary summarize(const EvalSet& set, const MethodEval& method, const MethodEval* unreduced);

// The sweep: none, then PuMer (reference mode, from a light setting through the paper's VQAv2
// preset to strong ones), ToMe (r from about 1/6 to all of the largest r that keeps ~10% of the
// tokens at the last layer), random / uniform dropping and smaller resolution (keep 0.9 .. 0.2).
// PuMer reduces in layers 2, 5, 8 (the preset's) of a 12-layer model, at the same depth fractions
// of a shallower one. imageTokens: the unreduced model's image tokens (image CLS included).
// hasDynamicVit (a checkpoint with trained predictors): DynamicViT at keep ratios 0.9 .. 0.5.
struct SweepPoint {
    MethodSettings method;
    std::string knob;  // the swept value in words, for sweep.csv
};
std::vector<SweepPoint> sweepGrid(int layerCount, int imageTokens, bool hasDynamicVit = false);

// A sweep.csv row for a pass; none is the unreduced pass of the same sweep (speed-up, agreement).
SweepRow sweepRow(const SweepPoint& point, const EvalSet& set, const MethodEval& method, const MethodEval& none);

// Runs the grid (only the given methods when `methods` is non-empty; none always runs, first) and
// returns one row per configuration in grid order. Smaller-resolution points become explicit
// shortest edges (the processor's size divisor makes several keep ratios the same size), and a
// point whose image size equals the unreduced one's or an earlier point's is left out. With
// options.passes = K the configurations are timed in K rounds (evaluateInTurns, none first). onRow
// is called in the last round after each row, with its index and the number of configurations.
// Throws Error / Cancelled.
struct SweepCallbacks {
    std::function<void(const SweepRow& row, int index, int total)> onRow;
    std::function<EvalProgress(const std::string& label)> progressFor;  // may be empty
};
// options.progress is replaced by callbacks.progressFor per configuration and round (the label
// ends in " (pass k/K)" when K > 1).
std::vector<SweepRow> runSweep(Engine& engine, const EvalSet& set, const EvalRunOptions& options,
                               const std::vector<std::string>& methods, const SweepCallbacks& callbacks = {});

}  // namespace tokenscope::shapes
