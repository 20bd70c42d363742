#include "tasks/shapes/shapes_task.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <stdexcept>

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

namespace tokenscope::shapes {
namespace {

constexpr double kPi = 3.14159265358979323846;

// SplitMix64: our own generator, so a (seed, index) pair draws the same scene on every platform
// and library version (std:: distributions are implementation-defined).
class Rng {
public:
    explicit Rng(uint64_t state) : m_state(state) {}
    uint64_t next() {
        uint64_t z = (m_state += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        return z ^ (z >> 31);
    }
    double uniform() { return static_cast<double>(next() >> 11) * (1.0 / 9007199254740992.0); }  // [0, 1)
    double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
    int range(int lo, int hi) { return lo + static_cast<int>(next() % static_cast<uint64_t>(hi - lo + 1)); }  // [lo, hi]
    bool coin() { return (next() >> 63) != 0; }
    template <typename T>
    const T& pick(const std::vector<T>& items) { return items[next() % items.size()]; }

private:
    uint64_t m_state;
};

const std::array<const char*, kQuestionTypes> kTypeNames = {"color", "count", "exist", "relation", "size"};
const std::array<const char*, kShapeKinds> kShapeNames = {"circle", "square", "triangle", "star", "cross"};
const std::array<const char*, kShapeKinds> kShapePlurals = {"circles", "squares", "triangles", "stars", "crosses"};
const std::array<const char*, kColors> kColorNames = {"red", "green", "blue", "yellow", "purple", "orange"};
const std::array<cv::Vec3b, kColors> kColorRgb = {cv::Vec3b(215, 40, 40),  cv::Vec3b(40, 165, 60),
                                                  cv::Vec3b(45, 85, 215),  cv::Vec3b(235, 205, 35),
                                                  cv::Vec3b(145, 60, 185), cv::Vec3b(245, 135, 30)};
constexpr double kStarInner = 0.45;   // inner radius of the five-pointed star / outer radius
constexpr double kCrossHalf = 0.32;   // half width of a cross arm / outer radius
constexpr double kMinRadius = 0.25, kMaxRadius = 0.47;  // circumradius / grid cell side

// Polygon vertices of a shape (not for circles), centred at the origin, unit circumradius.
std::vector<cv::Point2d> unitPolygon(ShapeKind kind) {
    std::vector<cv::Point2d> points;
    const auto polar = [&](double r, double a) { points.emplace_back(r * std::sin(a), -r * std::cos(a)); };
    switch (kind) {
        case ShapeKind::Square:
            for (int i = 0; i < 4; ++i) polar(1.0, kPi / 4 + i * kPi / 2);
            break;
        case ShapeKind::Triangle:
            for (int i = 0; i < 3; ++i) polar(1.0, i * 2 * kPi / 3);
            break;
        case ShapeKind::Star:
            for (int i = 0; i < 10; ++i) polar(i % 2 ? kStarInner : 1.0, i * kPi / 5);
            break;
        case ShapeKind::Cross: {
            const double w = kCrossHalf;
            const double xy[12][2] = {{-w, -1}, {w, -1}, {w, -w}, {1, -w}, {1, w}, {w, w},
                                      {w, 1},   {-w, 1}, {-w, w}, {-1, w}, {-1, -w}, {-w, -w}};
            for (const auto& p : xy) points.emplace_back(p[0], p[1]);
            break;
        }
        case ShapeKind::Circle:
            break;
    }
    return points;
}

double unitArea(ShapeKind kind) {
    if (kind == ShapeKind::Circle) return kPi;
    const auto points = unitPolygon(kind);
    double twice = 0;
    for (std::size_t i = 0; i < points.size(); ++i) {
        const auto& a = points[i];
        const auto& b = points[(i + 1) % points.size()];
        twice += a.x * b.y - b.x * a.y;
    }
    return std::abs(twice) / 2;
}

// ---- drawing -----------------------------------------------------------------------------

cv::Scalar rgb(int r, int g, int b) { return cv::Scalar(r, g, b); }  // the canvas is RGB

void drawBackground(cv::Mat& canvas, Rng& rng, bool clutter) {
    const int size = canvas.rows;
    // A muted base colour with a smooth low-frequency texture.
    const int base = rng.range(95, 200);
    const cv::Vec3i tint(rng.range(-14, 14), rng.range(-14, 14), rng.range(-14, 14));
    cv::Mat noise(6, 6, CV_32FC3);
    for (int y = 0; y < noise.rows; ++y)
        for (int x = 0; x < noise.cols; ++x) {
            const float v = static_cast<float>(rng.uniform(-1, 1)) * (clutter ? 22.0f : 0.0f);
            noise.at<cv::Vec3f>(y, x) = cv::Vec3f(v + static_cast<float>(rng.uniform(-4, 4)), v, v + static_cast<float>(rng.uniform(-4, 4)));
        }
    cv::Mat smooth;
    cv::resize(noise, smooth, canvas.size(), 0, 0, cv::INTER_CUBIC);
    for (int y = 0; y < size; ++y)
        for (int x = 0; x < size; ++x) {
            const auto n = smooth.at<cv::Vec3f>(y, x);
            auto& px = canvas.at<cv::Vec3b>(y, x);
            for (int c = 0; c < 3; ++c) px[c] = cv::saturate_cast<uint8_t>(base + tint[c] + n[c]);
        }
    if (!clutter) return;
    // Clutter: thin lines and specks in greys close to the background (never a shape colour).
    const auto mutedColour = [&] {
        const int v = std::clamp(base + rng.range(-55, 55), 20, 245);
        return rgb(v + rng.range(-10, 10), v + rng.range(-10, 10), v + rng.range(-10, 10));
    };
    const int lines = rng.range(4, 10);
    for (int i = 0; i < lines; ++i) {
        const cv::Point a(rng.range(0, size - 1), rng.range(0, size - 1));
        const cv::Point b(rng.range(0, size - 1), rng.range(0, size - 1));
        cv::line(canvas, a, b, mutedColour(), rng.range(1, 2), cv::LINE_AA);
    }
    const int specks = rng.range(15, 40);
    for (int i = 0; i < specks; ++i)
        cv::circle(canvas, cv::Point(rng.range(0, size - 1), rng.range(0, size - 1)), rng.range(1, 2), mutedColour(),
                   cv::FILLED, cv::LINE_AA);
}

void drawObject(cv::Mat& canvas, const SceneObject& o, Rng& rng) {
    const auto& c = kColorRgb[o.color];
    const auto jitter = [&](int v) { return std::clamp(v + rng.range(-12, 12), 0, 255); };
    const cv::Scalar colour = rgb(jitter(c[0]), jitter(c[1]), jitter(c[2]));
    constexpr int kShift = 4;  // sub-pixel vertices
    constexpr double kScale = 1 << kShift;
    if (o.kind == ShapeKind::Circle) {
        cv::circle(canvas, cv::Point(std::lround(o.x * kScale), std::lround(o.y * kScale)), std::lround(o.radius * kScale),
                   colour, cv::FILLED, cv::LINE_AA, kShift);
        return;
    }
    std::vector<cv::Point> points;
    const double ca = std::cos(o.angle), sa = std::sin(o.angle);
    for (const auto& p : unitPolygon(o.kind)) {
        const double x = o.x + o.radius * (p.x * ca - p.y * sa);
        const double y = o.y + o.radius * (p.x * sa + p.y * ca);
        points.emplace_back(static_cast<int>(std::lround(x * kScale)), static_cast<int>(std::lround(y * kScale)));
    }
    cv::fillPoly(canvas, std::vector<std::vector<cv::Point>>{points}, colour, cv::LINE_AA, kShift);
}

// ---- scenes ------------------------------------------------------------------------------

// What a question needs the scene to hold, decided before the scene is drawn so that answers
// come out balanced (counts 0..5 equally often, yes as often as no).
struct Requirement {
    int kind = -1, color = -1;  // the attribute pair (-1 = any)
    int count = -1;             // exactly this many objects match (-1 = no constraint)
};

bool matches(const SceneObject& o, const Requirement& r) {
    return (r.kind < 0 || static_cast<int>(o.kind) == r.kind) && (r.color < 0 || o.color == r.color);
}

// Places the objects, each in its own cell of the options.grid x options.grid grid (shuffled
// cells, a random size and an offset that keeps the shape inside its cell). With a requirement,
// exactly `count` of them match it.
bool placeObjects(std::vector<SceneObject>& objects, Rng& rng, const ShapesOptions& options, const Requirement& need) {
    const double cell = static_cast<double>(options.imageSize) / options.grid;
    int total = rng.range(options.minObjects, options.maxObjects);
    if (need.count >= 0) total = std::clamp(std::max(total, need.count), 1, options.maxObjects);
    std::vector<int> cells(static_cast<std::size_t>(options.grid * options.grid));
    for (std::size_t i = 0; i < cells.size(); ++i) cells[i] = static_cast<int>(i);
    for (int i = 0; i < total; ++i) std::swap(cells[static_cast<std::size_t>(i)], cells[i + rng.next() % (cells.size() - i)]);
    objects.clear();
    for (int i = 0; i < total; ++i) {
        SceneObject o;
        o.radius = static_cast<float>(cell * rng.uniform(kMinRadius, kMaxRadius));
        const double room = std::max(0.0, cell / 2 - o.radius - 0.5);
        const int column = cells[static_cast<std::size_t>(i)] % options.grid, row = cells[static_cast<std::size_t>(i)] / options.grid;
        o.x = static_cast<float>((column + 0.5) * cell + rng.uniform(-room, room));
        o.y = static_cast<float>((row + 0.5) * cell + rng.uniform(-room, room));
        o.angle = static_cast<float>(rng.uniform(-0.26, 0.26));
        // Attributes: the first `count` objects match the requirement, the rest must not.
        for (int attempt = 0;; ++attempt) {
            if (attempt > 100) return false;
            o.kind = static_cast<ShapeKind>(rng.range(0, kShapeKinds - 1));
            o.color = rng.range(0, kColors - 1);
            if (need.count < 0) break;
            if (i < need.count) {
                if (need.kind >= 0) o.kind = static_cast<ShapeKind>(need.kind);
                if (need.color >= 0) o.color = need.color;
                break;
            }
            if (!matches(o, need)) break;
        }
        objects.push_back(o);
    }
    // Shuffle so the matching objects are not always drawn first.
    for (std::size_t i = objects.size(); i > 1; --i) std::swap(objects[i - 1], objects[rng.next() % i]);
    return true;
}

int countMatching(const std::vector<SceneObject>& objects, int kind, int color) {
    Requirement r{kind, color, -1};
    return static_cast<int>(std::count_if(objects.begin(), objects.end(), [&](const SceneObject& o) { return matches(o, r); }));
}

// "red circle" when the colour and kind pair is unique in the scene (and sometimes just "circle"
// when the kind alone is unique); empty when the object cannot be named unambiguously.
std::string describe(const std::vector<SceneObject>& objects, int i, Rng& rng) {
    const auto& o = objects[i];
    const int kind = static_cast<int>(o.kind);
    if (countMatching(objects, kind, o.color) != 1) return {};
    if (countMatching(objects, kind, -1) == 1 && rng.uniform() < 0.3) return kShapeNames[kind];
    return std::string(kColorNames[o.color]) + " " + kShapeNames[kind];
}

// A question's words and punctuation marks, in order ("is the star red?" -> is, the, star, red, ?).
std::vector<std::string> splitQuestion(const std::string& question) {
    std::vector<std::string> words;
    std::string word;
    for (char ch : question + " ") {
        if (std::isalnum(static_cast<unsigned char>(ch))) {
            word += ch;
            continue;
        }
        if (!word.empty()) words.push_back(word);
        word.clear();
        if (ch != ' ') words.emplace_back(1, ch);
    }
    return words;
}

std::string fill(std::string text, const std::string& key, const std::string& value) {
    for (std::size_t at; (at = text.find(key)) != std::string::npos;) text.replace(at, key.size(), value);
    return text;
}

// ---- questions ---------------------------------------------------------------------------

struct Question {
    std::string text, answer;
    std::vector<int> relevant;
    int directionX = 0, directionY = 0;
};

bool askColor(const std::vector<SceneObject>& objects, Rng& rng, Question& q) {
    std::vector<int> candidates;
    for (int i = 0; i < static_cast<int>(objects.size()); ++i)
        if (countMatching(objects, static_cast<int>(objects[i].kind), -1) == 1) candidates.push_back(i);
    if (candidates.empty()) return false;
    const int i = rng.pick(candidates);
    static const std::vector<std::string> templates = {
        "what color is the {k}?",          "what colour is the {k}?",          "which color does the {k} have?",
        "tell me the color of the {k}.",    "the {k} is what color?",           "what is the colour of the {k}?",
        "what color is the {k} shape?",     "can you name the color of the {k}?", "which colour is the {k} painted in?"};
    q.text = fill(rng.pick(templates), "{k}", kShapeNames[static_cast<int>(objects[i].kind)]);
    q.answer = kColorNames[objects[i].color];
    q.relevant = {i};
    return true;
}

bool askCount(std::vector<SceneObject>& objects, Rng& rng, const ShapesOptions& options, Question& q) {
    Requirement need;
    const int flavour = rng.range(0, 2);  // by kind, by colour, by both
    if (flavour != 1) need.kind = rng.range(0, kShapeKinds - 1);
    if (flavour != 0) need.color = rng.range(0, kColors - 1);
    need.count = rng.range(0, std::min(4, options.maxObjects));
    if (!placeObjects(objects, rng, options, need)) return false;
    std::string what;
    if (flavour == 0) what = kShapePlurals[need.kind];
    if (flavour == 1) what = std::string(kColorNames[need.color]) + (rng.coin() ? " shapes" : " objects");
    if (flavour == 2) what = std::string(kColorNames[need.color]) + " " + kShapePlurals[need.kind];
    static const std::vector<std::string> templates = {
        "how many {w} are there?",          "how many {w} can you see?",     "count the {w}.",
        "what is the number of {w} in the picture?", "how many {w} are in the image?", "how many {w} are shown?",
        "tell me how many {w} there are."};
    q.text = fill(rng.pick(templates), "{w}", what);
    q.answer = std::to_string(countMatching(objects, need.kind, need.color));
    for (int i = 0; i < static_cast<int>(objects.size()); ++i)
        if (matches(objects[i], need)) q.relevant.push_back(i);
    return true;
}

bool askExist(std::vector<SceneObject>& objects, Rng& rng, const ShapesOptions& options, Question& q) {
    Requirement need;
    need.kind = rng.range(0, kShapeKinds - 1);
    need.color = rng.range(0, kColors - 1);
    need.count = rng.coin() ? 1 : 0;
    if (!placeObjects(objects, rng, options, need)) return false;
    const std::string k = kShapeNames[need.kind], ks = kShapePlurals[need.kind], c = kColorNames[need.color];
    static const std::vector<std::string> templates = {
        "is there a {c} {k}?",            "are there any {c} {ks}?",         "do you see a {c} {k}?",
        "does the picture contain a {c} {k}?", "is a {c} {k} visible?",      "can you find a {c} {k} in the image?",
        "is there any {c} {k} in the scene?"};
    q.text = fill(fill(fill(rng.pick(templates), "{ks}", ks), "{k}", k), "{c}", c);
    q.answer = need.count > 0 ? "yes" : "no";
    for (int i = 0; i < static_cast<int>(objects.size()); ++i)
        if (matches(objects[i], need)) q.relevant.push_back(i);
    return true;
}

// Two distinct nameable objects, in random order.
bool pickPair(const std::vector<SceneObject>& objects, Rng& rng, int& a, int& b, std::string& nameA, std::string& nameB) {
    std::vector<int> nameable;
    for (int i = 0; i < static_cast<int>(objects.size()); ++i)
        if (!describe(objects, i, rng).empty()) nameable.push_back(i);
    if (nameable.size() < 2) return false;
    a = rng.pick(nameable);
    do b = rng.pick(nameable); while (b == a);
    nameA = describe(objects, a, rng);
    nameB = describe(objects, b, rng);
    return true;
}

bool askRelation(const std::vector<SceneObject>& objects, Rng& rng, const ShapesOptions& options, Question& q) {
    int a = 0, b = 0;
    std::string nameA, nameB;
    if (!pickPair(objects, rng, a, b, nameA, nameB)) return false;
    const double margin = 0.08 * options.imageSize;
    const double dx = objects[a].x - objects[b].x, dy = objects[a].y - objects[b].y;
    const bool horizontal = rng.coin();
    if (std::abs(horizontal ? dx : dy) < margin) return false;
    const bool askFirst = rng.coin();  // left/above phrasing or right/below phrasing
    static const std::vector<std::string> left = {"is the {a} to the left of the {b}?", "is the {a} left of the {b}?",
                                                  "is the {a} on the left side of the {b}?", "is the {a} further left than the {b}?"};
    static const std::vector<std::string> right = {"is the {a} to the right of the {b}?", "is the {a} right of the {b}?",
                                                   "is the {a} on the right side of the {b}?", "is the {a} further right than the {b}?"};
    static const std::vector<std::string> above = {"is the {a} above the {b}?", "is the {a} higher than the {b}?",
                                                   "is the {a} over the {b}?", "is the {a} placed above the {b}?"};
    static const std::vector<std::string> below = {"is the {a} below the {b}?", "is the {a} lower than the {b}?",
                                                   "is the {a} under the {b}?", "is the {a} placed below the {b}?"};
    bool truth = false;
    std::string text;
    if (horizontal) {
        text = rng.pick(askFirst ? left : right);
        truth = askFirst ? dx < 0 : dx > 0;
        q.directionX = askFirst ? -1 : 1;
    } else {
        text = rng.pick(askFirst ? above : below);
        truth = askFirst ? dy < 0 : dy > 0;
        q.directionY = askFirst ? -1 : 1;
    }
    q.text = fill(fill(text, "{a}", nameA), "{b}", nameB);
    q.answer = truth ? "yes" : "no";
    q.relevant = {a, b};
    return true;
}

bool askSize(const std::vector<SceneObject>& objects, Rng& rng, Question& q) {
    int a = 0, b = 0;
    std::string nameA, nameB;
    if (!pickPair(objects, rng, a, b, nameA, nameB)) return false;
    const double areaA = objects[a].area(), areaB = objects[b].area();
    if (std::max(areaA, areaB) < 2.0 * std::min(areaA, areaB)) return false;
    const bool larger = rng.coin();
    static const std::vector<std::string> big = {"which is larger, the {a} or the {b}?", "which one is bigger: the {a} or the {b}?",
                                                 "what is larger, the {a} or the {b}?", "which shape is bigger, the {a} or the {b}?"};
    static const std::vector<std::string> small = {"which is smaller, the {a} or the {b}?", "which one is smaller: the {a} or the {b}?",
                                                   "what is smaller, the {a} or the {b}?", "which shape is tinier, the {a} or the {b}?"};
    q.text = fill(fill(rng.pick(larger ? big : small), "{a}", nameA), "{b}", nameB);
    const int winner = (areaA > areaB) == larger ? a : b;
    const int loser = winner == a ? b : a;
    // Answer with the attribute that tells the two apart: the kind when it differs, else the colour.
    q.answer = objects[winner].kind != objects[loser].kind ? kShapeNames[static_cast<int>(objects[winner].kind)]
                                                           : kColorNames[objects[winner].color];
    q.relevant = {a, b};
    return true;
}

}  // namespace

const char* questionTypeName(QuestionType type) { return kTypeNames[static_cast<int>(type)]; }
const char* shapeName(ShapeKind kind) { return kShapeNames[static_cast<int>(kind)]; }
const char* colorName(int color) { return kColorNames.at(static_cast<std::size_t>(color)); }

double SceneObject::area() const { return unitArea(kind) * radius * radius; }

const std::vector<std::string>& answerVocabulary() {
    static const std::vector<std::string> answers = [] {
        std::vector<std::string> all = {"yes", "no"};
        for (int i = 0; i <= kMaxObjects; ++i) all.push_back(std::to_string(i));
        all.insert(all.end(), kColorNames.begin(), kColorNames.end());
        all.insert(all.end(), kShapeNames.begin(), kShapeNames.end());
        return all;
    }();
    return answers;
}

std::vector<std::string> questionWords() {
    // Generate many questions and collect their words; the templates are the only source.
    std::vector<std::string> words;
    ShapesOptions options;
    options.imageSize = 64;
    options.clutter = false;
    for (uint64_t i = 0; i < 3000; ++i) {
        for (auto& w : splitQuestion(makeSample(0xC0FFEE, i, options).question)) words.push_back(std::move(w));
    }
    std::sort(words.begin(), words.end());
    words.erase(std::unique(words.begin(), words.end()), words.end());
    return words;
}

namespace {
int64_t cellOf(const SceneObject& o, const ShapesOptions& options) {
    const double cell = static_cast<double>(options.imageSize) / options.grid;
    const int column = std::clamp(static_cast<int>(o.x / cell), 0, options.grid - 1);
    const int row = std::clamp(static_cast<int>(o.y / cell), 0, options.grid - 1);
    return row * options.grid + column;
}
}  // namespace

std::vector<int64_t> cellLabels(const ShapesSample& sample, const ShapesOptions& options) {
    std::vector<int64_t> labels(static_cast<std::size_t>(options.grid * options.grid), 0);
    for (const auto& o : sample.objects)
        labels[static_cast<std::size_t>(cellOf(o, options))] = 1 + o.color * kShapeKinds + static_cast<int>(o.kind);
    return labels;
}

std::vector<int64_t> patchRoles(const ShapesSample& sample, const ShapesOptions& options) {
    std::vector<int64_t> roles(static_cast<std::size_t>(options.grid * options.grid), 0);
    const bool pair = sample.type == QuestionType::Relation || sample.type == QuestionType::Size;
    const auto cells = relevantCells(sample, options);
    for (std::size_t i = 0; i < cells.size(); ++i) roles[static_cast<std::size_t>(cells[i])] = pair && i == 1 ? 2 : 1;
    return roles;
}

std::vector<int64_t> relevantCells(const ShapesSample& sample, const ShapesOptions& options) {
    std::vector<int64_t> cells;
    for (const int i : sample.relevant) cells.push_back(cellOf(sample.objects.at(static_cast<std::size_t>(i)), options));
    return cells;
}

std::vector<std::pair<std::string, std::vector<int64_t>>> groundedWords(const ShapesSample& sample, const ShapesOptions& options) {
    const auto words = splitQuestion(sample.question);
    const auto has = [&](const std::string& w) { return std::find(words.begin(), words.end(), w) != words.end(); };
    std::vector<std::pair<std::string, std::vector<int64_t>>> grounded;
    const auto add = [&](const std::string& w, const auto& matches) {
        std::vector<int64_t> cells;
        for (const auto& o : sample.objects)
            if (matches(o)) cells.push_back(cellOf(o, options));
        if (!cells.empty()) grounded.emplace_back(w, std::move(cells));
    };
    for (int c = 0; c < kColors; ++c)
        if (has(kColorNames[c])) add(kColorNames[c], [c](const SceneObject& o) { return o.color == c; });
    for (int k = 0; k < kShapeKinds; ++k)
        for (const char* w : {kShapeNames[k], kShapePlurals[k]})
            if (has(w)) add(w, [k](const SceneObject& o) { return static_cast<int>(o.kind) == k; });
    return grounded;
}

ShapesSample makeSample(uint64_t seed, uint64_t index, const ShapesOptions& options) {
    if (options.imageSize < 32 || options.minObjects < 2 || options.maxObjects < options.minObjects ||
        options.maxObjects > kMaxObjects || options.grid < 3 || options.grid * 4 > options.imageSize)
        throw std::invalid_argument("shapes: bad options (image size >= 32, 2 <= objects <= 5, grid >= 3 with cells of 4 px or more)");
    Rng rng(seed * 0xD1B54A32D192ED03ull ^ (index + 0x8CB92BA72F3D8DD7ull));
    ShapesSample sample;
    sample.seed = seed;
    sample.index = index;
    sample.type = static_cast<QuestionType>(rng.range(0, kQuestionTypes - 1));
    Question q;
    for (int attempt = 0;; ++attempt) {
        if (attempt > 1000) throw std::runtime_error("shapes: could not build a scene");  // not reached in practice
        q = Question{};
        bool ok = false;
        switch (sample.type) {
            case QuestionType::Count:
                ok = askCount(sample.objects, rng, options, q);
                break;
            case QuestionType::Exist:
                ok = askExist(sample.objects, rng, options, q);
                break;
            default:
                if (!placeObjects(sample.objects, rng, options, Requirement{})) break;
                if (sample.type == QuestionType::Color) ok = askColor(sample.objects, rng, q);
                if (sample.type == QuestionType::Relation) ok = askRelation(sample.objects, rng, options, q);
                if (sample.type == QuestionType::Size) ok = askSize(sample.objects, rng, q);
                break;
        }
        if (ok) break;
    }
    sample.question = q.text;
    sample.answer = q.answer;
    sample.relevant = q.relevant;
    sample.directionX = q.directionX;
    sample.directionY = q.directionY;

    cv::Mat canvas(options.imageSize, options.imageSize, CV_8UC3);
    drawBackground(canvas, rng, options.clutter);
    for (const auto& o : sample.objects) drawObject(canvas, o, rng);
    sample.image.width = sample.image.height = options.imageSize;
    sample.image.channels = 3;
    sample.image.pixels.assign(canvas.data, canvas.data + canvas.total() * 3);
    return sample;
}

}  // namespace tokenscope::shapes
