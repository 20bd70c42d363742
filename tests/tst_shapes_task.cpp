// Shapes VQA: determinism, answers that follow from the scene, balance, and the drawing.

#include <QtTest>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "tasks/shapes/shapes_task.h"

using namespace tokenscope;
using namespace tokenscope::shapes;

namespace {

int countWords(const std::string& question, const std::string& word)
{
    int n = 0;
    for (std::size_t at = question.find(word); at != std::string::npos; at = question.find(word, at + 1)) ++n;
    return n;
}

// Which shape kinds / colours a question names.
std::vector<int> namedKinds(const std::string& q)
{
    std::vector<int> kinds;
    for (int k = 0; k < kShapeKinds; ++k) {
        const std::string name = shapeName(static_cast<ShapeKind>(k));
        if (q.find(name) != std::string::npos) kinds.push_back(k);
    }
    return kinds;
}

std::vector<int> namedColors(const std::string& q)
{
    std::vector<int> colors;
    for (int c = 0; c < kColors; ++c)
        if (q.find(colorName(c)) != std::string::npos) colors.push_back(c);
    return colors;
}

}  // namespace

class TestShapesTask : public QObject {
    Q_OBJECT

private slots:
    void sameSeedAndIndexGiveTheSameSample()
    {
        const auto a = makeSample(5, 17), b = makeSample(5, 17);
        QCOMPARE(a.question, b.question);
        QCOMPARE(a.answer, b.answer);
        QVERIFY(a.image.pixels == b.image.pixels);
        QCOMPARE(a.image.width, 192);
        QCOMPARE(a.image.height, 192);
        QCOMPARE(static_cast<int>(a.image.pixels.size()), 192 * 192 * 3);
    }

    void seedsAreDifferentSplits()
    {
        int samePixels = 0;
        for (uint64_t i = 0; i < 50; ++i) samePixels += makeSample(1, i).image.pixels == makeSample(2, i).image.pixels;
        QCOMPARE(samePixels, 0);
    }

    void answersAreInTheVocabulary()
    {
        const auto& vocab = answerVocabulary();
        QCOMPARE(std::set<std::string>(vocab.begin(), vocab.end()).size(), vocab.size());
        for (uint64_t i = 0; i < 500; ++i) {
            const auto s = makeSample(3, i);
            QVERIFY2(std::find(vocab.begin(), vocab.end(), s.answer) != vocab.end(), s.answer.c_str());
            QVERIFY(!s.question.empty());
            QVERIFY(s.objects.size() >= 2 && s.objects.size() <= static_cast<std::size_t>(kMaxObjects));
        }
    }

    // Every answer recomputed from the scene's objects, independently of the generator's logic.
    void answersFollowFromTheScene()
    {
        for (uint64_t i = 0; i < 1500; ++i) {
            const auto s = makeSample(11, i);
            const auto& q = s.question;
            const auto kinds = namedKinds(q);
            const auto colors = namedColors(q);
            const auto matchCount = [&](int kind, int color) {
                return static_cast<int>(std::count_if(s.objects.begin(), s.objects.end(), [&](const SceneObject& o) {
                    return (kind < 0 || static_cast<int>(o.kind) == kind) && (color < 0 || o.color == color);
                }));
            };
            switch (s.type) {
                case QuestionType::Color: {
                    QCOMPARE(static_cast<int>(kinds.size()), 1);
                    QCOMPARE(matchCount(kinds[0], -1), 1);
                    const auto it = std::find_if(s.objects.begin(), s.objects.end(),
                                                 [&](const SceneObject& o) { return static_cast<int>(o.kind) == kinds[0]; });
                    QCOMPARE(s.answer, std::string(colorName(it->color)));
                    break;
                }
                case QuestionType::Count: {
                    // "crosses" contains "cross": a plural names one kind.
                    const int kind = kinds.empty() ? -1 : kinds.front();
                    const int color = colors.empty() ? -1 : colors.front();
                    QVERIFY(kinds.size() <= 1 && colors.size() <= 1 && (kind >= 0 || color >= 0));
                    QCOMPARE(s.answer, std::to_string(matchCount(kind, color)));
                    break;
                }
                case QuestionType::Exist:
                    QCOMPARE(static_cast<int>(kinds.size()), 1);
                    QCOMPARE(static_cast<int>(colors.size()), 1);
                    QCOMPARE(s.answer, std::string(matchCount(kinds[0], colors[0]) > 0 ? "yes" : "no"));
                    break;
                case QuestionType::Relation: {
                    QCOMPARE(static_cast<int>(s.relevant.size()), 2);
                    const auto& a = s.objects[s.relevant[0]];
                    const auto& b = s.objects[s.relevant[1]];
                    const bool left = q.find("left") != std::string::npos, right = q.find("right") != std::string::npos;
                    const bool up = q.find("above") != std::string::npos || q.find("higher") != std::string::npos ||
                                    q.find(" over ") != std::string::npos;
                    const bool down = q.find("below") != std::string::npos || q.find("lower") != std::string::npos ||
                                      q.find("under") != std::string::npos;
                    QCOMPARE(left + right + up + down, 1);
                    bool truth = left ? a.x < b.x : right ? a.x > b.x : up ? a.y < b.y : a.y > b.y;
                    QCOMPARE(s.answer, std::string(truth ? "yes" : "no"));
                    // Clear cases only: the centres differ by at least 8% of the side on the asked axis.
                    QVERIFY(std::abs((left || right) ? a.x - b.x : a.y - b.y) >= 0.08 * 128 - 1e-3);
                    break;
                }
                case QuestionType::Size: {
                    QCOMPARE(static_cast<int>(s.relevant.size()), 2);
                    const auto& a = s.objects[s.relevant[0]];
                    const auto& b = s.objects[s.relevant[1]];
                    QVERIFY(std::max(a.area(), b.area()) >= 2.0 * std::min(a.area(), b.area()));
                    const bool larger = q.find("larger") != std::string::npos || q.find("bigger") != std::string::npos;
                    const auto& winner = (a.area() > b.area()) == larger ? a : b;
                    const auto& loser = &winner == &a ? b : a;
                    QCOMPARE(s.answer, std::string(winner.kind != loser.kind ? shapeName(winner.kind) : colorName(winner.color)));
                    break;
                }
            }
            QVERIFY(countWords(q, "?") + countWords(q, ".") >= 1);
        }
    }

