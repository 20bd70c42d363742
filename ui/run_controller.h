#pragma once

// The GUI side of inference: owns the worker thread and the InferenceWorker on it, debounces knob
// changes and keeps only the newest pending request (latest request wins). GUI thread only.
//
// At most one job (a load or a run) is in flight on the worker at a time. A new run request while
// a run is in flight raises the run cancel flag (the engine polls it between layers) and waits as
// the single pending request; an older pending request is dropped. A result that arrives after a
// newer request was made is discarded, so runFinished only ever reports the newest request.
// Loads go before pending runs; a failed or cancelled load keeps the previous model.
// Evaluations (EvalJob, the Trade-off chart's quick eval) come last: one pending at most (latest
// wins), dispatched only when no load or run waits; a load or run request stops an evaluation in
// flight (its own cancel flag) and puts it back as pending unless a newer one is waiting, so
// the interactive runs never queue behind an evaluation. Evaluations do not count as busy.
// Tear-down (destructor): cancel both flags -> quit() -> wait().

#include <QObject>
#include <QThread>
#include <QTimer>

#include <atomic>
#include <optional>

#include "ui/inference_worker.h"
#include "ui/run_types.h"

namespace tokenscope {

class RunController : public QObject {
    Q_OBJECT
public:
    explicit RunController(BackendLoader loader = {}, QObject* parent = nullptr);
    ~RunController() override;

    void loadModel(const ModelSource& source);
    void cancelLoad();
    // Both return the id the job's result or failure will carry.
    quint64 requestRun(RunJob job);           // now
    quint64 requestRunDebounced(RunJob job);  // after debounceMs without a newer request
    quint64 requestEval(EvalJob job);         // when no load or run waits; latest wins

    void setDebounceMs(int milliseconds) { m_debounce.setInterval(milliseconds); }
    bool isLoading() const { return m_inFlight == InFlight::Load || m_pendingLoad.has_value(); }
    bool isRunning() const { return m_inFlight == InFlight::Run || m_pendingRun.has_value() || m_debounce.isActive(); }
    bool isEvaluating() const { return m_inFlight == InFlight::Eval || m_pendingEval.has_value(); }
    bool hasModel() const { return m_model.generation != 0; }
    const ModelInfo& model() const { return m_model; }

Q_SIGNALS:
    void loadStarted(const tokenscope::ModelSource& source);
    void loadProgress(double fraction);
    void modelLoaded(const tokenscope::ModelInfo& info);
    void modelLoadFailed(const QString& message, bool isCancelled);
    void runStarted(quint64 jobId);
    void runFinished(const tokenscope::RunOutcome& outcome);
    void runFailed(quint64 jobId, const QString& message);
    void busyChanged(bool isBusy);
    void evalStarted(quint64 jobId);
    void evalFinished(const tokenscope::EvalOutcome& outcome);
    void evalFailed(quint64 jobId, const QString& message);

    // Internal: queued to the worker.
    void dispatchLoad(const tokenscope::ModelSource& source);
    void dispatchRun(const tokenscope::RunJob& job);
    void dispatchEval(const tokenscope::EvalJob& job);

private:
    enum class InFlight { None, Load, Run, Eval };
    void dispatchNext();
    void pauseEval();  // a load or run wants the worker: stop the evaluation, keep it pending
    bool isBusyNow() const;
    void onWorkerEvalFinished(const EvalOutcome& outcome);
    void onWorkerEvalFailed(quint64 jobId, const QString& message, bool isCancelled);
    void onWorkerRunFinished(const RunOutcome& outcome);
    void onWorkerRunFailed(quint64 jobId, const QString& message, bool isCancelled);
    void onWorkerModelLoaded(const ModelInfo& info);
    void onWorkerModelLoadFailed(const QString& message, bool isCancelled);
    void setInFlight(InFlight state);

    std::atomic<bool> m_runCancel{false};
    std::atomic<bool> m_loadCancel{false};
    std::atomic<bool> m_evalCancel{false};
    QThread m_thread;
    InferenceWorker* m_worker = nullptr;  // lives on m_thread, deleted on its finished()
    QTimer m_debounce;
    InFlight m_inFlight = InFlight::None;
    quint64 m_inFlightRunId = 0;
    quint64 m_nextJobId = 1;
    quint64 m_latestJobId = 0;
    std::optional<RunJob> m_debounced;
    std::optional<RunJob> m_pendingRun;
    std::optional<ModelSource> m_pendingLoad;
    std::optional<EvalJob> m_pendingEval;
    std::optional<EvalJob> m_inFlightEval;
    quint64 m_latestEvalId = 0;
    ModelInfo m_model;
};

}  // namespace tokenscope
