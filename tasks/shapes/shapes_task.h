#pragma once

// Shapes VQA: a procedurally generated visual question answering task whose answers depend on
// where things are in the image, so pruning the wrong patches changes the answer. Scenes of 2 to 5
// shapes (circle, square, triangle, star, cross) in six colours and several sizes, one per cell of
// an 8 x 8 grid, on a textured, cluttered background; questions in varied English of five types (colour of a named shape, count
// of a kind, existence, spatial relation, which is larger). Drawn with OpenCV (no Qt, no torch).
//
// Deterministic: a sample is a pure function of (seed, index, options). Splits are seeds: the
// bundled model was trained on seed 1 and validated on seed 2; any other seed is a fresh split.

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "image/pil_resample.h"

namespace tokenscope::shapes {

enum class QuestionType { Color, Count, Exist, Relation, Size };
constexpr int kQuestionTypes = 5;
const char* questionTypeName(QuestionType type);  // "color", "count", "exist", "relation", "size"

enum class ShapeKind { Circle, Square, Triangle, Star, Cross };
constexpr int kShapeKinds = 5;
constexpr int kColors = 6;
constexpr int kMaxObjects = 5;
const char* shapeName(ShapeKind kind);  // "circle", ...
const char* colorName(int color);       // "red", "green", "blue", "yellow", "purple", "orange"

struct SceneObject {
    ShapeKind kind = ShapeKind::Circle;
    int color = 0;
    float x = 0, y = 0;  // centre, pixels
    float radius = 0;    // circumradius, pixels
    float angle = 0;     // rotation, radians
    double area() const; // drawn area in square pixels (kind-dependent factor x radius^2)
};

struct ShapesOptions {
    int imageSize = 192;   // square scenes, pixels
    // Objects sit one per cell of a grid x grid layout (offset and sized to stay inside the
    // cell). With the bundled model's patches (image size / 8) every object is one image token,
    // so pruning that token removes the object from the model's view.
    int grid = 8;
    int minObjects = 2;
    int maxObjects = kMaxObjects;
    bool clutter = true;   // background texture, lines and specks
};

struct ShapesSample {
    ImageU8 image;  // RGB, imageSize x imageSize
    std::string question;
    std::string answer;  // one of answerVocabulary()
    QuestionType type = QuestionType::Color;
    std::vector<SceneObject> objects;  // drawing order
    std::vector<int> relevant;         // indices into objects the question is about
    // A relation question: the direction it asks about (left = -1, 0; below = 0, 1); "yes" when the
    // first object lies that way from the second. 0, 0 for other questions.
    int directionX = 0, directionY = 0;
    uint64_t seed = 0, index = 0;
};

// The answers, in id2label order: "yes", "no", "0".."5", the colours, the shape names.
const std::vector<std::string>& answerVocabulary();
// Every word the questions use (for building a WordPiece vocab.txt).
std::vector<std::string> questionWords();

ShapesSample makeSample(uint64_t seed, uint64_t index, const ShapesOptions& options = {});

// What is in each grid cell, row-major (grid x grid): 0 = no object, else 1 + colour * 5 + kind.
// Training's auxiliary patch loss uses it (one cell = one patch of the bundled model).
constexpr int kCellClasses = 1 + kColors * kShapeKinds;
std::vector<int64_t> cellLabels(const ShapesSample& sample, const ShapesOptions& options);
// The grid cells (row-major) of the objects the question is about (sample.relevant).
std::vector<int64_t> relevantCells(const ShapesSample& sample, const ShapesOptions& options);
// Each grid cell's role in the question (row-major): 0 = none, 1 = the object a colour question
// names, the objects a count or existence question is about, or the first of a relation or size
// question's pair, 2 = the second of that pair. Training's auxiliary role loss uses it.
constexpr int kRoleClasses = 3;
std::vector<int64_t> patchRoles(const ShapesSample& sample, const ShapesOptions& options);
// Each colour or shape word of the question (a shape's singular or plural) with the cells of the
// scene's objects of that colour or kind; words naming nothing in the scene are left out.
std::vector<std::pair<std::string, std::vector<int64_t>>> groundedWords(const ShapesSample& sample, const ShapesOptions& options);

}  // namespace tokenscope::shapes