    void questionTypesAndAnswersAreBalanced()
    {
        std::map<QuestionType, int> types;
        std::map<std::string, int> yesNo, counts;
        const int n = 4000;
        for (uint64_t i = 0; i < static_cast<uint64_t>(n); ++i) {
            const auto s = makeSample(4, i);
            ++types[s.type];
            if (s.answer == "yes" || s.answer == "no") ++yesNo[s.answer];
            if (s.type == QuestionType::Count) ++counts[s.answer];
        }
        for (int t = 0; t < kQuestionTypes; ++t) {
            const double share = types[static_cast<QuestionType>(t)] / double(n);
            QVERIFY2(share > 0.17 && share < 0.23, questionTypeName(static_cast<QuestionType>(t)));
        }
        const double yes = yesNo["yes"] / double(yesNo["yes"] + yesNo["no"]);
        QVERIFY(yes > 0.45 && yes < 0.55);
        QCOMPARE(static_cast<int>(counts.size()), 5);  // 0..4, equally often
        for (const auto& [answer, c] : counts) QVERIFY2(c > 120 && c < 210, answer.c_str());
    }

    // The centre pixel of a circle (drawn last, so nothing covers it) has its colour family.
    void shapesAreDrawnWhereTheSceneSays()
    {
        int checked = 0;
        for (uint64_t i = 0; i < 300 && checked < 40; ++i) {
            const auto s = makeSample(6, i);
            const auto& o = s.objects.back();
            if (o.kind != ShapeKind::Circle) continue;
            const int x = static_cast<int>(o.x), y = static_cast<int>(o.y);
            const uint8_t* px = &s.image.pixels[(static_cast<std::size_t>(y) * s.image.width + x) * 3];
            const int r = px[0], g = px[1], b = px[2];
            const std::string c = colorName(o.color);
            if (c == "red") QVERIFY(r > 150 && g < 90 && b < 90);
            if (c == "green") QVERIFY(g > 120 && r < 90 && b < 110);
            if (c == "blue") QVERIFY(b > 150 && r < 90);
            if (c == "yellow") QVERIFY(r > 190 && g > 160 && b < 90);
            if (c == "purple") QVERIFY(r > 100 && b > 140 && g < 100);
            if (c == "orange") QVERIFY(r > 200 && g > 90 && g < 180 && b < 80);
            ++checked;
        }
        QVERIFY(checked >= 20);
    }

    void objectsSitOnePerGridCell()
    {
        // Each object inside its own cell of the 8 x 8 grid, so with patches of a cell's size
        // every object is one image token.
        for (int size : {192, 128}) {
            ShapesOptions options;
            options.imageSize = size;
            const double cell = double(size) / options.grid;
            for (uint64_t i = 0; i < 400; ++i) {
                const auto sample = makeSample(6, i, options);
                std::set<int> cells;
                for (const auto& o : sample.objects) {
                    const int column = int(o.x / cell), row = int(o.y / cell);
                    QVERIFY(cells.insert(row * options.grid + column).second);
                    QVERIFY(o.x - o.radius >= column * cell && o.x + o.radius <= (column + 1) * cell);
                    QVERIFY(o.y - o.radius >= row * cell && o.y + o.radius <= (row + 1) * cell);
                    QVERIFY(o.radius >= 0.2 * cell);
                }
            }
        }
    }

