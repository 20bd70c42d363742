#include "ui/inference_controller.h"

namespace tokenscope {

InferenceController::InferenceController(BackendLoader loader, QObject* parent) : QObject(parent)
{
    registerRunTypes();
    WorkerCancelFlags flags;
    flags.load = &m_loadCancel;
    flags.run = &m_runCancel;
    flags.generate = &m_generateCancel;
    flags.eval = &m_evalCancel;
    m_worker = new InferenceWorker(flags, std::move(loader));
    m_worker->moveToThread(&m_thread);
    connectWorker();
    m_thread.setObjectName(QStringLiteral("inference"));
    m_thread.start();

    m_debounce.setSingleShot(true);
    m_debounce.setInterval(150);
    connect(&m_debounce, &QTimer::timeout, this, [this] {
        if (m_debouncedRun)
            m_pendingRun = std::move(*m_debouncedRun);
        if (m_debouncedSelection)
            m_pendingSelection = std::move(*m_debouncedSelection);
        m_debouncedRun.reset();
        m_debouncedSelection.reset();
        dispatchNext();
        updateBusy();
    });
}

InferenceController::~InferenceController()
{
    m_loadCancel = true;
    m_runCancel = true;
    m_generateCancel = true;
    m_evalCancel = true;
    m_thread.quit();
    m_thread.wait();
}

void InferenceController::connectWorker()
{
    InferenceWorker* worker = m_worker;
    connect(&m_thread, &QThread::finished, worker, &QObject::deleteLater);
    connect(this, &InferenceController::dispatchLoad, worker, &InferenceWorker::loadModel, Qt::QueuedConnection);
    connect(this, &InferenceController::dispatchRun, worker, &InferenceWorker::runJob, Qt::QueuedConnection);
    connect(this, &InferenceController::dispatchSelect, worker, &InferenceWorker::select, Qt::QueuedConnection);
    connect(this, &InferenceController::dispatchGenerate, worker, &InferenceWorker::generate, Qt::QueuedConnection);
    connect(this, &InferenceController::dispatchEval, worker, &InferenceWorker::evaluate, Qt::QueuedConnection);

    connect(worker, &InferenceWorker::loadProgress, this, &InferenceController::loadProgress, Qt::QueuedConnection);
    connect(worker, &InferenceWorker::modelLoaded, this, [this](const ModelInfo& info) {
        m_inFlight = InFlight::None;
        m_model = info;
        Q_EMIT modelLoaded(info);
        finishJob();
    }, Qt::QueuedConnection);
    connect(worker, &InferenceWorker::modelLoadFailed, this, [this](const QString& message, bool isCancelled) {
        m_inFlight = InFlight::None;
        Q_EMIT modelLoadFailed(message, isCancelled);
        finishJob();
    }, Qt::QueuedConnection);
    connect(worker, &InferenceWorker::runFinished, this, [this](const RunOutcome& outcome) {
        m_inFlight = InFlight::None;
        if (outcome.jobId == m_latestInteractiveId)
            Q_EMIT runFinished(outcome);
        finishJob();
    }, Qt::QueuedConnection);
    // A cancelled run or selection was replaced by a newer request (or a load): nothing to report.
    connect(worker, &InferenceWorker::runFailed, this, [this](quint64 jobId, const QString& message, bool isCancelled) {
        m_inFlight = InFlight::None;
        if (!isCancelled && jobId == m_latestInteractiveId)
            Q_EMIT runFailed(jobId, message);
        finishJob();
    }, Qt::QueuedConnection);
    connect(worker, &InferenceWorker::selectionFinished, this, [this](const SelectionOutcome& outcome) {
        m_inFlight = InFlight::None;
        if (outcome.jobId == m_latestInteractiveId)
            Q_EMIT selectionFinished(outcome);
        finishJob();
    }, Qt::QueuedConnection);
    connect(worker, &InferenceWorker::selectionFailed, this, [this](quint64 jobId, const QString& message, bool isCancelled) {
        m_inFlight = InFlight::None;
        if (!isCancelled && jobId == m_latestInteractiveId)
            Q_EMIT selectionFailed(jobId, message);
        finishJob();
    }, Qt::QueuedConnection);
    connect(worker, &InferenceWorker::tokenStreamed, this, [this](quint64 jobId, const QString& delta, qint64 tokenId) {
        if (jobId == m_latestGenerationId)
            Q_EMIT tokenStreamed(jobId, delta, tokenId);
    }, Qt::QueuedConnection);
    connect(worker, &InferenceWorker::generationFinished, this, [this](const GenerationOutcome& outcome) {
        m_inFlight = InFlight::None;
        if (outcome.jobId == m_latestGenerationId)
            Q_EMIT generationFinished(outcome);
        finishJob();
    }, Qt::QueuedConnection);
    connect(worker, &InferenceWorker::generationFailed, this, [this](quint64 jobId, const QString& message, bool isCancelled) {
        m_inFlight = InFlight::None;
        if (jobId == m_latestGenerationId)
            Q_EMIT generationFailed(jobId, message, isCancelled);
        finishJob();
    }, Qt::QueuedConnection);
    connect(worker, &InferenceWorker::evalFinished, this, [this](const EvalOutcome& outcome) {
        m_inFlight = InFlight::None;
        m_inFlightEval.reset();
        if (outcome.jobId == m_latestEvalId)
            Q_EMIT evalFinished(outcome);
        finishJob();
    }, Qt::QueuedConnection);
    connect(worker, &InferenceWorker::evalFailed, this, [this](quint64 jobId, const QString& message, bool isCancelled) {
        m_inFlight = InFlight::None;
        // Stopped for another job: it goes back in line unless a newer evaluation took its place.
        if (isCancelled && jobId == m_latestEvalId && m_inFlightEval && !m_pendingEval)
            m_pendingEval = m_inFlightEval;
        else if (!isCancelled && jobId == m_latestEvalId)
            Q_EMIT evalFailed(jobId, message);
        m_inFlightEval.reset();
        finishJob();
    }, Qt::QueuedConnection);
}

bool InferenceController::isRunning() const
{
    return m_inFlight == InFlight::Run || m_inFlight == InFlight::Select || m_pendingRun || m_pendingSelection ||
           m_debounce.isActive();
}

void InferenceController::updateBusy()
{
    const bool isNowBusy = isBusy();
    if (isNowBusy != m_wasBusy) {
        m_wasBusy = isNowBusy;
        Q_EMIT busyChanged(isNowBusy);
    }
}

void InferenceController::interruptForRequest()
{
    if (m_inFlight == InFlight::Run || m_inFlight == InFlight::Select)
        m_runCancel = true;
    if (m_inFlight == InFlight::Eval)
        m_evalCancel = true;
}

quint64 InferenceController::newInteractiveId()
{
    m_latestInteractiveId = m_nextJobId++;
    m_debounce.stop();
    m_debouncedRun.reset();
    m_debouncedSelection.reset();
    m_pendingRun.reset();
    m_pendingSelection.reset();
    interruptForRequest();
    return m_latestInteractiveId;
}

void InferenceController::loadModel(const ModelSource& source)
{
    m_pendingLoad = source;
    // The model in use is about to change: what runs on it now is out of date. The window asks
    // again once the new model is there.
    interruptForRequest();
    if (m_inFlight == InFlight::Generate)
        m_generateCancel = true;
    Q_EMIT loadStarted(source);
    dispatchNext();
    updateBusy();
}

void InferenceController::cancelLoad()
{
    if (m_pendingLoad && m_inFlight != InFlight::Load) {
        m_pendingLoad.reset();
        Q_EMIT modelLoadFailed(tr("Loading cancelled; the previous model stays loaded."), true);
    }
    if (m_inFlight == InFlight::Load)
        m_loadCancel = true;
    updateBusy();
}

quint64 InferenceController::requestRun(RunJob job)
{
    job.id = newInteractiveId();
    m_pendingRun = std::move(job);
    dispatchNext();
    updateBusy();
    return m_latestInteractiveId;
}

quint64 InferenceController::requestRunDebounced(RunJob job)
{
    job.id = newInteractiveId();
    m_debouncedRun = std::move(job);
    m_debounce.start();
    updateBusy();
    return m_latestInteractiveId;
}

quint64 InferenceController::requestSelection(SelectionJob job)
{
    job.id = newInteractiveId();
    m_pendingSelection = std::move(job);
    dispatchNext();
    updateBusy();
    return m_latestInteractiveId;
}

quint64 InferenceController::requestSelectionDebounced(SelectionJob job)
{
    job.id = newInteractiveId();
    m_debouncedSelection = std::move(job);
    m_debounce.start();
    updateBusy();
    return m_latestInteractiveId;
}

quint64 InferenceController::requestGeneration(GenerationJob job)
{
    job.id = m_nextJobId++;
    m_latestGenerationId = job.id;
    // The answer carries the record of the newest settings: a selection adds nothing.
    if (m_debouncedSelection) {
        m_debouncedSelection.reset();
        m_debounce.stop();
    }
    m_pendingSelection.reset();
    if (m_inFlight == InFlight::Select)
        m_runCancel = true;
    if (m_inFlight == InFlight::Generate)
        m_generateCancel = true;
    if (m_inFlight == InFlight::Eval)
        m_evalCancel = true;
    m_pendingGeneration = std::move(job);
    dispatchNext();
    updateBusy();
    return m_latestGenerationId;
}

void InferenceController::stopGeneration()
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

quint64 InferenceController::requestEval(EvalJob job)
{
    job.id = m_nextJobId++;
    m_latestEvalId = job.id;
    m_pendingEval = std::move(job);
    // The evaluation in flight measures an older configuration.
    if (m_inFlight == InFlight::Eval)
        m_evalCancel = true;
    dispatchNext();
    return m_latestEvalId;
}

void InferenceController::finishJob()
{
    dispatchNext();
    updateBusy();
}

void InferenceController::dispatchNext()
{
    if (m_inFlight != InFlight::None)
        return;
    const QString noModel = tr("No model is loaded.");
    if (m_pendingLoad) {
        const ModelSource source = std::move(*m_pendingLoad);
        m_pendingLoad.reset();
        m_loadCancel = false;
        m_inFlight = InFlight::Load;
        Q_EMIT dispatchLoad(source);
        return;
    }
    if (m_pendingGeneration) {
        GenerationJob job = std::move(*m_pendingGeneration);
        m_pendingGeneration.reset();
        if (!hasModel()) {
            Q_EMIT generationFailed(job.id, noModel, false);
            return dispatchNext();
        }
        m_generateCancel = false;
        m_inFlight = InFlight::Generate;
        Q_EMIT generationStarted(job.id);
        Q_EMIT dispatchGenerate(job);
        return;
    }
    if (m_pendingRun) {
        RunJob job = std::move(*m_pendingRun);
        m_pendingRun.reset();
        if (!hasModel()) {
            Q_EMIT runFailed(job.id, noModel);
            return dispatchNext();
        }
        m_runCancel = false;
        m_inFlight = InFlight::Run;
        Q_EMIT runStarted(job.id);
        Q_EMIT dispatchRun(job);
        return;
    }
    if (m_pendingSelection) {
        SelectionJob job = std::move(*m_pendingSelection);
        m_pendingSelection.reset();
        if (!hasModel()) {
            Q_EMIT selectionFailed(job.id, noModel);
            return dispatchNext();
        }
        m_runCancel = false;
        m_inFlight = InFlight::Select;
        Q_EMIT selectionStarted(job.id);
        Q_EMIT dispatchSelect(job);
        return;
    }
    // Last, and not while a debounced request is about to arrive.
    if (m_pendingEval && hasModel() && !m_debounce.isActive()) {
        EvalJob job = std::move(*m_pendingEval);
        m_pendingEval.reset();
        m_evalCancel = false;
        m_inFlightEval = job;
        m_inFlight = InFlight::Eval;
        Q_EMIT evalStarted(job.id);
        Q_EMIT dispatchEval(job);
    }
}

}  // namespace tokenscope
