#include "ui/run_types.h"

#include <QDir>

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
}

}  // namespace tokenscope
