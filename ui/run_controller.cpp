#include "ui/run_controller.h"

namespace tokenscope {

RunController::RunController(BackendLoader loader, QObject* parent) : QObject(parent)
{
    registerRunTypes();
    m_worker = new InferenceWorker(&m_runCancel, &m_loadCancel, std::move(loader));
    m_worker->setEvalCancelFlag(&m_evalCancel);
    m_worker->moveToThread(&m_thread);
    connect(&m_thread, &QThread::finished, m_worker, &QObject::deleteLater);
    connect(this, &RunController::dispatchLoad, m_worker, &InferenceWorker::loadModel, Qt::QueuedConnection);
    connect(this, &RunController::dispatchRun, m_worker, &InferenceWorker::runJob, Qt::QueuedConnection);
    connect(this, &RunController::dispatchEval, m_worker, &InferenceWorker::evaluate, Qt::QueuedConnection);
    connect(m_worker, &InferenceWorker::loadProgress, this, &RunController::loadProgress, Qt::QueuedConnection);
    connect(m_worker, &InferenceWorker::modelLoaded, this, &RunController::onWorkerModelLoaded, Qt::QueuedConnection);
    connect(m_worker, &InferenceWorker::modelLoadFailed, this, &RunController::onWorkerModelLoadFailed,
            Qt::QueuedConnection);
    connect(m_worker, &InferenceWorker::runFinished, this, &RunController::onWorkerRunFinished, Qt::QueuedConnection);
    connect(m_worker, &InferenceWorker::runFailed, this, &RunController::onWorkerRunFailed, Qt::QueuedConnection);
    connect(m_worker, &InferenceWorker::evalFinished, this, &RunController::onWorkerEvalFinished, Qt::QueuedConnection);
    connect(m_worker, &InferenceWorker::evalFailed, this, &RunController::onWorkerEvalFailed, Qt::QueuedConnection);
    m_thread.setObjectName(QStringLiteral("inference"));
    m_thread.start();

    m_debounce.setSingleShot(true);
    m_debounce.setInterval(150);
    connect(&m_debounce, &QTimer::timeout, this, [this] {
        if (m_debounced) {
            RunJob job = std::move(*m_debounced);
            m_debounced.reset();
            m_pendingRun = std::move(job);
            dispatchNext();
        }
    });
}

RunController::~RunController()
{
    m_runCancel = true;
    m_loadCancel = true;
    m_evalCancel = true;
    m_thread.quit();
    m_thread.wait();
}

void RunController::loadModel(const ModelSource& source)
{
    m_pendingLoad = source;
    // A load outranks a run in flight: stop the run so the load starts soon. The run's request is
    // kept and repeated on the new model.
    if (m_inFlight == InFlight::Run)
        m_runCancel = true;
    pauseEval();
    Q_EMIT loadStarted(source);
    dispatchNext();
}

void RunController::cancelLoad()
{
    if (m_pendingLoad && m_inFlight != InFlight::Load) {
        m_pendingLoad.reset();
        Q_EMIT modelLoadFailed(tr("Loading cancelled; the previous model stays loaded."), true);
    }
    if (m_inFlight == InFlight::Load)
        m_loadCancel = true;
}

quint64 RunController::requestRun(RunJob job)
{
    job.id = m_nextJobId++;
    m_latestJobId = job.id;
    m_debounce.stop();
    m_debounced.reset();
    m_pendingRun = std::move(job);
    if (m_inFlight == InFlight::Run)
        m_runCancel = true;
    pauseEval();
    dispatchNext();
    return m_latestJobId;
}

quint64 RunController::requestRunDebounced(RunJob job)
{
    job.id = m_nextJobId++;
    m_latestJobId = job.id;
    m_debounced = std::move(job);
    // The result in flight is already out of date: stop it now rather than after the debounce.
    if (m_inFlight == InFlight::Run)
        m_runCancel = true;
    pauseEval();
    m_pendingRun.reset();
    m_debounce.start();
    Q_EMIT busyChanged(true);
    return m_latestJobId;
}

quint64 RunController::requestEval(EvalJob job)
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

void RunController::pauseEval()
{
    if (m_inFlight == InFlight::Eval)
        m_evalCancel = true;
}

bool RunController::isBusyNow() const
{
    return m_inFlight == InFlight::Load || m_inFlight == InFlight::Run || m_debounce.isActive();
}

void RunController::setInFlight(InFlight state)
{
    const bool wasBusy = m_inFlight == InFlight::Load || m_inFlight == InFlight::Run;
    m_inFlight = state;
    const bool isBusy = isBusyNow();
    if (wasBusy != isBusy)
        Q_EMIT busyChanged(isBusy);
}

void RunController::dispatchNext()
{
    if (m_inFlight != InFlight::None)
        return;
    if (m_pendingLoad) {
        ModelSource source = std::move(*m_pendingLoad);
        m_pendingLoad.reset();
        m_loadCancel = false;
        setInFlight(InFlight::Load);
        Q_EMIT dispatchLoad(source);
        return;
    }
    if (m_pendingRun) {
        RunJob job = std::move(*m_pendingRun);
        m_pendingRun.reset();
        if (!hasModel()) {
            Q_EMIT runFailed(job.id, tr("No model is loaded."));
            return;
        }
        m_runCancel = false;
        m_inFlightRunId = job.id;
        setInFlight(InFlight::Run);
        Q_EMIT runStarted(job.id);
        Q_EMIT dispatchRun(job);
        return;
    }
    // Last, and not while a debounced run is about to arrive.
    if (m_pendingEval && hasModel() && !m_debounce.isActive()) {
        EvalJob job = std::move(*m_pendingEval);
        m_pendingEval.reset();
        m_evalCancel = false;
        m_inFlightEval = job;
        setInFlight(InFlight::Eval);
        Q_EMIT evalStarted(job.id);
        Q_EMIT dispatchEval(job);
        return;
    }
    setInFlight(InFlight::None);
}

void RunController::onWorkerRunFinished(const RunOutcome& outcome)
{
    m_inFlight = InFlight::None;
    if (outcome.jobId == m_latestJobId)
        Q_EMIT runFinished(outcome);
    dispatchNext();
    if (!isBusyNow())
        Q_EMIT busyChanged(false);
}

void RunController::onWorkerRunFailed(quint64 jobId, const QString& message, bool isCancelled)
{
    m_inFlight = InFlight::None;
    // A cancelled run was replaced by a newer request (or a load): not an error to report.
    if (!isCancelled && jobId == m_latestJobId)
        Q_EMIT runFailed(jobId, message);
    dispatchNext();
    if (!isBusyNow())
        Q_EMIT busyChanged(false);
}

void RunController::onWorkerModelLoaded(const ModelInfo& info)
{
    m_inFlight = InFlight::None;
    m_model = info;
    Q_EMIT modelLoaded(info);
    dispatchNext();
    if (!isBusyNow())
        Q_EMIT busyChanged(false);
}

void RunController::onWorkerModelLoadFailed(const QString& message, bool isCancelled)
{
    m_inFlight = InFlight::None;
    Q_EMIT modelLoadFailed(message, isCancelled);
    dispatchNext();
    if (!isBusyNow())
        Q_EMIT busyChanged(false);
}

void RunController::onWorkerEvalFinished(const EvalOutcome& outcome)
{
    m_inFlight = InFlight::None;
    m_inFlightEval.reset();
    if (outcome.jobId == m_latestEvalId)
        Q_EMIT evalFinished(outcome);
    dispatchNext();
}

void RunController::onWorkerEvalFailed(quint64 jobId, const QString& message, bool isCancelled)
{
    m_inFlight = InFlight::None;
    // Stopped for a load or a run: it goes back in line unless a newer evaluation took its place.
    if (isCancelled && jobId == m_latestEvalId && m_inFlightEval && !m_pendingEval)
        m_pendingEval = m_inFlightEval;
    else if (!isCancelled && jobId == m_latestEvalId)
        Q_EMIT evalFailed(jobId, message);
    m_inFlightEval.reset();
    dispatchNext();
}

}  // namespace tokenscope
