#pragma once

// The inference worker: one long-lived QObject that lives on its own QThread (InferenceController
// owns both) and holds the loaded model, whatever its family. The GUI talks to it only through
// queued signals; all of its slots run on the worker thread, so the model is used from one thread
// only, as Engine requires. Engine sets up c10::InferenceMode itself, on this thread. ui never
// includes torch.
//
// Streaming: generate() emits tokenStreamed for every token from inside Engine::generate's
// callback (this thread); the connection to the controller is queued, so the GUI gets the text
// pieces in order while the answer is still being produced.

#include <QObject>
#include <QString>

#include <atomic>
#include <functional>
#include <memory>

#include "ui/run_types.h"

namespace tokenscope {

// What the worker runs jobs on: an Engine, or a stand-in in tests. Used from the worker thread
// only. A job the model's capabilities() do not offer throws Error; every call throws Cancelled
// when *cancel became true.
class ModelBackend {
public:
    virtual ~ModelBackend() = default;
    virtual ModelSummary summary() const = 0;
    virtual FamilyCapabilities capabilities() const = 0;
    // Ranked labels (capabilities().answersFromLabels).
    virtual RunResult run(const RunRequest& request, const std::atomic<bool>* cancel);
    // A quick evaluation on a task split (the Shapes test split): only models that answer a
    // built-in task can be evaluated.
    virtual EvalOutcome evaluate(const EvalJob& job, const std::atomic<bool>* cancel);
    // A method's visual-token selection without the language model (capabilities().selectsVisualTokens).
    virtual GenerateResult selectVisualTokens(const ImageU8& image, const MethodSettings& settings,
                                              const std::atomic<bool>* cancel);
    // A streamed answer (capabilities().generates).
    virtual GenerateResult generate(const GenerateRequest& request, const GenerateCallback& onToken,
                                    const std::atomic<bool>* cancel);
    // The model's own settings (Engine::options / setOption); none by default.
    virtual std::vector<ModelOption> options() const { return {}; }
    virtual void setOption(const std::string& key, const std::string& value);
};

// Loads a backend; called on the worker thread. Throws Error (Cancelled when options.cancel rose).
using BackendLoader =
    std::function<std::unique_ptr<ModelBackend>(const ModelSource& source, const EngineOptions& options)>;

// The real loader: Engine::open(folder) or Engine::fromConfig(builtinModelConfig(name)).
std::unique_ptr<ModelBackend> loadEngineBackend(const ModelSource& source, const EngineOptions& options);

// The cancel flags a worker polls; they belong to the controller, which outlives the worker.
struct WorkerCancelFlags {
    const std::atomic<bool>* load = nullptr;
    const std::atomic<bool>* run = nullptr;       // runs and selections
    const std::atomic<bool>* generate = nullptr;  // Stop
    const std::atomic<bool>* eval = nullptr;
};

class InferenceWorker : public QObject {
    Q_OBJECT
public:
    explicit InferenceWorker(WorkerCancelFlags flags, BackendLoader loader = {}, QObject* parent = nullptr);
    ~InferenceWorker() override;

public Q_SLOTS:
    // Loads a model. On success the previous one is replaced; on failure (or cancel) it stays.
    void loadModel(const tokenscope::ModelSource& source);
    // Runs the job (its baseline first when asked for and not cached, then the method, then the
    // compare configuration), polling the run cancel flag between the parts and between layers.
    void runJob(const tokenscope::RunJob& job);
    // A method's selection of visual tokens, polling the run cancel flag.
    void select(const tokenscope::SelectionJob& job);
    // An answer, streamed token by token; the generate flag stops it.
    void generate(const tokenscope::GenerationJob& job);
    // Evaluates a configuration (EvalJob), polling the eval cancel flag between batches and layers.
    void evaluate(const tokenscope::EvalJob& job);

Q_SIGNALS:
    void loadProgress(double fraction);
    void modelLoaded(const tokenscope::ModelInfo& info);
    void modelLoadFailed(const QString& message, bool isCancelled);
    void runFinished(const tokenscope::RunOutcome& outcome);
    void runFailed(quint64 jobId, const QString& message, bool isCancelled);
    void selectionFinished(const tokenscope::SelectionOutcome& outcome);
    void selectionFailed(quint64 jobId, const QString& message, bool isCancelled);
    // One text piece of the answer being generated; tokenId -1 carries bytes held back until the end.
    void tokenStreamed(quint64 jobId, const QString& delta, qint64 tokenId);
    void generationFinished(const tokenscope::GenerationOutcome& outcome);
    void generationFailed(quint64 jobId, const QString& message, bool isCancelled);
    void evalFinished(const tokenscope::EvalOutcome& outcome);
    void evalFailed(quint64 jobId, const QString& message, bool isCancelled);

private:
    SharedRunResult runOne(const RunRequest& request);
    // Sets the model's settings that differ from the job's; true when one changed.
    bool applyModelSettings(const std::map<std::string, std::string>& settings);
    // Configuration B on another model (compare mode): loaded on first use and kept until another is asked for.
    SharedRunResult runOnCompareModel(const ModelSource& source, const RunRequest& request, const MethodSettings& method);

    WorkerCancelFlags m_cancel;
    BackendLoader m_loader;
    std::unique_ptr<ModelBackend> m_backend;
    quint64 m_generation = 0;
    // The unreduced run of the last input, reused while only the method's knobs change.
    quint64 m_baselineInputId = 0;
    quint64 m_baselineGeneration = 0;
    quint64 m_warmGeneration = 0;  // the model that has had its untimed first forward
    std::unique_ptr<ModelBackend> m_compareBackend;
    ModelSource m_compareSource;
    bool m_compareWarm = false;
    SharedRunResult m_baseline;
};

}  // namespace tokenscope
