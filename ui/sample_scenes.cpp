#include "ui/sample_scenes.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>

namespace tokenscope {

SampleScenes loadSampleScenes(const QString& imagesFolder)
{
    SampleScenes result;
    const QDir folder(imagesFolder);
    QList<SampleScene> described;
    QString defaultImage;
    QFile file(folder.filePath(QStringLiteral("scenes.json")));
    if (file.exists()) {
        QJsonParseError parseError;
        const QJsonDocument document =
            file.open(QIODevice::ReadOnly) ? QJsonDocument::fromJson(file.readAll(), &parseError) : QJsonDocument();
        if (!document.isObject()) {
            result.error = QStringLiteral("%1: not a JSON object (%2)").arg(file.fileName(), parseError.errorString());
        } else {
            const QJsonObject root = document.object();
            defaultImage = root.value(QStringLiteral("default")).toString();
            for (const QJsonValue& value : root.value(QStringLiteral("scenes")).toArray()) {
                const QJsonObject entry = value.toObject();
                const QString image = entry.value(QStringLiteral("image")).toString();
                if (image.isEmpty() || !QFileInfo::exists(folder.filePath(image))) {
                    result.error = QStringLiteral("%1: scene image '%2' is missing").arg(file.fileName(), image);
                    continue;
                }
                described.push_back({QFileInfo(folder.filePath(image)).absoluteFilePath(),
                                     entry.value(QStringLiteral("question")).toString(),
                                     entry.value(QStringLiteral("answer")).toString(),
                                     entry.value(QStringLiteral("type")).toString()});
            }
        }
    }
    // The default first, then the described scenes in their order, then the other images by name.
    const auto isDefault = [&](const SampleScene& scene) {
        return !defaultImage.isEmpty() && QFileInfo(scene.path).fileName() == defaultImage;
    };
    for (const SampleScene& scene : described)
        if (isDefault(scene))
            result.scenes.push_back(scene);
    for (const SampleScene& scene : described)
        if (!isDefault(scene))
            result.scenes.push_back(scene);
    const QFileInfoList images =
        folder.entryInfoList({QStringLiteral("*.png"), QStringLiteral("*.jpg"), QStringLiteral("*.jpeg")}, QDir::Files, QDir::Name);
    for (const QFileInfo& image : images) {
        if (!findSampleScene(result, image.absoluteFilePath()))
            result.scenes.push_back({image.absoluteFilePath(), {}, {}, {}});
    }
    return result;
}

const SampleScene* findSampleScene(const SampleScenes& samples, const QString& path)
{
    const QString wanted = QFileInfo(path).absoluteFilePath();
    for (const SampleScene& scene : samples.scenes)
        if (scene.path == wanted)
            return &scene;
    return nullptr;
}

}  // namespace tokenscope
