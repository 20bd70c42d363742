#pragma once

// The GUI side of LLaVA-NeXT generation: owns the generation thread and the GenerationWorker on
// it, debounces selection requests (budget / alpha sliders) and keeps only the newest pending
// one (latest request wins). GUI thread only.
//
// One job (load, unload, selection or generation) is in flight on the worker at a time; pending
// work goes in the order load, unload, generation, selection. A new selection while one is in
// flight raises the selection cancel flag (the engine polls it between layers). A generation
// replaces any pending selection (it carries a record of the same settings) and cancels one in
// flight; selections asked for while an answer is being generated wait until it ends. Stop
// raises the generation cancel flag. Only the newest selection's and generation's results,
// pieces and failures are reported; a cancelled selection is silent, a stopped generation is
// reported as generationFailed(..., isCancelled = true). A failed load keeps the previous model.
// Tear-down (destructor): cancel every flag -> quit() -> wait().

#include <QObject>
#include <QThread>
#include <QTimer>

#include <atomic>
#include <optional>

#include "ui/generation_types.h"
#include "ui/generation_worker.h"

namespace tokenscope {

class LlavaController : public QObject {
    Q_OBJECT
public:
    explicit LlavaController(GenerationBackendLoader loader = {}, QObject* parent = nullptr);
    ~LlavaController() override;

    void loadModel(const ModelSource& source);
    void cancelLoad();
    void unloadModel();
    // Each returns the id its result or failure will carry.
    quint64 requestSelection(SelectionJob job);           // now
    quint64 requestSelectionDebounced(SelectionJob job);  // after debounceMs without a newer request
    quint64 requestGeneration(GenerationJob job);
    void stopGeneration();

    void setDebounceMs(int milliseconds) { m_debounce.setInterval(milliseconds); }
    bool hasModel() const { return m_model.generation != 0; }
    const ModelInfo& model() const { return m_model; }
    bool isLoading() const { return m_inFlight == InFlight::Load || m_pendingLoad.has_value(); }
    bool isGenerating() const { return m_inFlight == InFlight::Generate || m_pendingGeneration.has_value(); }
    bool isBusy() const;
    quint64 latestGenerationId() const { return m_latestGenerationId; }
    quint64 latestSelectionId() const { return m_latestSelectionId; }

Q_SIGNALS:
    void loadStarted(const tokenscope::ModelSource& source);
    void loadProgress(double fraction);
    void modelLoaded(const tokenscope::ModelInfo& info);
    void modelLoadFailed(const QString& message, bool isCancelled);
    void modelUnloaded();
    void selectionStarted(quint64 jobId);
    void selectionFinished(const tokenscope::SelectionOutcome& outcome);
    void selectionFailed(quint64 jobId, const QString& message);
    void generationStarted(quint64 jobId);
    void tokenStreamed(quint64 jobId, const QString& delta, qint64 tokenId);
    void generationFinished(const tokenscope::GenerationOutcome& outcome);
    void generationFailed(quint64 jobId, const QString& message, bool isCancelled);
    void busyChanged(bool isBusy);

    // Internal: queued to the worker.
    void dispatchLoad(const tokenscope::ModelSource& source);
    void dispatchUnload();
    void dispatchSelect(const tokenscope::SelectionJob& job);
    void dispatchGenerate(const tokenscope::GenerationJob& job);

private:
    enum class InFlight { None, Load, Unload, Select, Generate };
    void dispatchNext();
    void finishInFlight();  // after the worker's answer was reported: the next job, idleness
    void updateBusy();

    std::atomic<bool> m_selectCancel{false};
    std::atomic<bool> m_generateCancel{false};
    std::atomic<bool> m_loadCancel{false};
    QThread m_thread;
    GenerationWorker* m_worker = nullptr;  // lives on m_thread, deleted on its finished()
    QTimer m_debounce;
    InFlight m_inFlight = InFlight::None;
    bool m_wasBusy = false;
    quint64 m_nextJobId = 1;
    quint64 m_latestSelectionId = 0;
    quint64 m_latestGenerationId = 0;
    std::optional<SelectionJob> m_debounced;
    std::optional<SelectionJob> m_pendingSelection;
    std::optional<GenerationJob> m_pendingGeneration;
    std::optional<ModelSource> m_pendingLoad;
    bool m_pendingUnload = false;
    ModelInfo m_model;
};

}  // namespace tokenscope
