#pragma once

// The generation worker: one long-lived QObject on its own QThread (LlavaController owns both)
// that holds a loaded LLaVA-NeXT model. Its slots run on that thread, so the model is used from
// one thread only, as Engine requires; the window talks to it only through queued signals.
// Engine creates c10::InferenceMode itself, on this thread. ui never includes torch.
//
// Streaming: generate() emits tokenStreamed for every token from inside Engine::generate's
// callback (this thread); the connection to the controller is queued, so the GUI gets the text
// pieces in order while the answer is still being produced.

#include <QObject>
#include <QString>

#include <atomic>
#include <functional>
#include <memory>

#include "ui/generation_types.h"

namespace tokenscope {

// What the worker generates with: an Engine on a LLaVA-NeXT folder, or a stand-in in tests. Used
// from the worker thread only; every call throws Error (Cancelled when *cancel became true).
class GenerationBackend {
public:
    virtual ~GenerationBackend() = default;
    virtual ModelSummary summary() const = 0;
    virtual GenerateResult generate(const GenerateRequest& request, const GenerateCallback& onToken,
                                    const std::atomic<bool>* cancel) = 0;
    virtual GenerateResult selectVisualTokens(const ImageU8& image, const MethodSettings& settings,
                                                    const std::atomic<bool>* cancel) = 0;
};

// Loads a backend; called on the worker thread. Throws Error (Cancelled when options.cancel rose).
using GenerationBackendLoader =
    std::function<std::unique_ptr<GenerationBackend>(const ModelSource& source, const EngineOptions& options)>;

// The real loader: Engine::open(source.folder); a folder that is not LLaVA-NeXT is an Error.
std::unique_ptr<GenerationBackend> loadGenerationBackend(const ModelSource& source, const EngineOptions& options);

// true when folder/config.json parses as a LLaVA-NeXT config (cheap: reads only that file; a
// missing or broken config is false, and the ViLT path reports it).
bool isLlavaNextFolder(const QString& folder);

class GenerationWorker : public QObject {
    Q_OBJECT
public:
    // The flags belong to the controller, which outlives the worker; the worker only reads them.
    GenerationWorker(const std::atomic<bool>* selectCancel, const std::atomic<bool>* generateCancel,
                     const std::atomic<bool>* loadCancel, GenerationBackendLoader loader = {}, QObject* parent = nullptr);
    ~GenerationWorker() override;

public Q_SLOTS:
    // On success the previous model is replaced; on failure (or cancel) it stays.
    void loadModel(const tokenscope::ModelSource& source);
    // Frees the model (the window switched to a ViLT model).
    void unloadModel();
    void select(const tokenscope::SelectionJob& job);
    void generate(const tokenscope::GenerationJob& job);

Q_SIGNALS:
    void loadProgress(double fraction);
    void modelLoaded(const tokenscope::ModelInfo& info);
    void modelLoadFailed(const QString& message, bool isCancelled);
    void modelUnloaded();
    void selectionFinished(const tokenscope::SelectionOutcome& outcome);
    void selectionFailed(quint64 jobId, const QString& message, bool isCancelled);
    // One text piece of the answer being generated; tokenId -1 carries bytes held back until the end.
    void tokenStreamed(quint64 jobId, const QString& delta, qint64 tokenId);
    void generationFinished(const tokenscope::GenerationOutcome& outcome);
    void generationFailed(quint64 jobId, const QString& message, bool isCancelled);

private:
    const std::atomic<bool>* m_selectCancel;
    const std::atomic<bool>* m_generateCancel;
    const std::atomic<bool>* m_loadCancel;
    GenerationBackendLoader m_loader;
    std::unique_ptr<GenerationBackend> m_backend;
    quint64 m_generation = 0;
};

}  // namespace tokenscope
