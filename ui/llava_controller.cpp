#include "ui/llava_controller.h"

namespace tokenscope {

LlavaController::LlavaController(GenerationBackendLoader loader, QObject* parent) : QObject(parent)
{
    registerGenerationTypes();
    m_worker = new GenerationWorker(&m_selectCancel, &m_generateCancel, &m_loadCancel, std::move(loader));
    m_worker->moveToThread(&m_thread);
    connect(&m_thread, &QThread::finished, m_worker, &QObject::deleteLater);
    connect(this, &LlavaController::dispatchLoad, m_worker, &GenerationWorker::loadModel, Qt::QueuedConnection);
    connect(this, &LlavaController::dispatchUnload, m_worker, &GenerationWorker::unloadModel, Qt::QueuedConnection);
    connect(this, &LlavaController::dispatchSelect, m_worker, &GenerationWorker::select, Qt::QueuedConnection);
    connect(this, &LlavaController::dispatchGenerate, m_worker, &GenerationWorker::generate, Qt::QueuedConnection);

    connect(m_worker, &GenerationWorker::loadProgress, this, &LlavaController::loadProgress, Qt::QueuedConnection);
    connect(m_worker, &GenerationWorker::modelLoaded, this, [this](const ModelInfo& info) {
        m_inFlight = InFlight::None;
        m_model = info;
        Q_EMIT modelLoaded(info);
        finishInFlight();
    }, Qt::QueuedConnection);
    connect(m_worker, &GenerationWorker::modelLoadFailed, this, [this](const QString& message, bool isCancelled) {
        m_inFlight = InFlight::None;
        Q_EMIT modelLoadFailed(message, isCancelled);
        finishInFlight();
    }, Qt::QueuedConnection);
    connect(m_worker, &GenerationWorker::modelUnloaded, this, [this] {
        m_inFlight = InFlight::None;
        m_model = ModelInfo{};
        Q_EMIT modelUnloaded();
        finishInFlight();
    }, Qt::QueuedConnection);
    connect(m_worker, &GenerationWorker::selectionFinished, this, [this](const SelectionOutcome& outcome) {
        m_inFlight = InFlight::None;
        if (outcome.jobId == m_latestSelectionId)
            Q_EMIT selectionFinished(outcome);
        finishInFlight();
    }, Qt::QueuedConnection);
    connect(m_worker, &GenerationWorker::selectionFailed, this, [this](quint64 jobId, const QString& message, bool isCancelled) {
        m_inFlight = InFlight::None;
        // A cancelled selection was replaced by a newer request: nothing to report.
        if (!isCancelled && jobId == m_latestSelectionId)
            Q_EMIT selectionFailed(jobId, message);
        finishInFlight();
    }, Qt::QueuedConnection);
    connect(m_worker, &GenerationWorker::tokenStreamed, this, [this](quint64 jobId, const QString& delta, qint64 tokenId) {
        if (jobId == m_latestGenerationId)
            Q_EMIT tokenStreamed(jobId, delta, tokenId);
    }, Qt::QueuedConnection);
    connect(m_worker, &GenerationWorker::generationFinished, this, [this](const GenerationOutcome& outcome) {
        m_inFlight = InFlight::None;
        if (outcome.jobId == m_latestGenerationId)
            Q_EMIT generationFinished(outcome);
        finishInFlight();
    }, Qt::QueuedConnection);
    connect(m_worker, &GenerationWorker::generationFailed, this, [this](quint64 jobId, const QString& message, bool isCancelled) {
        m_inFlight = InFlight::None;
        if (jobId == m_latestGenerationId)
            Q_EMIT generationFailed(jobId, message, isCancelled);
        finishInFlight();
    }, Qt::QueuedConnection);
    m_thread.setObjectName(QStringLiteral("generation"));
    m_thread.start();

    m_debounce.setSingleShot(true);
    m_debounce.setInterval(120);
    connect(&m_debounce, &QTimer::timeout, this, [this] {
        if (m_debounced) {
            m_pendingSelection = std::move(*m_debounced);
            m_debounced.reset();
        }
        dispatchNext();
        updateBusy();
    });
}

LlavaController::~LlavaController()
{
    m_selectCancel = true;
    m_generateCancel = true;
    m_loadCancel = true;
    m_thread.quit();
    m_thread.wait();
}

bool LlavaController::isBusy() const
{
    return m_inFlight != InFlight::None || m_debounce.isActive() || m_pendingSelection || m_pendingGeneration || m_pendingLoad ||
           m_pendingUnload;
}

void LlavaController::updateBusy()
{
    const bool isNowBusy = isBusy();
    if (isNowBusy != m_wasBusy) {
        m_wasBusy = isNowBusy;
        Q_EMIT busyChanged(isNowBusy);
    }
}

void LlavaController::loadModel(const ModelSource& source)
{
    m_pendingLoad = source;
    m_pendingUnload = false;
    // The model in use is about to change: what runs on it now is out of date.
    if (m_inFlight == InFlight::Select)
        m_selectCancel = true;
    if (m_inFlight == InFlight::Generate)
        m_generateCancel = true;
    Q_EMIT loadStarted(source);
    dispatchNext();
    updateBusy();
}

void LlavaController::cancelLoad()
{
    if (m_pendingLoad && m_inFlight != InFlight::Load) {
        m_pendingLoad.reset();
        Q_EMIT modelLoadFailed(tr("Loading cancelled; the previous model stays loaded."), true);
    }
    if (m_inFlight == InFlight::Load)
        m_loadCancel = true;
    updateBusy();
}

void LlavaController::unloadModel()
{
    m_pendingLoad.reset();
    m_pendingSelection.reset();
    m_debounced.reset();
    m_debounce.stop();
    if (m_pendingGeneration) {
        const quint64 id = m_pendingGeneration->id;
        m_pendingGeneration.reset();
        if (id == m_latestGenerationId)
            Q_EMIT generationFailed(id, tr("stopped"), true);
    }
    if (m_inFlight == InFlight::Select)
        m_selectCancel = true;
    if (m_inFlight == InFlight::Generate)
        m_generateCancel = true;
    if (m_inFlight == InFlight::Load)
        m_loadCancel = true;
    m_pendingUnload = true;
    dispatchNext();
    updateBusy();
}

quint64 LlavaController::requestSelection(SelectionJob job)
{
    job.id = m_nextJobId++;
    m_latestSelectionId = job.id;
    m_debounce.stop();
    m_debounced.reset();
    m_pendingSelection = std::move(job);
    if (m_inFlight == InFlight::Select)
        m_selectCancel = true;
    dispatchNext();
    updateBusy();
    return m_latestSelectionId;
}

quint64 LlavaController::requestSelectionDebounced(SelectionJob job)
{
    job.id = m_nextJobId++;
    m_latestSelectionId = job.id;
    m_debounced = std::move(job);
    m_pendingSelection.reset();
    // The selection in flight is already out of date: stop it now rather than after the debounce.
    if (m_inFlight == InFlight::Select)
        m_selectCancel = true;
    m_debounce.start();
    updateBusy();
    return m_latestSelectionId;
}

quint64 LlavaController::requestGeneration(GenerationJob job)
{
    job.id = m_nextJobId++;
    m_latestGenerationId = job.id;
    // The answer carries the record of the newest settings: a pending selection adds nothing.
    m_debounce.stop();
    m_debounced.reset();
    m_pendingSelection.reset();
    if (m_inFlight == InFlight::Select)
        m_selectCancel = true;
    if (m_inFlight == InFlight::Generate)
        m_generateCancel = true;
    m_pendingGeneration = std::move(job);
    dispatchNext();
    updateBusy();
    return m_latestGenerationId;
}

void LlavaController::stopGeneration()
{
    if (m_pendingGeneration) {
        const quint64 id = m_pendingGeneration->id;
        m_pendingGeneration.reset();
        Q_EMIT generationFailed(id, tr("stopped"), true);
    }
    if (m_inFlight == InFlight::Generate)
        m_generateCancel = true;
    updateBusy();
}

void LlavaController::finishInFlight()
{
    dispatchNext();
    updateBusy();
}

void LlavaController::dispatchNext()
{
    if (m_inFlight != InFlight::None)
        return;
    if (m_pendingLoad) {
        const ModelSource source = std::move(*m_pendingLoad);
        m_pendingLoad.reset();
        m_loadCancel = false;
        m_inFlight = InFlight::Load;
        Q_EMIT dispatchLoad(source);
        return;
    }
    if (m_pendingUnload) {
        m_pendingUnload = false;
        m_inFlight = InFlight::Unload;
        Q_EMIT dispatchUnload();
        return;
    }
    if (m_pendingGeneration) {
        GenerationJob job = std::move(*m_pendingGeneration);
        m_pendingGeneration.reset();
        if (!hasModel()) {
            Q_EMIT generationFailed(job.id, tr("No LLaVA-NeXT model is loaded."), false);
            dispatchNext();
            return;
        }
        m_generateCancel = false;
        m_inFlight = InFlight::Generate;
        Q_EMIT generationStarted(job.id);
        Q_EMIT dispatchGenerate(job);
        return;
    }
    if (m_pendingSelection) {
        SelectionJob job = std::move(*m_pendingSelection);
        m_pendingSelection.reset();
        if (!hasModel()) {
            Q_EMIT selectionFailed(job.id, tr("No LLaVA-NeXT model is loaded."));
            dispatchNext();
            return;
        }
        m_selectCancel = false;
        m_inFlight = InFlight::Select;
        Q_EMIT selectionStarted(job.id);
        Q_EMIT dispatchSelect(job);
    }
}

}  // namespace tokenscope
