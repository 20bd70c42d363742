#include "ui/inference_worker.h"

#include <QElapsedTimer>

#include <exception>
#include <optional>

#include "common/error.h"
#include "config/model_config.h"
#include "tasks/shapes/shapes_eval.h"

namespace tokenscope {

namespace {

class EngineBackend : public ModelBackend {
public:
    explicit EngineBackend(std::unique_ptr<Engine> engine) : m_engine(std::move(engine)) {}
    ModelSummary summary() const override { return m_engine->summary(); }
    FamilyCapabilities capabilities() const override { return m_engine->capabilities(); }
    RunResult run(const RunRequest& request, const std::atomic<bool>* cancel) override
    {
        return m_engine->run(request, cancel);
    }
    GenerateResult selectVisualTokens(const ImageU8& image, const MethodSettings& settings,
                                      const std::atomic<bool>* cancel) override
    {
        return m_engine->selectVisualTokens(image, settings, cancel);
    }
    GenerateResult generate(const GenerateRequest& request, const GenerateCallback& onToken,
                            const std::atomic<bool>* cancel) override
    {
        return m_engine->generate(request, onToken, cancel);
    }
    std::vector<ModelOption> options() const override { return m_engine->options(); }
    void setOption(const std::string& key, const std::string& value) override { m_engine->setOption(key, value); }
    EvalOutcome evaluate(const EvalJob& job, const std::atomic<bool>* cancel) override
    {
        if (!shapes::isShapesModel(m_engine->summary().config))
            throw Error(m_engine->summary().source + ": not a Shapes VQA model (its id2label is not the Shapes answers)");
        // The scenes are kept while the split stays the same. The unreduced model is timed again
        // with every job, in turns with the method (unreduced, method, unreduced, method; each
        // keeps its faster pass): a speed-up is a ratio of measurements taken back to back, so
        // neither a burst of load elsewhere nor the overlays still being drawn right after the
        // run skews it.
        if (!m_set || m_set->seed != job.seed || m_set->size() != job.examples)
            m_set = shapes::makeEvalSet(job.seed, job.examples, shapes::sceneOptionsFor(m_engine->summary().config));
        shapes::EvalRunOptions options;
        options.batch = job.batch;
        options.passes = job.passes;
        options.cancel = cancel;
        std::vector<MethodSettings> methods{MethodSettings{}};
        if (!job.method.is("none"))
            methods.push_back(job.method);
        const auto evals = shapes::evaluateInTurns(*m_engine, *m_set, methods, options);
        const shapes::MethodEval& unreduced = evals.front();
        const shapes::MethodEval& reduced = evals.back();
        const EvalSummary summary = shapes::summarize(*m_set, reduced, &unreduced);
        EvalOutcome outcome;
        outcome.method = job.method;
        outcome.examples = int(summary.examples);
        outcome.accuracy = summary.accuracy;
        outcome.examplesPerSecond = reduced.examplesPerSecond;
        outcome.unreducedAccuracy = shapes::summarize(*m_set, unreduced, nullptr).accuracy;
        outcome.unreducedExamplesPerSecond = unreduced.examplesPerSecond;
        outcome.agreement = summary.agreement.value_or(1.0);
        outcome.imageTokens = reduced.imageTokens;
        return outcome;
    }

private:
    std::unique_ptr<Engine> m_engine;
    std::optional<shapes::EvalSet> m_set;
};

int layerCountOf(const ModelSummary& summary)
{
    switch (summary.config.family) {
    case ModelFamily::Vilt: return summary.config.vilt.numHiddenLayers;
    case ModelFamily::LlavaNext: return summary.config.llavaNext.text.numHiddenLayers;
    case ModelFamily::Meter: return summary.config.meter.numTopLayer;  // the layers methods act in
    default: return summary.config.clipVision.numHiddenLayers;
    }
}

bool isRaised(const std::atomic<bool>* flag) { return flag && flag->load(); }

// What a backend says to a job its model does not offer.
[[noreturn]] void notOffered(const ModelBackend& backend, const std::string& what)
{
    throw Error(backend.summary().source + ": this model does not " + what);
}

}  // namespace

std::unique_ptr<ModelBackend> loadEngineBackend(const ModelSource& source, const EngineOptions& options)
{
    std::unique_ptr<Engine> engine;
    if (!source.folder.isEmpty())
        engine = Engine::open(source.folder.toStdString(), options);
    else
        engine = Engine::fromConfig(builtinModelConfig(source.builtinName.toStdString()), options);
    return std::make_unique<EngineBackend>(std::move(engine));
}

RunResult ModelBackend::run(const RunRequest&, const std::atomic<bool>*) { notOffered(*this, "answer from labels"); }

void ModelBackend::setOption(const std::string& key, const std::string&)
{
    throw Error(summary().config.architecture + " has no setting '" + key + "'");
}

EvalOutcome ModelBackend::evaluate(const EvalJob&, const std::atomic<bool>*)
{
    throw Error("this model cannot be evaluated on a built-in task");
}

GenerateResult ModelBackend::selectVisualTokens(const ImageU8&, const MethodSettings&, const std::atomic<bool>*)
{
    notOffered(*this, "select visual tokens");
}

GenerateResult ModelBackend::generate(const GenerateRequest&, const GenerateCallback&, const std::atomic<bool>*)
{
    notOffered(*this, "generate answers");
}

InferenceWorker::InferenceWorker(WorkerCancelFlags flags, BackendLoader loader, QObject* parent)
    : QObject(parent), m_cancel(flags), m_loader(loader ? std::move(loader) : BackendLoader(loadEngineBackend))
{
}

InferenceWorker::~InferenceWorker() = default;

void InferenceWorker::loadModel(const ModelSource& source)
{
    // Progress signals are queued to the GUI.
    EngineOptions options = loadOptionsFor(source, m_cancel.load, [this](double fraction) { Q_EMIT loadProgress(fraction); });
    try {
        QElapsedTimer timer;
        timer.start();
        std::unique_ptr<ModelBackend> backend = m_loader(source, options);
        if (isRaised(m_cancel.load))
            throw Cancelled();
        ModelInfo info;
        info.summary = backend->summary();
        info.capabilities = backend->capabilities();
        info.layerCount = layerCountOf(info.summary);
        info.options = backend->options();
        info.source = source;
        info.generation = ++m_generation;
        m_backend = std::move(backend);
        m_baseline.reset();
        Q_EMIT modelLoaded(info);
    } catch (const Cancelled&) {
        Q_EMIT modelLoadFailed(tr("Loading cancelled; the previous model stays loaded."), true);
    } catch (const std::exception& error) {
        Q_EMIT modelLoadFailed(QString::fromStdString(error.what()), false);
    }
}

bool InferenceWorker::applyModelSettings(const std::map<std::string, std::string>& settings)
{
    if (settings.empty())
        return false;
    bool changed = false;
    for (const auto& option : m_backend->options()) {
        const auto wanted = settings.find(option.key);
        if (wanted == settings.end() || wanted->second == option.value)
            continue;
        m_backend->setOption(option.key, wanted->second);
        changed = true;
    }
    return changed;
}

SharedRunResult InferenceWorker::runOne(const RunRequest& request)
{
    if (isRaised(m_cancel.run))
        throw Cancelled();
    return std::make_shared<const RunResult>(m_backend->run(request, m_cancel.run));
}

SharedRunResult InferenceWorker::runOnCompareModel(const ModelSource& source, const RunRequest& request,
                                                  const MethodSettings& method)
{
    const QString name = source.displayName();
    try {
        if (!m_compareBackend || m_compareSource.folder != source.folder || m_compareSource.builtinName != source.builtinName ||
            m_compareSource.device != source.device || m_compareSource.precision != source.precision) {
            m_compareBackend.reset();
            m_compareBackend = m_loader(source, loadOptionsFor(source, m_cancel.run, [](double) {}));
            m_compareSource = source;
            m_compareWarm = false;
        }
        if (!m_compareBackend->capabilities().answersFromLabels)
            throw Error("it does not answer from labels (compare a LLaVA model in its own view)");
        RunRequest other = request;
        // The method when it serves B's family; else B runs unreduced.
        other.method = methodDescriptor(method.method()).serves(m_compareBackend->capabilities().family) ? method : MethodSettings{};
        if (!m_compareWarm) {
            RunRequest warmUp = other;
            warmUp.trace = false;
            m_compareBackend->run(warmUp, m_cancel.run);
            m_compareWarm = true;
        }
        if (isRaised(m_cancel.run))
            throw Cancelled();
        return std::make_shared<const RunResult>(m_compareBackend->run(other, m_cancel.run));
    } catch (const Cancelled&) {
        throw;
    } catch (const std::exception& error) {
        throw Error(tr("model B (%1): %2").arg(name, QString::fromStdString(error.what())).toStdString());
    }
}

void InferenceWorker::runJob(const RunJob& job)
{
    if (!m_backend) {
        Q_EMIT runFailed(job.id, tr("No model is loaded."), false);
        return;
    }
    try {
        RunOutcome outcome;
        outcome.jobId = job.id;
        outcome.modelGeneration = m_generation;
        if (applyModelSettings(job.modelSettings))
            m_baseline.reset();
        if (m_warmGeneration != m_generation) {
            // The first forward after a load pays one-time costs (allocator pools, thread pools,
            // lazily mapped weights): warm up untimed so the baseline and the method compare warm
            // runs.
            RunRequest warmUp = job.request;
            warmUp.method = MethodSettings{};
            warmUp.trace = false;
            runOne(warmUp);
            m_warmGeneration = m_generation;
        }
        const bool isBaselineCached = m_baseline && m_baselineInputId == job.inputId &&
                                      m_baselineGeneration == m_generation && job.inputId != 0;
        if (job.wantsBaseline && !isBaselineCached && !job.request.method.is("none")) {
            RunRequest baselineRequest = job.request;
            baselineRequest.method = MethodSettings{};
            m_baseline = runOne(baselineRequest);
            m_baselineInputId = job.inputId;
            m_baselineGeneration = m_generation;
        }
        QElapsedTimer timer;
        timer.start();
        outcome.result = runOne(job.request);
        outcome.totalMs = double(timer.nsecsElapsed()) / 1e6;
        if (job.request.method.is("none")) {
            m_baseline = outcome.result;
            m_baselineInputId = job.inputId;
            m_baselineGeneration = m_generation;
        }
        if (job.wantsBaseline)
            outcome.baseline = m_baseline;
        if (job.compareModel) {
            outcome.compare = runOnCompareModel(*job.compareModel, job.request, job.compare);
        } else if (job.hasCompare) {
            RunRequest compareRequest = job.request;
            compareRequest.method = job.compare;
            outcome.compare = runOne(compareRequest);
        }
        Q_EMIT runFinished(outcome);
    } catch (const Cancelled&) {
        Q_EMIT runFailed(job.id, tr("cancelled"), true);
    } catch (const std::exception& error) {
        Q_EMIT runFailed(job.id, QString::fromStdString(error.what()), false);
    }
}

void InferenceWorker::select(const SelectionJob& job)
{
    if (!m_backend) {
        Q_EMIT selectionFailed(job.id, tr("No model is loaded."), false);
        return;
    }
    try {
        if (isRaised(m_cancel.run))
            throw Cancelled();
        QElapsedTimer timer;
        timer.start();
        SelectionOutcome outcome;
        outcome.jobId = job.id;
        outcome.imageId = job.imageId;
        outcome.modelGeneration = m_generation;
        outcome.settings = job.settings;
        outcome.record =
            std::make_shared<const GenerateResult>(m_backend->selectVisualTokens(job.image, job.settings, m_cancel.run));
        outcome.elapsedMs = double(timer.nsecsElapsed()) / 1e6;
        Q_EMIT selectionFinished(outcome);
    } catch (const Cancelled&) {
        Q_EMIT selectionFailed(job.id, tr("cancelled"), true);
    } catch (const std::exception& error) {
        Q_EMIT selectionFailed(job.id, QString::fromStdString(error.what()), false);
    }
}

void InferenceWorker::generate(const GenerationJob& job)
{
    if (!m_backend) {
        Q_EMIT generationFailed(job.id, tr("No model is loaded."), false);
        return;
    }
    try {
        if (isRaised(m_cancel.generate))
            throw Cancelled();
        // Runs on this thread inside generate(); the emit is queued to the GUI.
        const GenerateCallback onToken = [this, &job](const std::string& delta, int64_t tokenId) {
            if (!delta.empty())
                Q_EMIT tokenStreamed(job.id, QString::fromStdString(delta), qint64(tokenId));
            return !isRaised(m_cancel.generate);
        };
        GenerationOutcome outcome;
        outcome.jobId = job.id;
        outcome.imageId = job.imageId;
        outcome.modelGeneration = m_generation;
        GenerateResult result = m_backend->generate(job.request, onToken, m_cancel.generate);
        // Stop pressed on the last token: the callback asked to stop and generate() returned.
        if (isRaised(m_cancel.generate))
            throw Cancelled();
        outcome.result = std::make_shared<const GenerateResult>(std::move(result));
        Q_EMIT generationFinished(outcome);
    } catch (const Cancelled&) {
        Q_EMIT generationFailed(job.id, tr("stopped"), true);
    } catch (const std::exception& error) {
        Q_EMIT generationFailed(job.id, QString::fromStdString(error.what()), false);
    }
}

void InferenceWorker::evaluate(const EvalJob& job)
{
    if (!m_backend) {
        Q_EMIT evalFailed(job.id, tr("No model is loaded."), false);
        return;
    }
    try {
        if (isRaised(m_cancel.eval))
            throw Cancelled();
        QElapsedTimer timer;
        timer.start();
        EvalOutcome outcome = m_backend->evaluate(job, m_cancel.eval);
        outcome.jobId = job.id;
        outcome.modelGeneration = m_generation;
        outcome.totalMs = double(timer.nsecsElapsed()) / 1e6;
        Q_EMIT evalFinished(outcome);
    } catch (const Cancelled&) {
        Q_EMIT evalFailed(job.id, tr("cancelled"), true);
    } catch (const std::exception& error) {
        Q_EMIT evalFailed(job.id, QString::fromStdString(error.what()), false);
    }
}

}  // namespace tokenscope
