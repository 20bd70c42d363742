#include "ui/session.h"

#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>

#include "common/error.h"
#include "methods/method_json.h"

namespace tokenscope {

namespace {

// Version 1 sessions wrote every knob of every method under flat names: the ones the chosen method
// has are taken, under the registry's keys.
MethodSettings legacyMethodSettings(const QJsonObject& object)
{
    MethodSettings settings(object.value("method").toString("none").toStdString());
    const auto& descriptor = methodDescriptor(settings.method());
    const std::pair<const char*, const char*> renamed[] = {
        {"mode", "mode"},           {"layers", "layers"},           {"prune_ratio", "prune"},
        {"image_merge_ratio", "merge"}, {"text_merge_ratio", "merge-text"}, {"score", "score"},
        {"merge_style", "merge-style"}, {"tome_r", "r"},             {"tome_inflect", "inflect"},
        {"tome_schedule", "schedule"},  {"tome_joint", "joint"},     {"keep_ratio", "keep"},
        {"shortest_edge", "resolution"}, {"seed", "drop-seed"},      {"dynamicvit_keep_ratio", "keep-ratio"},
        {"prune_locations", "prune-loc"}};
    for (const auto& [old, key] : renamed) {
        if (!object.contains(QLatin1String(old)) || !descriptor.knob(key))
            continue;
        const QJsonValue value = object.value(QLatin1String(old));
        if (value.isArray()) {
            std::vector<int> list;
            for (const QJsonValue& v : value.toArray())
                list.push_back(v.toInt());
            settings.set(key, list);
        } else if (value.isBool()) {
            settings.set(key, value.toBool());
        } else if (value.isString()) {
            settings.setText(key, value.toString().toStdString());
        } else if (value.isDouble()) {
            settings.setText(key, QString::number(value.toDouble(), 'g', 17).toStdString());
        }
    }
    return settings;
}

}  // namespace

QJsonObject methodSettingsToQJson(const MethodSettings& settings)
{
    return QJsonDocument::fromJson(QByteArray::fromStdString(methodSettingsToJson(settings).dump())).object();
}

MethodSettings methodSettingsFromQJson(const QJsonObject& object)
{
    if (!object.contains("knobs") || !object.value("knobs").isObject())
        return legacyMethodSettings(object);
    const auto text = QJsonDocument(object).toJson(QJsonDocument::Compact).toStdString();
    return methodSettingsFromJson(nlohmann::json::parse(text));
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
                       {"version", 2},
                       {"model", model},
                       {"image", session.imagePath},
                       {"question", session.question},
                       {"method", methodSettingsToQJson(session.method)},
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
    session.method = methodSettingsFromQJson(object.value("method").toObject());
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
