#pragma once

// The inference worker: one long-lived QObject that lives on its own QThread (RunController owns
// both) and holds the loaded model. The GUI talks to it only through queued signals; all of its
// slots run on the worker thread, so the model is used from one thread only, as Engine requires.
// Engine::run sets up c10::InferenceMode itself, on this thread. ui never includes torch.

#include <QObject>
#include <QString>

#include <atomic>
#include <functional>
#include <memory>

#include "ui/run_types.h"

namespace tokenscope {

// What the worker runs requests on: an Engine, or a stand-in in tests. Used from the worker
// thread only. run() throws Error (Cancelled when *cancel became true).
class ModelBackend {
public:
    virtual ~ModelBackend() = default;
    virtual ModelSummary summary() const = 0;
    virtual RunResult run(const RunRequest& request, const std::atomic<bool>* cancel) = 0;
    // A quick evaluation on a task split (the Shapes test split). The default throws Error: only
    // models that answer a built-in task can be evaluated. Throws Cancelled when *cancel rises.
    virtual EvalOutcome evaluate(const EvalJob& job, const std::atomic<bool>* cancel);
};

// Loads a backend; called on the worker thread. Throws Error (Cancelled when options.cancel rose).
using BackendLoader =
    std::function<std::unique_ptr<ModelBackend>(const ModelSource& source, const EngineOptions& options)>;

// The real loader: Engine::open(folder) or Engine::fromConfig(builtinModelConfig(name)).
std::unique_ptr<ModelBackend> loadEngineBackend(const ModelSource& source, const EngineOptions& options);

class InferenceWorker : public QObject {
    Q_OBJECT
public:
    // The flags belong to the controller, which outlives the worker; the worker only reads them.
    InferenceWorker(const std::atomic<bool>* runCancel, const std::atomic<bool>* loadCancel,
                    BackendLoader loader = {}, QObject* parent = nullptr);
    ~InferenceWorker() override;
    // The flag evaluate() polls (owned by the controller); set before the worker moves to its thread.
    void setEvalCancelFlag(const std::atomic<bool>* evalCancel) { m_evalCancel = evalCancel; }

public Q_SLOTS:
    // Loads a model. On success the previous one is replaced; on failure (or cancel) it stays.
    void loadModel(const tokenscope::ModelSource& source);
    // Runs the job (its baseline first when asked for and not cached, then the method, then the
    // compare configuration), polling the run cancel flag between the parts and between layers.
    void runJob(const tokenscope::RunJob& job);
    // Evaluates a configuration (EvalJob), polling the eval cancel flag between batches and layers.
    void evaluate(const tokenscope::EvalJob& job);

Q_SIGNALS:
    void loadProgress(double fraction);
    void modelLoaded(const tokenscope::ModelInfo& info);
    void modelLoadFailed(const QString& message, bool isCancelled);
    void runFinished(const tokenscope::RunOutcome& outcome);
    void runFailed(quint64 jobId, const QString& message, bool isCancelled);
    void evalFinished(const tokenscope::EvalOutcome& outcome);
    void evalFailed(quint64 jobId, const QString& message, bool isCancelled);

private:
    SharedRunResult runOne(const RunRequest& request);

    const std::atomic<bool>* m_runCancel;
    const std::atomic<bool>* m_loadCancel;
    const std::atomic<bool>* m_evalCancel = nullptr;
    BackendLoader m_loader;
    std::unique_ptr<ModelBackend> m_backend;
    quint64 m_generation = 0;
    // The unreduced run of the last input, reused while only the method's knobs change.
    quint64 m_baselineInputId = 0;
    quint64 m_baselineGeneration = 0;
    SharedRunResult m_baseline;
};

}  // namespace tokenscope
