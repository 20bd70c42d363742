#include "ui/generation_worker.h"

#include <QDir>
#include <QElapsedTimer>

#include <exception>

#include "common/error.h"
#include "config/model_config.h"

namespace tokenscope {

namespace {

class EngineGenerationBackend : public GenerationBackend {
public:
    explicit EngineGenerationBackend(std::unique_ptr<Engine> engine) : m_engine(std::move(engine)) {}
    ModelSummary summary() const override { return m_engine->summary(); }
    GenerateResult generate(const GenerateRequest& request, const GenerateCallback& onToken,
                            const std::atomic<bool>* cancel) override
    {
        return m_engine->generate(request, onToken, cancel);
    }
    GenerateResult selectVisualTokens(const ImageU8& image, const MethodSettings& settings,
                                      const std::atomic<bool>* cancel) override
    {
        return m_engine->selectVisualTokens(image, settings, cancel);
    }

private:
    std::unique_ptr<Engine> m_engine;
};

bool isCancelRaised(const std::atomic<bool>* flag) { return flag && flag->load(); }

}  // namespace

bool isLlavaNextFolder(const QString& folder)
{
    if (folder.isEmpty())
        return false;
    try {
        return loadModelConfig(QDir(folder).filePath("config.json").toStdString()).family == ModelFamily::LlavaNext;
    } catch (const std::exception&) {
        return false;
    }
}

std::unique_ptr<GenerationBackend> loadGenerationBackend(const ModelSource& source, const EngineOptions& options)
{
    if (source.folder.isEmpty())
        throw Error("a LLaVA-NeXT model needs a model folder");
    std::unique_ptr<Engine> engine = Engine::open(source.folder.toStdString(), options);
    if (!engine->capabilities().generates)
        throw Error(source.folder.toStdString() + " is not a LLaVA-NeXT model (it does not generate)");
    return std::make_unique<EngineGenerationBackend>(std::move(engine));
}

GenerationWorker::GenerationWorker(const std::atomic<bool>* selectCancel, const std::atomic<bool>* generateCancel,
                                   const std::atomic<bool>* loadCancel, GenerationBackendLoader loader, QObject* parent)
    : QObject(parent),
      m_selectCancel(selectCancel),
      m_generateCancel(generateCancel),
      m_loadCancel(loadCancel),
      m_loader(loader ? std::move(loader) : GenerationBackendLoader(loadGenerationBackend))
{
}

GenerationWorker::~GenerationWorker() = default;

void GenerationWorker::loadModel(const ModelSource& source)
{
    // Progress signals are queued to the GUI.
    const EngineOptions options =
        loadOptionsFor(source, m_loadCancel, [this](double fraction) { Q_EMIT loadProgress(fraction); });
    try {
        std::unique_ptr<GenerationBackend> backend = m_loader(source, options);
        if (isCancelRaised(m_loadCancel))
            throw Cancelled();
        ModelInfo info;
        info.summary = backend->summary();
        info.layerCount = info.summary.config.llavaNext.text.numHiddenLayers;
        info.source = source;
        info.generation = ++m_generation;
        m_backend = std::move(backend);
        Q_EMIT modelLoaded(info);
    } catch (const Cancelled&) {
        Q_EMIT modelLoadFailed(tr("Loading cancelled; the previous model stays loaded."), true);
    } catch (const std::exception& error) {
        Q_EMIT modelLoadFailed(QString::fromStdString(error.what()), false);
    }
}

void GenerationWorker::unloadModel()
{
    m_backend.reset();
    Q_EMIT modelUnloaded();
}

void GenerationWorker::select(const SelectionJob& job)
{
    if (!m_backend) {
        Q_EMIT selectionFailed(job.id, tr("No LLaVA-NeXT model is loaded."), false);
        return;
    }
    try {
        if (isCancelRaised(m_selectCancel))
            throw Cancelled();
        QElapsedTimer timer;
        timer.start();
        SelectionOutcome outcome;
        outcome.jobId = job.id;
        outcome.imageId = job.imageId;
        outcome.modelGeneration = m_generation;
        outcome.settings = job.settings;
        outcome.record = std::make_shared<const GenerateResult>(
            m_backend->selectVisualTokens(job.image, job.settings, m_selectCancel));
        outcome.elapsedMs = double(timer.nsecsElapsed()) / 1e6;
        Q_EMIT selectionFinished(outcome);
    } catch (const Cancelled&) {
        Q_EMIT selectionFailed(job.id, tr("cancelled"), true);
    } catch (const std::exception& error) {
        Q_EMIT selectionFailed(job.id, QString::fromStdString(error.what()), false);
    }
}

void GenerationWorker::generate(const GenerationJob& job)
{
    if (!m_backend) {
        Q_EMIT generationFailed(job.id, tr("No LLaVA-NeXT model is loaded."), false);
        return;
    }
    try {
        if (isCancelRaised(m_generateCancel))
            throw Cancelled();
        // Runs on this thread inside generate(); the emit is queued to the GUI.
        const GenerateCallback onToken = [this, &job](const std::string& delta, int64_t tokenId) {
            if (!delta.empty())
                Q_EMIT tokenStreamed(job.id, QString::fromStdString(delta), qint64(tokenId));
            return !isCancelRaised(m_generateCancel);
        };
        GenerationOutcome outcome;
        outcome.jobId = job.id;
        outcome.imageId = job.imageId;
        outcome.modelGeneration = m_generation;
        GenerateResult result = m_backend->generate(job.request, onToken, m_generateCancel);
        // Stop pressed on the last token: the callback asked to stop and generate() returned.
        if (isCancelRaised(m_generateCancel))
            throw Cancelled();
        outcome.result = std::make_shared<const GenerateResult>(std::move(result));
        Q_EMIT generationFinished(outcome);
    } catch (const Cancelled&) {
        Q_EMIT generationFailed(job.id, tr("stopped"), true);
    } catch (const std::exception& error) {
        Q_EMIT generationFailed(job.id, QString::fromStdString(error.what()), false);
    }
}

}  // namespace tokenscope