    void groundedWordsPointAtWhatTheyName()
    {
        ShapesOptions options;
        int colourWords = 0, shapeWords = 0;
        for (uint64_t i = 0; i < 300; ++i) {
            const auto sample = makeSample(8, i, options);
            const auto labels = cellLabels(sample, options);
            for (const auto& [word, cells] : groundedWords(sample, options)) {
                QVERIFY2(countWords(sample.question, word) > 0, word.c_str());
                QVERIFY(!cells.empty());
                // Every object of that colour / kind, and nothing else.
                int colour = -1, kind = -1;
                for (int c = 0; c < kColors; ++c)
                    if (word == colorName(c)) colour = c;
                for (int k = 0; k < kShapeKinds; ++k)
                    if (word == shapeName(ShapeKind(k)) || word == std::string(shapeName(ShapeKind(k))) + "s" ||
                        (k == int(ShapeKind::Cross) && word == "crosses"))
                        kind = k;
                QVERIFY2(colour >= 0 || kind >= 0, word.c_str());
                colourWords += colour >= 0;
                shapeWords += kind >= 0;
                std::set<int64_t> expected;
                for (std::size_t cell = 0; cell < labels.size(); ++cell) {
                    if (labels[cell] == 0) continue;
                    const int c = int(labels[cell] - 1) / kShapeKinds, k = int(labels[cell] - 1) % kShapeKinds;
                    if ((colour >= 0 && c == colour) || (kind >= 0 && k == kind)) expected.insert(int64_t(cell));
                }
                QCOMPARE(std::set<int64_t>(cells.begin(), cells.end()), expected);
            }
        }
        QVERIFY(colourWords > 50);
        QVERIFY(shapeWords > 50);
    }

    void patchRolesMarkWhatTheQuestionIsAbout()
    {
        // The roles alone (with the grid) must give the answer to count, existence and relation
        // questions: role 1 is what is counted or named first, role 2 what is named second.
        ShapesOptions options;
        int relations = 0;
        for (uint64_t i = 0; i < 400; ++i) {
            const auto sample = makeSample(9, i, options);
            const auto roles = patchRoles(sample, options);
            const auto labels = cellLabels(sample, options);
            QCOMPARE(int(roles.size()), options.grid * options.grid);
            int first = -1, second = -1, ones = 0, twos = 0;
            for (int cell = 0; cell < int(roles.size()); ++cell) {
                if (roles[cell] != 0) QVERIFY(labels[cell] != 0);  // only cells that hold an object
                if (roles[cell] == 1) first = cell, ++ones;
                if (roles[cell] == 2) second = cell, ++twos;
            }
            const bool pair = sample.type == QuestionType::Relation || sample.type == QuestionType::Size;
            QCOMPARE(twos, pair ? 1 : 0);
            if (sample.type == QuestionType::Count) QCOMPARE(std::to_string(ones), sample.answer);
            if (sample.type == QuestionType::Exist) QCOMPARE(std::string(ones > 0 ? "yes" : "no"), sample.answer);
            if (sample.type == QuestionType::Color || pair) QCOMPARE(ones, 1);
            if (sample.type != QuestionType::Relation) continue;
            ++relations;
            const auto has = [&](const char* word) { return countWords(sample.question, word) > 0; };
            const int dc = first % options.grid - second % options.grid, dr = first / options.grid - second / options.grid;
            bool truth = false;
            if (has("left")) truth = dc < 0;
            else if (has("right")) truth = dc > 0;
            else if (has("above") || has("higher") || has("over")) truth = dr < 0;
            else if (has("below") || has("lower") || has("under")) truth = dr > 0;
            else QFAIL(sample.question.c_str());
            QCOMPARE(std::string(truth ? "yes" : "no"), sample.answer);
            // The direction the question asks about says the same.
            QCOMPARE(std::abs(sample.directionX) + std::abs(sample.directionY), 1);
            QCOMPARE(dc * sample.directionX + dr * sample.directionY > 0, truth);
        }
        QVERIFY(relations > 30);
    }

    void questionWordsCoverTheQuestions()
    {
        const auto words = questionWords();
        const std::set<std::string> known(words.begin(), words.end());
        for (uint64_t i = 0; i < 300; ++i) {
            const auto q = makeSample(9, i).question;
            std::string w;
            for (char ch : q + " ") {
                if (std::isalnum(static_cast<unsigned char>(ch))) {
                    w += ch;
                } else {
                    if (!w.empty()) QVERIFY2(known.count(w), w.c_str());
                    w.clear();
                }
            }
        }
    }

    void badOptionsAreRefused()
    {
        ShapesOptions options;
        options.maxObjects = kMaxObjects + 1;
        QVERIFY_THROWS_EXCEPTION(std::invalid_argument, makeSample(1, 1, options));
        options = {};
        options.imageSize = 16;
        QVERIFY_THROWS_EXCEPTION(std::invalid_argument, makeSample(1, 1, options));
        options = {};
        options.grid = 2;
        QVERIFY_THROWS_EXCEPTION(std::invalid_argument, makeSample(1, 1, options));
    }
};

QTEST_APPLESS_MAIN(TestShapesTask)
#include "tst_shapes_task.moc"
