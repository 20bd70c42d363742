#include "ui/inference_worker.h"

#include <QElapsedTimer>

#include <exception>
#include <optional>

#include "common/error.h"
#include "config/model_config.h"
#include "ui/resource_paths.h"
#include "tasks/shapes/shapes_eval.h"

namespace tokenscope {

namespace {

class EngineBackend : public ModelBackend {
public:
    explicit EngineBackend(std::unique_ptr<Engine> engine) : m_engine(std::move(engine)) {}
    ModelSummary summary() const override { return m_engine->summary(); }
    RunResult run(const RunRequest& request, const std::atomic<bool>* cancel) override
    {
        return m_engine->run(request, cancel);
    }
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
    return summary.config.family == ModelFamily::Vilt ? summary.config.vilt.numHiddenLayers
                                                      : summary.config.clipVision.numHiddenLayers;
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

EvalOutcome ModelBackend::evaluate(const EvalJob&, const std::atomic<bool>*)
{
    throw Error("this model cannot be evaluated on a built-in task");
}

InferenceWorker::InferenceWorker(const std::atomic<bool>* runCancel, const std::atomic<bool>* loadCancel,
                                 BackendLoader loader, QObject* parent)
    : QObject(parent),
      m_runCancel(runCancel),
      m_loadCancel(loadCancel),
      m_loader(loader ? std::move(loader) : BackendLoader(loadEngineBackend))
{
}

InferenceWorker::~InferenceWorker() = default;

void InferenceWorker::loadModel(const ModelSource& source)
{
    // Progress signals are queued to the GUI.
    EngineOptions options = loadOptionsFor(source, m_loadCancel, [this](double fraction) { Q_EMIT loadProgress(fraction); });
    // A random-weight architecture has no vocab of its own; the bundled BERT-style one has ids
    // below 30522, so it fits every ViLT embedding table.
    if (source.folder.isEmpty())
        options.vocabPath = bundledVocabPath().toStdString();
    try {
        QElapsedTimer timer;
        timer.start();
        std::unique_ptr<ModelBackend> backend = m_loader(source, options);
        if (m_loadCancel && m_loadCancel->load())
            throw Cancelled();
        ModelInfo info;
        info.summary = backend->summary();
        info.layerCount = layerCountOf(info.summary);
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

SharedRunResult InferenceWorker::runOne(const RunRequest& request)
{
    if (m_runCancel && m_runCancel->load())
        throw Cancelled();
    return std::make_shared<const RunResult>(m_backend->run(request, m_runCancel));
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
        if (job.hasCompare) {
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

void InferenceWorker::evaluate(const EvalJob& job)
{
    if (!m_backend) {
        Q_EMIT evalFailed(job.id, tr("No model is loaded."), false);
        return;
    }
    try {
        if (m_evalCancel && m_evalCancel->load())
            throw Cancelled();
        QElapsedTimer timer;
        timer.start();
        EvalOutcome outcome = m_backend->evaluate(job, m_evalCancel);
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
