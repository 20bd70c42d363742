#pragma once

// The GUI side of inference, for every model family: owns the one worker thread and the
// InferenceWorker on it, debounces knob changes and keeps only the newest request of each kind
// (latest request wins). GUI thread only.
//
// Jobs: load; run (ranked labels) or selection (what a visual-token method keeps, without the
// language model), the window's interactive request, one kind with one newest id; generation
// (a streamed answer); evaluation. One job is in flight on the worker at a time. Pending work
// goes in the order load, generation, run / selection, evaluation.
// - A newer run or selection raises the run cancel flag (the engine polls it between layers) and
//   waits as the single pending request; an older pending one is dropped. Results that arrive
//   after a newer request was made are discarded, so only the newest is reported; a cancelled
//   one is silent.
// - A load stops what runs (the request is kept and repeated on the new model); a failed or
//   cancelled load keeps the previous model.
// - A generation replaces a pending selection (the answer carries a record of the same settings)
//   and stops one in flight; selections asked for while an answer is generated wait until it
//   ends. Stop raises the generation flag; a stopped answer is reported as
//   generationFailed(..., isCancelled = true).
// - Evaluations (the Trade-off chart's quick eval) come last: one pending at most, dispatched only
//   when nothing else waits; any other request stops an evaluation in flight and puts it back as
//   pending unless a newer one is waiting. Evaluations do not count as busy.
// Tear-down (destructor): raise every flag -> quit() -> wait().

#include <QObject>
#include <QThread>
#include <QTimer>

#include <atomic>
#include <optional>

#include "ui/inference_worker.h"
#include "ui/run_types.h"

namespace tokenscope {

class InferenceController : public QObject {
    Q_OBJECT
public:
    explicit InferenceController(BackendLoader loader = {}, QObject* parent = nullptr);
    ~InferenceController() override;

    void loadModel(const ModelSource& source);
    void cancelLoad();
    // Each returns the id the job's result or failure will carry.
    quint64 requestRun(RunJob job);           // now
    quint64 requestRunDebounced(RunJob job);  // after debounceMs without a newer request
    quint64 requestSelection(SelectionJob job);
    quint64 requestSelectionDebounced(SelectionJob job);
    quint64 requestGeneration(GenerationJob job);
    void stopGeneration();
    quint64 requestEval(EvalJob job);  // when nothing else waits; latest wins

    void setDebounceMs(int milliseconds) { m_debounce.setInterval(milliseconds); }
    bool isLoading() const { return m_inFlight == InFlight::Load || m_pendingLoad.has_value(); }
    // A run or a selection in flight, pending or about to be asked for (debounce).
    bool isRunning() const;
    bool isGenerating() const { return m_inFlight == InFlight::Generate || m_pendingGeneration.has_value(); }
    bool isEvaluating() const { return m_inFlight == InFlight::Eval || m_pendingEval.has_value(); }
    bool isBusy() const { return isLoading() || isRunning() || isGenerating(); }
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
    void selectionStarted(quint64 jobId);
    void selectionFinished(const tokenscope::SelectionOutcome& outcome);
    void selectionFailed(quint64 jobId, const QString& message);
    void generationStarted(quint64 jobId);
    void tokenStreamed(quint64 jobId, const QString& delta, qint64 tokenId);
    void generationFinished(const tokenscope::GenerationOutcome& outcome);
    void generationFailed(quint64 jobId, const QString& message, bool isCancelled);
    void evalStarted(quint64 jobId);
    void evalFinished(const tokenscope::EvalOutcome& outcome);
    void evalFailed(quint64 jobId, const QString& message);
    void busyChanged(bool isBusy);

    // Internal: queued to the worker.
    void dispatchLoad(const tokenscope::ModelSource& source);
    void dispatchRun(const tokenscope::RunJob& job);
    void dispatchSelect(const tokenscope::SelectionJob& job);
    void dispatchGenerate(const tokenscope::GenerationJob& job);
    void dispatchEval(const tokenscope::EvalJob& job);

private:
    enum class InFlight { None, Load, Run, Select, Generate, Eval };
    void connectWorker();
    quint64 newInteractiveId();   // a run or selection request: the older ones are out of date
    void interruptForRequest();   // stop what a new request replaces: a run / selection, an evaluation
    void dispatchNext();
    void finishJob();             // the worker answered: the next job, then idleness
    void updateBusy();

    std::atomic<bool> m_loadCancel{false};
    std::atomic<bool> m_runCancel{false};
    std::atomic<bool> m_generateCancel{false};
    std::atomic<bool> m_evalCancel{false};
    QThread m_thread;
    InferenceWorker* m_worker = nullptr;  // lives on m_thread, deleted on its finished()
    QTimer m_debounce;
    InFlight m_inFlight = InFlight::None;
    bool m_wasBusy = false;
    quint64 m_nextJobId = 1;
    quint64 m_latestInteractiveId = 0;  // the newest run or selection
    quint64 m_latestGenerationId = 0;
    quint64 m_latestEvalId = 0;
    std::optional<ModelSource> m_pendingLoad;
    std::optional<RunJob> m_debouncedRun;
    std::optional<SelectionJob> m_debouncedSelection;
    std::optional<RunJob> m_pendingRun;
    std::optional<SelectionJob> m_pendingSelection;
    std::optional<GenerationJob> m_pendingGeneration;
    std::optional<EvalJob> m_pendingEval;
    std::optional<EvalJob> m_inFlightEval;
    ModelInfo m_model;
};

}  // namespace tokenscope
