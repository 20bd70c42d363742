#pragma once

// Plain values that travel between the window (GUI thread) and the inference worker (its own
// thread) through queued signals: the model, and the jobs the one worker runs on it with their
// outcomes (load; run, the answer from labels; selection, what a visual-token method keeps without
// the language model; generation, a streamed answer; evaluation). Results are shared read-only:
// built once on the worker thread and never changed after they are emitted.

#include <QMetaType>
#include <QString>
#include <QStringList>

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <optional>

#include "engine/engine.h"
#include "engine/generation.h"
#include "engine/trace.h"

namespace tokenscope {

// Where a model comes from: a Hugging Face folder, or a built-in architecture with random weights.
struct ModelSource {
    QString folder;       // non-empty: Engine::open(folder)
    QString builtinName;  // otherwise: Engine::fromConfig(builtinModelConfig(builtinName))
    DeviceKind device = DeviceKind::Cpu;
    Precision precision = Precision::Fp32;

    QString displayName() const;
};

// What the window knows about the loaded model (copied out of the worker's Engine).
struct ModelInfo {
    quint64 generation = 0;  // increases with every successful load
    ModelSource source;
    ModelSummary summary;
    FamilyCapabilities capabilities;  // what the window offers: ranked labels, a streamed answer, ...
    int layerCount = 0;
    std::vector<ModelOption> options;  // the model's own settings as loaded (METER: fusion order, head)
};

// One request to the worker. inputId names the (image, question) pair so the worker can reuse the
// unreduced baseline run for it; compare (optional) is a second configuration run on the same input.
struct RunJob {
    quint64 id = 0;
    quint64 inputId = 0;
    RunRequest request;
    bool wantsBaseline = true;
    bool hasCompare = false;
    MethodSettings compare;
    // The model's own settings to run with (key -> value, engine/model_option.h); the worker
    // applies those that differ from the model's before running.
    std::map<std::string, std::string> modelSettings;
    // Compare mode against another model (B): the model the worker loads (once) and runs B on, with
    // `compare` when that method serves its family, else unreduced. Unset: B runs on this model.
    std::optional<ModelSource> compareModel;
};

using SharedRunResult = std::shared_ptr<const RunResult>;

struct RunOutcome {
    quint64 jobId = 0;
    quint64 modelGeneration = 0;
    SharedRunResult result;    // the requested method
    SharedRunResult baseline;  // method None on the same input (null when not asked for)
    SharedRunResult compare;   // the compare configuration (null when not asked for)
    double totalMs = 0;        // wall time of the requested method's run (preprocess + forward)
};

// A quick evaluation of a configuration on a task split, for the Trade-off chart's marked point:
// the unreduced passes and the method's, in turns, their accuracy and throughput.
struct EvalJob {
    quint64 id = 0;
    MethodSettings method;
    quint64 seed = 3;   // the Shapes test split (shapes::kTestSeed), as sweeps use
    int examples = 96;
    int batch = 32;
    int passes = 2;     // timed passes of each, in turns (shapes::evaluateInTurns); the fastest counts
};

struct EvalOutcome {
    quint64 jobId = 0;
    quint64 modelGeneration = 0;
    MethodSettings method;
    int examples = 0;
    double accuracy = 0;  // 0..1
    double examplesPerSecond = 0;
    double unreducedAccuracy = 0;
    double unreducedExamplesPerSecond = 0;
    double agreement = 1;    // with the unreduced answers
    double imageTokens = 0;  // per layer, mean over the layers
    double totalMs = 0;      // wall time of the job on the worker
};

// What a visual-token method keeps of an image, without the language model (budget / alpha
// feedback). imageId names the image, so the view can tell a stale answer from a current one.
struct SelectionJob {
    quint64 id = 0;
    quint64 imageId = 0;
    ImageU8 image;
    MethodSettings settings;
};

struct SelectionOutcome {
    quint64 jobId = 0;
    quint64 imageId = 0;
    quint64 modelGeneration = 0;
    MethodSettings settings;
    std::shared_ptr<const GenerateResult> record;  // the method and the trace of its selection
    double elapsedMs = 0;  // wall time of the selection on the worker
};

// One streamed answer: the request as Engine::generate takes it.
struct GenerationJob {
    quint64 id = 0;
    quint64 imageId = 0;
    GenerateRequest request;
};

struct GenerationOutcome {
    quint64 jobId = 0;
    quint64 imageId = 0;
    quint64 modelGeneration = 0;
    std::shared_ptr<const GenerateResult> result;
};

// Registers the types above for queued connections (idempotent); call once before connecting.
void registerRunTypes();

// How a worker loads `source`: its device and precision, the cancel flag, the bundled vocab for a
// built-in architecture (random weights), and the loading
// progress thinned to whole percents and handed to onFraction (0..1, on the loading thread).
EngineOptions loadOptionsFor(const ModelSource& source, const std::atomic<bool>* cancel,
                             std::function<void(double fraction)> onFraction);

}  // namespace tokenscope

Q_DECLARE_METATYPE(tokenscope::ModelSource)
Q_DECLARE_METATYPE(tokenscope::ModelInfo)
Q_DECLARE_METATYPE(tokenscope::RunJob)
Q_DECLARE_METATYPE(tokenscope::RunOutcome)
Q_DECLARE_METATYPE(tokenscope::EvalJob)
Q_DECLARE_METATYPE(tokenscope::EvalOutcome)
Q_DECLARE_METATYPE(tokenscope::SelectionJob)
Q_DECLARE_METATYPE(tokenscope::SelectionOutcome)
Q_DECLARE_METATYPE(tokenscope::GenerationJob)
Q_DECLARE_METATYPE(tokenscope::GenerationOutcome)
