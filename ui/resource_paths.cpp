#include "ui/resource_paths.h"

#include <QCoreApplication>
#include <QDir>
#include <QFileInfo>

#ifndef TOKENSCOPE_RESOURCE_DIR
#define TOKENSCOPE_RESOURCE_DIR ""
#endif

namespace tokenscope {

QString resourceDir()
{
    const QString fromEnvironment = qEnvironmentVariable("TOKENSCOPE_RESOURCES");
    if (!fromEnvironment.isEmpty())
        return fromEnvironment;
    const QString installed = QCoreApplication::applicationDirPath() + "/../share/tokenscope/resources";
    if (QFileInfo::exists(installed + "/models"))
        return QDir(installed).canonicalPath();
    const QString sourceTree = QStringLiteral(TOKENSCOPE_RESOURCE_DIR);
    if (QFileInfo::exists(sourceTree + "/models"))
        return sourceTree;
    // A build tree moved away from its sources: the nearest resources/ above the executable.
    for (QDir folder(QCoreApplication::applicationDirPath()); !folder.isRoot(); folder.cdUp()) {
        if (QFileInfo::exists(folder.filePath("resources/models")))
            return folder.filePath("resources");
    }
    return sourceTree;
}

QString bundledVocabPath()
{
    return resourceDir() + QStringLiteral("/models/vocab-bert-small.txt");
}

}  // namespace tokenscope
