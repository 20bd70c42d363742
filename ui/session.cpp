#include "ui/session.h"

#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>

#include "common/error.h"

namespace tokenscope {

QJsonObject methodSettingsToJson(const MethodSettings& settings)
{
    QJsonArray layers, schedule, pruneLocations;
    for (int layer : settings.layers)
        layers.append(layer);
    for (int layer : settings.dynamicVitLocations)
        pruneLocations.append(layer);
    for (int r : settings.tomeSchedule)
        schedule.append(r);
    return QJsonObject{
        {"method", QString::fromStdString(methodName(settings.method))},
        {"mode", QString::fromStdString(settings.mode)},
        {"layers", layers},
        {"prune_ratio", settings.pruneRatio},
        {"image_merge_ratio", settings.imageMergeRatio},
        {"text_merge_ratio", settings.textMergeRatio},
        {"score", QString::fromStdString(settings.score)},
        {"merge_style", QString::fromStdString(settings.mergeStyle)},
        {"tome_r", settings.tomeR},
        {"tome_inflect", settings.tomeInflect},
        {"tome_schedule", schedule},
        {"tome_joint", settings.tomeJoint},
        {"keep_ratio", settings.keepRatio},
        {"shortest_edge", settings.shortestEdge},
        {"seed", QString::number(settings.seed)},
        {"dynamicvit_keep_ratio", settings.dynamicVitKeepRatio},
        {"prune_locations", pruneLocations},
    };
}

MethodSettings methodSettingsFromJson(const QJsonObject& object)
{
    MethodSettings settings;
    if (object.contains("method"))
        settings.method = parseMethod(object.value("method").toString().toStdString());
    settings.mode = object.value("mode").toString(QString::fromStdString(settings.mode)).toStdString();
    if (object.contains("layers")) {
        settings.layers.clear();
        for (const QJsonValue& value : object.value("layers").toArray())
            settings.layers.push_back(value.toInt());
    }
    settings.pruneRatio = object.value("prune_ratio").toDouble(settings.pruneRatio);
    settings.imageMergeRatio = object.value("image_merge_ratio").toDouble(settings.imageMergeRatio);
    settings.textMergeRatio = object.value("text_merge_ratio").toDouble(settings.textMergeRatio);
    settings.score = object.value("score").toString(QString::fromStdString(settings.score)).toStdString();
    settings.mergeStyle = object.value("merge_style").toString(QString::fromStdString(settings.mergeStyle)).toStdString();
    settings.tomeR = object.value("tome_r").toInt(settings.tomeR);
    settings.tomeInflect = object.value("tome_inflect").toDouble(settings.tomeInflect);
    for (const QJsonValue& value : object.value("tome_schedule").toArray())
        settings.tomeSchedule.push_back(value.toInt());
    settings.tomeJoint = object.value("tome_joint").toBool(settings.tomeJoint);
    settings.keepRatio = object.value("keep_ratio").toDouble(settings.keepRatio);
    settings.shortestEdge = object.value("shortest_edge").toInt(settings.shortestEdge);
    settings.seed = object.value("seed").toString("0").toULongLong();
    settings.dynamicVitKeepRatio = object.value("dynamicvit_keep_ratio").toDouble(settings.dynamicVitKeepRatio);
    for (const QJsonValue& value : object.value("prune_locations").toArray())
        settings.dynamicVitLocations.push_back(value.toInt());
    return settings;
}

QJsonObject sessionToJson(const Session& session)
{
    QJsonObject model{{"device", session.model.device == DeviceKind::Cuda ? "cuda" : "cpu"},
                      {"precision", QString::fromStdString(precisionName(session.model.precision))}};
    if (!session.model.folder.isEmpty())
        model.insert("folder", session.model.folder);
    else
        model.insert("builtin", session.model.builtinName);
    return QJsonObject{{"format", "tokenscope-session"},
                       {"version", 1},
                       {"model", model},
                       {"image", session.imagePath},
                       {"question", session.question},
                       {"method", methodSettingsToJson(session.method)},
                       {"layer", session.layer},
                       {"compare", session.isCompareEnabled}};
}

Session sessionFromJson(const QJsonObject& object)
{
    if (object.value("format").toString() != QLatin1String("tokenscope-session"))
        throw Error("not a TokenScope session (\"format\" is not \"tokenscope-session\")");
    Session session;
    const QJsonObject model = object.value("model").toObject();
    session.model.folder = model.value("folder").toString();
    session.model.builtinName = model.value("builtin").toString();
    if (session.model.folder.isEmpty() && session.model.builtinName.isEmpty())
        throw Error("session: \"model\" names neither a folder nor a builtin architecture");
    session.model.device = parseDevice(model.value("device").toString("cpu").toStdString());
    session.model.precision = parsePrecision(model.value("precision").toString("fp32").toStdString());
    session.imagePath = object.value("image").toString();
    session.question = object.value("question").toString();
    session.method = methodSettingsFromJson(object.value("method").toObject());
    session.layer = object.value("layer").toInt(-1);
    session.isCompareEnabled = object.value("compare").toBool(false);
    return session;
}

void writeSessionFile(const QString& path, const Session& session)
{
    QFile file(path);
    if (!file.open(QIODevice::WriteOnly | QIODevice::Truncate))
        throw Error(path.toStdString() + ": cannot write (" + file.errorString().toStdString() + ")");
    file.write(QJsonDocument(sessionToJson(session)).toJson(QJsonDocument::Indented));
}

Session readSessionFile(const QString& path)
{
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly))
        throw Error(path.toStdString() + ": cannot read (" + file.errorString().toStdString() + ")");
    QJsonParseError parseError;
    const QJsonDocument document = QJsonDocument::fromJson(file.readAll(), &parseError);
    if (!document.isObject())
        throw Error(path.toStdString() + ": not JSON (" + parseError.errorString().toStdString() + ")");
    try {
        return sessionFromJson(document.object());
    } catch (const Error& error) {
        throw Error(path.toStdString() + ": " + error.what());
    }
}

}  // namespace tokenscope
