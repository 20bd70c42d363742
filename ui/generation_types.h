#pragma once

// Plain values that travel between the window's LLaVA view (GUI thread) and the generation
// worker (its own thread) through queued signals. Results are shared read-only: built once on
// the worker thread, never changed after they are emitted.

#include <QMetaType>
#include <QString>

#include <memory>

#include "engine/generation.h"
#include "ui/run_types.h"

namespace tokenscope {

// What a method keeps of an image, without the language model (budget / alpha feedback).
// imageId names the image, so the view can tell a stale answer from a current one.
struct SelectionJob {
    quint64 id = 0;
    quint64 imageId = 0;
    ImageU8 image;
    MethodSettings settings;
};

struct SelectionOutcome {
    quint64 jobId = 0;
    quint64 imageId = 0;
    quint64 modelGeneration = 0;
    MethodSettings settings;
    std::shared_ptr<const GenerateResult> record;  // the method and the trace of its selection
    double elapsedMs = 0;  // wall time of the selection on the worker
};

// One answer: the request as Engine::generate takes it.
struct GenerationJob {
    quint64 id = 0;
    quint64 imageId = 0;
    GenerateRequest request;
};

struct GenerationOutcome {
    quint64 jobId = 0;
    quint64 imageId = 0;
    quint64 modelGeneration = 0;
    std::shared_ptr<const GenerateResult> result;
};

// Registers the types above for queued connections (idempotent); call before connecting.
void registerGenerationTypes();

}  // namespace tokenscope

Q_DECLARE_METATYPE(tokenscope::SelectionJob)
Q_DECLARE_METATYPE(tokenscope::SelectionOutcome)
Q_DECLARE_METATYPE(tokenscope::GenerationJob)
Q_DECLARE_METATYPE(tokenscope::GenerationOutcome)
