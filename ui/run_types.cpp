#include "ui/run_types.h"

#include <QDir>

#include "ui/resource_paths.h"

namespace tokenscope {

QString ModelSource::displayName() const
{
    if (!folder.isEmpty())
        return QDir(folder).dirName();
    return QStringLiteral("%1 (random weights)").arg(builtinName);
}

void registerRunTypes()
{
    qRegisterMetaType<ModelSource>();
    qRegisterMetaType<ModelInfo>();
    qRegisterMetaType<RunJob>();
    qRegisterMetaType<RunOutcome>();
    qRegisterMetaType<EvalJob>();
    qRegisterMetaType<EvalOutcome>();
    qRegisterMetaType<SelectionJob>();
    qRegisterMetaType<SelectionOutcome>();
    qRegisterMetaType<GenerationJob>();
    qRegisterMetaType<GenerationOutcome>();
}

EngineOptions loadOptionsFor(const ModelSource& source, const std::atomic<bool>* cancel,
                             std::function<void(double fraction)> onFraction)
{
    EngineOptions options;
    options.device = source.device;
    options.precision = source.precision;
    options.cancel = cancel;
    // A random-weight architecture has no vocab of its own; the bundled BERT-style one has ids
    // below 30522, so it fits every ViLT embedding table.
    if (source.folder.isEmpty())
        options.vocabPath = bundledVocabPath().toStdString();
    auto lastPercent = std::make_shared<int>(-1);
    options.progress = [lastPercent, onFraction = std::move(onFraction)](uint64_t done, uint64_t total) {
        const int percent = total > 0 ? int(100.0 * double(done) / double(total)) : 0;
        if (percent != *lastPercent) {
            *lastPercent = percent;
            onFraction(percent / 100.0);
        }
    };
    return options;
}

}  // namespace tokenscope
