#pragma once

// A TokenScope session as JSON: model, image, question, method knobs, shown layer, compare mode.
// Also the MethodSettings <-> JSON mapping the window uses for QSettings. Torch-free, no widgets.

#include <QJsonObject>
#include <QString>

#include "engine/trace.h"
#include "ui/run_types.h"

namespace tokenscope {

// {"method": id, "knobs": {...}} (core/methods/method_json.h); sessions of version 1 (flat knob
// names of every method) are read too.
QJsonObject methodSettingsToQJson(const MethodSettings& settings);
// Missing keys keep MethodSettings' defaults; an unknown method name throws Error.
MethodSettings methodSettingsFromQJson(const QJsonObject& object);

struct Session {
    ModelSource model;
    QString imagePath;  // empty: the image did not come from a file (pasted)
    QString question;
    MethodSettings method;
    int layer = -1;  // TraceLayer::layer shown; -1 = default
    bool isCompareEnabled = false;
};

QJsonObject sessionToJson(const Session& session);
Session sessionFromJson(const QJsonObject& object);  // throws Error on a wrong format
// Files; both throw Error naming the path.
void writeSessionFile(const QString& path, const Session& session);
Session readSessionFile(const QString& path);

}  // namespace tokenscope
