#pragma once

// The bundled sample images (resources/images) and, for the Shapes VQA scenes, the question that
// goes with each and the answer the scene generator knows to be right. The list comes from
// images/scenes.json:
//   {"default": "shapes-relation.png",
//    "scenes": [{"image": "shapes-relation.png", "question": "...", "answer": "...", "type": "relation"}]}
// followed by the folder's other images (no question). A missing scenes.json gives the images
// alone; an unreadable one is reported in `error` and the images are still listed.

#include <QList>
#include <QString>

namespace tokenscope {

struct SampleScene {
    QString path;      // absolute
    QString question;  // empty: none suggested
    QString answer;    // the generator's answer; empty: unknown
    QString type;      // question type (color, count, exist, relation, size); may be empty
};

struct SampleScenes {
    QList<SampleScene> scenes;  // the default first
    QString error;              // scenes.json could not be read (the list still has the images)
};

SampleScenes loadSampleScenes(const QString& imagesFolder);

// The scene with this path, or nullptr.
const SampleScene* findSampleScene(const SampleScenes& samples, const QString& path);

}  // namespace tokenscope
