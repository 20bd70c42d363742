// viz overlays drawn from a hand-built Trace over a flat grey image: the colour of every kind
// of cell (kept, pruned, merged, heatmap, compare), stable group colours, the text strip, the page,
// and clear errors for malformed traces. TOKENSCOPE_VIZ_SAMPLE_DIR=<dir> also saves the sample pages
// of a ViLT-sized synthetic run there, for looking at.

#include "viz/overlay.h"

#include "viz/colormap.h"

#include "common/error.h"

#include <QDir>
#include <QImage>
#include <QPainter>
#include <QtTest>

#include <cmath>
#include <map>
#include <random>
#include <set>
#include <vector>

using namespace tokenscope;

namespace {

const QColor kGrey(128, 128, 128);
constexpr int kScale = 4;  // 8 px patches -> 32 px cells, big enough for the drop labels

ImageU8 flatImage(int width, int height, QColor colour) {
    ImageU8 image;
    image.width = width;
    image.height = height;
    image.pixels.resize(static_cast<size_t>(width) * height * 3);
    for (size_t i = 0; i < image.pixels.size(); i += 3) {
        image.pixels[i] = static_cast<uint8_t>(colour.red());
        image.pixels[i + 1] = static_cast<uint8_t>(colour.green());
        image.pixels[i + 2] = static_cast<uint8_t>(colour.blue());
    }
    return image;
}

// A layer from the groups of originals that are still alive: group i becomes current token i.
TraceLayer makeLayer(int layer, size_t originals, const std::vector<std::vector<int>>& groups) {
    TraceLayer entry;
    entry.index = layer;
    entry.image.owner.assign(originals, -1);
    for (size_t g = 0; g < groups.size(); ++g) {
        for (int t : groups[g])
            entry.image.owner[t] = static_cast<int>(g);
        entry.image.size.push_back(static_cast<float>(groups[g].size()));
    }
    entry.image.tokens = static_cast<int>(groups.size());
    return entry;
}

void setText(TraceLayer& entry, size_t originals, const std::vector<std::vector<int>>& groups) {
    entry.text.owner.assign(originals, -1);
    entry.text.size.clear();
    for (size_t g = 0; g < groups.size(); ++g) {
        for (int t : groups[g])
            entry.text.owner[t] = static_cast<int>(g);
        entry.text.size.push_back(static_cast<float>(groups[g].size()));
    }
    entry.text.tokens = static_cast<int>(groups.size());
}

std::vector<std::vector<int>> singletonsExcept(int count, const std::set<int>& skip) {
    std::vector<std::vector<int>> groups;
    for (int t = 0; t < count; ++t)
        if (!skip.count(t))
            groups.push_back({t});
    return groups;
}

// 4x4 grid, patch size 8, image CLS + 16 patches, 8 word pieces, 4 layers:
//   layer 0: nothing happens;
//   layer 1: patches 5 and 6 pruned (scores t for token t), word 4 ("the") pruned;
//   layer 2: patches 10, 11, 14 merged into one token, words 2 and 3 merged;
//   layer 3: patches 2 and 15 join that group (2 has a smaller index than the group's 10).
Trace makeTrace(const std::set<int>& prunedAtLayer1 = {5, 6}) {
    Trace trace;
    trace.image.gridHeight = 4;
    trace.image.gridWidth = 4;
    trace.image.patchSize = 8;
    trace.image.resizedHeight = 32;
    trace.image.resizedWidth = 32;
    trace.image.patchCell.push_back({-1, -1});
    for (int r = 0; r < 4; ++r)
        for (int c = 0; c < 4; ++c)
            trace.image.patchCell.push_back({r, c});
    trace.text.labels = {"[CLS]", "what", "color", "is", "the", "cat", "?", "[SEP]"};
    const int n = 17, words = 8;

    TraceLayer layer0 = makeLayer(0, n, singletonsExcept(n, {}));
    setText(layer0, words, singletonsExcept(words, {}));
    trace.layers.push_back(layer0);

    TraceLayer layer1 = makeLayer(1, n, singletonsExcept(n, prunedAtLayer1));
    layer1.reduced = true;
    for (int t = 0; t < n; ++t)
        layer1.image.score.push_back(static_cast<float>(t));
    setText(layer1, words, singletonsExcept(words, {4}));
    trace.layers.push_back(layer1);

    std::set<int> gone = prunedAtLayer1;
    gone.insert({10, 11, 14});
    auto groups = singletonsExcept(n, gone);
    groups.push_back({10, 11, 14});
    TraceLayer layer2 = makeLayer(2, n, groups);
    layer2.reduced = true;
    setText(layer2, words, {{0}, {1}, {2, 3}, {5}, {6}, {7}});
    trace.layers.push_back(layer2);

    gone.insert({2, 15});
    groups = singletonsExcept(n, gone);
    groups.push_back({2, 10, 11, 14, 15});
    TraceLayer layer3 = makeLayer(3, n, groups);
    layer3.reduced = true;
    setText(layer3, words, {{0}, {1}, {2, 3}, {5}, {6}, {7}});
    trace.layers.push_back(layer3);

    for (int t = 0; t < n; ++t)
        trace.image.droppedAt.push_back(prunedAtLayer1.count(t) ? 1 : -1);
    trace.text.droppedAt = {-1, -1, -1, -1, 1, -1, -1, -1};
    return trace;
}

// The most frequent colour in a cell: the fill, whatever hatching, labels and outlines add.
QColor dominantColor(const QImage& image, const QRect& rect) {
    std::map<QRgb, int> counts;
    for (int y = rect.top(); y <= rect.bottom(); ++y)
        for (int x = rect.left(); x <= rect.right(); ++x)
            ++counts[image.pixel(x, y) | 0xff000000u];
    auto best = counts.begin();
    for (auto it = counts.begin(); it != counts.end(); ++it)
        if (it->second > best->second)
            best = it;
    return QColor::fromRgb(best->first);
}

QColor mix(const QColor& from, const QColor& to, double alpha) {
    auto m = [alpha](int a, int b) { return static_cast<int>(std::lround(a + (b - a) * alpha)); };
    return QColor(m(from.red(), to.red()), m(from.green(), to.green()), m(from.blue(), to.blue()));
}

bool near(const QColor& actual, const QColor& expected, int tolerance = 1) {
    return std::abs(actual.red() - expected.red()) <= tolerance &&
           std::abs(actual.green() - expected.green()) <= tolerance &&
           std::abs(actual.blue() - expected.blue()) <= tolerance;
}

#define COMPARE_COLOR(actual, expected)                                                            \
    QVERIFY2(near((actual), (expected)), qPrintable(QStringLiteral("got %1, expected %2")          \
                                                        .arg((actual).name(), (expected).name())))

template <typename F>
QString errorOf(F&& call) {
    try {
        call();
    } catch (const Error& error) {
        return QString::fromUtf8(error.what());
    }
    return {};
}

OverlayStyle scaled(OverlayStyle style = {}) {
    style.scale = kScale;
    return style;
}

// A ViLT-sized synthetic run (384x576, 12x18 patches of 32 px, 12 layers), PuMer-like: prune at
// layers 2, 5, 8 the lowest-scored patches (far from a bright "object"), merge neighbours of
// similar colour, merge two word pieces.
// Returns the pages; saves them as PNG when `directory` is not empty.
std::vector<QImage> renderSamples(const QString& directory) {
    const int gridH = 12, gridW = 18, ps = 32;
    QImage picture(gridW * ps, gridH * ps, QImage::Format_RGB32);
    {
        QPainter p(&picture);
        QLinearGradient sky(0, 0, 0, picture.height());
        sky.setColorAt(0, QColor(120, 170, 230));
        sky.setColorAt(0.6, QColor(200, 220, 240));
        sky.setColorAt(0.61, QColor(90, 150, 70));
        sky.setColorAt(1, QColor(60, 110, 50));
        p.fillRect(picture.rect(), sky);
        p.setRenderHint(QPainter::Antialiasing);
        p.setBrush(QColor(220, 90, 40));
        p.setPen(Qt::NoPen);
        p.drawEllipse(QRectF(220, 150, 170, 130));
        p.setBrush(QColor(240, 200, 60));
        p.drawEllipse(QRectF(60, 40, 70, 70));
    }
    const ImageU8 image = fromQImage(picture);
    Trace trace;
    trace.image.gridHeight = gridH;
    trace.image.gridWidth = gridW;
    trace.image.patchSize = ps;
    trace.image.resizedHeight = gridH * ps;
    trace.image.resizedWidth = gridW * ps;
    trace.image.patchCell.push_back({-1, -1});
    for (int r = 0; r < gridH; ++r)
        for (int c = 0; c < gridW; ++c)
            trace.image.patchCell.push_back({r, c});
    trace.text.labels = {"[CLS]", "what", "color", "is", "the", "ball", "on", "the", "grass", "##land", "?", "[SEP]"};
    const int n = static_cast<int>(trace.image.patchCell.size());
    std::vector<float> score(n, 0.f);
    std::mt19937 random(7);
    std::uniform_real_distribution<float> noise(0.f, 0.25f);
    for (int t = 1; t < n; ++t) {
        const double dr = trace.image.patchCell[t][0] - 6.5, dc = trace.image.patchCell[t][1] - 9.5;
        score[t] = static_cast<float>(std::exp(-(dr * dr + dc * dc) / 30.0)) + noise(random);
    }
    std::vector<int> owner(n);  // original -> representative original (its group), -1 pruned
    for (int t = 0; t < n; ++t)
        owner[t] = t;
    std::vector<int> textOwner(trace.text.labels.size());
    for (size_t t = 0; t < textOwner.size(); ++t)
        textOwner[t] = static_cast<int>(t);
    for (int layer = 0; layer < 12; ++layer) {
        TraceLayer entry;
        entry.index = layer;
        const bool reduces = layer == 2 || layer == 5 || layer == 8;
        if (reduces) {
            entry.reduced = true;
            entry.image.score = score;
            std::vector<int> alive;
            for (int t = 1; t < n; ++t)
                if (owner[t] == t)
                    alive.push_back(t);
            std::sort(alive.begin(), alive.end(), [&](int a, int b) { return score[a] < score[b]; });
            const size_t prune = alive.size() / 5;
            for (size_t i = 0; i < prune; ++i)
                for (int t = 1; t < n; ++t)
                    if (owner[t] == alive[i])
                        owner[t] = -1;
            // Merge right neighbours of similar score (a stand-in for similar keys).
            for (int t = 1; t < n; ++t) {
                const int right = t + 1;
                if (trace.image.patchCell[t][1] + 1 >= gridW || owner[t] < 0 || owner[right] < 0 || owner[t] == owner[right])
                    continue;
                if (std::abs(score[t] - score[right]) < 0.02f * (layer + 1)) {
                    const int from = owner[right], to = owner[t];
                    for (int u = 1; u < n; ++u)
                        if (owner[u] == from)
                            owner[u] = to;
                }
            }
            if (layer == 5)
                textOwner[4] = -1;
            if (layer == 8)
                textOwner[9] = 8;
        }
        std::map<int, int> currentOf;
        for (int t = 0; t < n; ++t)
            if (owner[t] >= 0 && !currentOf.count(owner[t]))
                currentOf.emplace(owner[t], static_cast<int>(currentOf.size()));
        entry.image.size.assign(currentOf.size(), 0.f);
        for (int t = 0; t < n; ++t) {
            entry.image.owner.push_back(owner[t] >= 0 ? currentOf[owner[t]] : -1);
            if (owner[t] >= 0)
                entry.image.size[currentOf[owner[t]]] += 1;
        }
        std::map<int, int> textCurrent;
        for (int t : textOwner)
            if (t >= 0 && !textCurrent.count(t))
                textCurrent.emplace(t, static_cast<int>(textCurrent.size()));
        entry.text.size.assign(textCurrent.size(), 0.f);
        for (int t : textOwner) {
            entry.text.owner.push_back(t >= 0 ? textCurrent[t] : -1);
            if (t >= 0)
                entry.text.size[textCurrent[t]] += 1;
        }
        entry.image.tokens = static_cast<int>(currentOf.size());
        entry.text.tokens = static_cast<int>(textCurrent.size());
        trace.layers.push_back(entry);
    }
    std::vector<QImage> pages;
    auto keep = [&](const QImage& page, const QString& name) {
        pages.push_back(page);
        if (!directory.isEmpty())
            page.save(directory + QLatin1Char('/') + name);
    };
    if (!directory.isEmpty())
        QDir().mkpath(directory);
    for (int layer : {2, 5, 8, 11}) {
        const QString title = QStringLiteral("Layer %1 of 12 \u2014 %2 image tokens, %3 text tokens, pumer reference L2,5,8 p0.2")
                                  .arg(layer).arg(trace.layers[layer].image.tokens).arg(trace.layers[layer].text.tokens);
        keep(renderLayerPage(image, trace, layer, title), QStringLiteral("page_l%1.png").arg(layer));
    }
    OverlayStyle heat;
    heat.showHeatmap = true;
    heat.showGrid = true;
    keep(renderLayerPage(image, trace, 5, QStringLiteral("Layer 5 of 12 \u2014 scores (heatmap)"), heat),
         QStringLiteral("page_heatmap_l5.png"));
    // "uniform": the CLS and a checkerboard of patches kept from layer 2 on.
    Trace other = trace;
    for (int layer = 2; layer < 12; ++layer) {
        TraceLayer& entry = other.layers[layer];
        entry.image.size.clear();
        for (int t = 0; t < n; ++t) {
            const bool isKept = t == 0 || (trace.image.patchCell[t][0] + trace.image.patchCell[t][1]) % 2 == 0;
            entry.image.owner[t] = isKept ? static_cast<int>(entry.image.size.size()) : -1;
            if (isKept)
                entry.image.size.push_back(1.f);
        }
        entry.image.tokens = static_cast<int>(entry.image.size.size());
    }
    QImage diff = renderComparisonDiff(image, trace, other, 8);
    QImage key = renderDiffLegend(QStringLiteral("pumer"), QStringLiteral("uniform"), diff.width());
    QImage both(diff.width(), diff.height() + key.height(), QImage::Format_RGB32);
    QPainter p(&both);
    p.drawImage(0, 0, diff);
    p.drawImage(0, diff.height(), key);
    p.end();
    keep(both, QStringLiteral("diff_l8.png"));
    // The hand-built 4x4 trace at auto scale: big cells show hatching, labels and outlines up close.
    keep(renderLayerPage(flatImage(32, 32, kGrey), makeTrace(), 3, QStringLiteral("4x4 test trace, layer 3")),
         QStringLiteral("page_test_trace_l3.png"));
    return pages;
}

}  // namespace

class TestOverlay : public QObject {
    Q_OBJECT

private slots:
    void keptCellsAreTheImage();
    void prunedCellsAreDimmed();
    void mergedCellsAreTintedPerGroup();
    void groupColourIsStableAcrossLayers();
    void heatmapSpansTheColormap();
    void comparisonDiffColours();
    void statesAndLookups();
    void textStripAndPage();
    void legends();
    void imageConversions();
    void malformedTracesThrow();
    void samplePages();
};

void TestOverlay::keptCellsAreTheImage() {
    const Trace trace = makeTrace();
    const QImage out = renderLayerOverlay(flatImage(50, 40, kGrey), trace, 0, scaled());
    QCOMPARE(out.size(), QSize(32 * kScale, 32 * kScale));
    for (int y = 0; y < out.height(); ++y)
        for (int x = 0; x < out.width(); ++x)
            QCOMPARE(QColor(out.pixel(x, y)), kGrey);
    // Auto scale: a 32 px image is fitted near kAutoLongSidePx.
    QCOMPARE(overlayScale(trace, OverlayStyle{}), kAutoLongSidePx / 32);
}

void TestOverlay::prunedCellsAreDimmed() {
    const Trace trace = makeTrace();
    for (int layer : {1, 2, 3}) {
        const QImage out = renderLayerOverlay(flatImage(32, 32, kGrey), trace, layer, scaled());
        const QColor dimmed = mix(kGrey, kPrunedColor, OverlayStyle{}.dimAlpha);
        for (int t : {5, 6})
            COMPARE_COLOR(dominantColor(out, patchRect(trace, t, kScale)), dimmed);
        const QRect kept = patchRect(trace, 1, kScale);
        QCOMPARE(QColor(out.pixel(kept.center())), kGrey);
        // The drop label / hatching make the cell not flat.
        const QRect cell = patchRect(trace, 5, kScale);
        QVERIFY(QColor(out.pixel(cell.center())) != dimmed || QColor(out.pixel(cell.topLeft() + QPoint(3, 3))) != dimmed);
    }
    // dimAlpha is honoured and showPruned off leaves the cell as the image.
    OverlayStyle light = scaled();
    light.dimAlpha = 0.3;
    light.showDropLabels = false;
    QImage out = renderLayerOverlay(flatImage(32, 32, kGrey), trace, 1, light);
    COMPARE_COLOR(dominantColor(out, patchRect(trace, 5, kScale)), mix(kGrey, kPrunedColor, 0.3));
    OverlayStyle off = scaled();
    off.showPruned = false;
    out = renderLayerOverlay(flatImage(32, 32, kGrey), trace, 1, off);
    QCOMPARE(QColor(out.pixel(patchRect(trace, 5, kScale).center())), kGrey);
}

void TestOverlay::mergedCellsAreTintedPerGroup() {
    const Trace trace = makeTrace();
    const std::vector<int> representatives = imageGroupRepresentatives(trace, 2);
    QCOMPARE(representatives[10], 10);
    QCOMPARE(representatives[11], 10);
    QCOMPARE(representatives[14], 10);
    QCOMPARE(representatives[1], 1);
    QCOMPARE(representatives[5], -1);
    const QImage out = renderLayerOverlay(flatImage(32, 32, kGrey), trace, 2, scaled());
    const QColor tinted = mix(kGrey, groupColor(10), kMergeTintAlpha);
    for (int t : {10, 11, 14})
        COMPARE_COLOR(dominantColor(out, patchRect(trace, t, kScale)), tinted);
    for (int t : {11, 14})  // 10's cell carries the group-size badge in its corner
        COMPARE_COLOR(QColor(out.pixel(patchRect(trace, t, kScale).center())), tinted);
    // Outline: the group's outer top edge (cell of 10 = (2,1)) carries the group colour; the inner
    // edge between 10 and 11 does not.
    const QRect cell10 = patchRect(trace, 10, kScale);
    COMPARE_COLOR(QColor(out.pixel(cell10.center().x(), cell10.top() + 1)), groupColor(10));
    COMPARE_COLOR(QColor(out.pixel(cell10.right() - 1, cell10.top() + 8)), tinted);
    // The badge "x3" darkens the bottom-right corner of the group's first cell.
    QVERIFY(QColor(out.pixel(cell10.right() - 6, cell10.bottom() - 6)).lightness() < tinted.lightness());
    // Unmerged neighbours are untouched, and merge tint off leaves the cell as the image.
    QCOMPARE(QColor(out.pixel(patchRect(trace, 12, kScale).center())), kGrey);
    OverlayStyle off = scaled();
    off.showMerged = false;
    const QImage plain = renderLayerOverlay(flatImage(32, 32, kGrey), trace, 2, off);
    QCOMPARE(QColor(plain.pixel(patchRect(trace, 10, kScale).center())), kGrey);
}

void TestOverlay::groupColourIsStableAcrossLayers() {
    const Trace trace = makeTrace();
    // At layer 3 the group takes in 2 (a smaller index) and 15; it keeps representative 10.
    const std::vector<int> representatives = imageGroupRepresentatives(trace, 3);
    for (int t : {2, 10, 11, 14, 15})
        QCOMPARE(representatives[t], 10);
    const QImage layer2 = renderLayerOverlay(flatImage(32, 32, kGrey), trace, 2, scaled());
    const QImage layer3 = renderLayerOverlay(flatImage(32, 32, kGrey), trace, 3, scaled());
    const QColor tinted = mix(kGrey, groupColor(10), kMergeTintAlpha);
    COMPARE_COLOR(dominantColor(layer2, patchRect(trace, 11, kScale)), tinted);
    for (int t : {2, 10, 11, 14, 15})
        COMPARE_COLOR(dominantColor(layer3, patchRect(trace, t, kScale)), tinted);
    // Distinct representatives get distinct colours.
    QVERIFY(groupColor(10) != groupColor(11));
    QCOMPARE(groupColor(10), groupColor(10));
    // The word pieces: "color" + "is" merged at layers 2 and 3 with representative 2.
    QCOMPARE(textGroupRepresentatives(trace, 2)[3], 2);
    QCOMPARE(textGroupRepresentatives(trace, 3)[3], 2);
}

void TestOverlay::heatmapSpansTheColormap() {
    const Trace trace = makeTrace();
    OverlayStyle style = scaled();
    style.showHeatmap = true;
    style.heatmapAlpha = 1.0;
    style.showPruned = false;
    const QImage out = renderLayerOverlay(flatImage(32, 32, kGrey), trace, 1, style);
    // Token 16 has the highest score among cells, token 1 the lowest (the CLS has no cell).
    COMPARE_COLOR(QColor(out.pixel(patchRect(trace, 16, kScale).center())), colormapTop());
    COMPARE_COLOR(QColor(out.pixel(patchRect(trace, 1, kScale).center())), colormapBottom());
    COMPARE_COLOR(QColor(out.pixel(patchRect(trace, 8, kScale).center())), colormapColor(7.0 / 15.0));
    // The colormap is light at the top and dark at the bottom.
    QVERIFY(colormapTop().lightness() > colormapBottom().lightness() + 100);
    // A layer with no scores draws no heatmap.
    const QImage none = renderLayerOverlay(flatImage(32, 32, kGrey), trace, 0, style);
    QCOMPARE(QColor(none.pixel(patchRect(trace, 16, kScale).center())), kGrey);
}

void TestOverlay::comparisonDiffColours() {
    const Trace a = makeTrace({5, 6});
    const Trace b = makeTrace({5, 7});
    const QImage out = renderComparisonDiff(flatImage(32, 32, kGrey), a, b, 1, kScale);
    QCOMPARE(out.size(), QSize(32 * kScale, 32 * kScale));
    COMPARE_COLOR(dominantColor(out, patchRect(a, 7, kScale)), mix(kGrey, kDiffOnlyAColor, kDiffTintAlpha));
    COMPARE_COLOR(dominantColor(out, patchRect(a, 6, kScale)), mix(kGrey, kDiffOnlyBColor, kDiffTintAlpha));
    COMPARE_COLOR(dominantColor(out, patchRect(a, 5, kScale)), mix(kGrey, kPrunedColor, OverlayStyle{}.dimAlpha));
    QCOMPARE(QColor(out.pixel(patchRect(a, 1, kScale).center())), kGrey);
    QCOMPARE(QColor(out.pixel(patchRect(a, 10, kScale).center())), kGrey);
    // Different grids cannot be compared.
    Trace small = makeTrace();
    small.image.gridHeight = 3;
    small.image.patchCell.resize(13);
    for (TraceLayer& entry : small.layers) {
        entry.image.owner.resize(13);
        if (!entry.image.score.empty())
            entry.image.score.resize(13);
    }
    QVERIFY(errorOf([&] { renderComparisonDiff(flatImage(32, 32, kGrey), a, small, 1); }).contains("same patch grid"));
}

void TestOverlay::statesAndLookups() {
    const Trace trace = makeTrace();
    const std::vector<TokenState> states = imageTokenStates(trace, 2);
    QCOMPARE(states[1], TokenState::Kept);
    QCOMPARE(states[5], TokenState::Pruned);
    QCOMPARE(states[10], TokenState::Merged);
    QCOMPARE(textTokenStates(trace, 2)[4], TokenState::Pruned);
    QCOMPARE(textTokenStates(trace, 2)[2], TokenState::Merged);
    QCOMPARE(imageDropLayers(trace, 3)[5], 1);
    QCOMPARE(imageDropLayers(trace, 0)[5], -1);
    QCOMPARE(imageDropLayers(trace, 3)[10], -1);
    QCOMPARE(patchRect(trace, 6, 2), QRect(1 * 16, 1 * 16, 16, 16));  // token 6 = (1, 1)
    QVERIFY(patchRect(trace, 0, 2).isEmpty());                        // the image CLS
    QCOMPARE(imageTokenAt(trace, QPoint(17, 20), 2), 6);
    QCOMPARE(imageTokenAt(trace, QPoint(200, 20), 2), -1);
}

void TestOverlay::textStripAndPage() {
    const Trace trace = makeTrace();
    const QImage strip = renderTextStrip(trace, 2, 420);
    QCOMPARE(strip.width(), 420);
    QVERIFY(strip.height() >= 30);
    // A narrow strip wraps to more rows.
    QVERIFY(renderTextStrip(trace, 2, 120).height() > strip.height());
    // The merged pair's bracket is drawn in the group colour somewhere.
    bool hasGroupColour = false;
    for (int y = 0; y < strip.height() && !hasGroupColour; ++y)
        for (int x = 0; x < strip.width() && !hasGroupColour; ++x)
            hasGroupColour = near(QColor(strip.pixel(x, y)), groupColor(2), 0);
    QVERIFY(hasGroupColour);

    const QImage overlay = renderLayerOverlay(flatImage(32, 32, kGrey), trace, 2);
    const QImage page = renderLayerPage(flatImage(32, 32, kGrey), trace, 2,
                                        QStringLiteral("layer 2 of 4 \u2014 13 image tokens, 6 text tokens, test"));
    QVERIFY(!page.isNull());
    QVERIFY(page.width() >= overlay.width());
    QVERIFY(page.height() > overlay.height() + strip.height());
    // The page is mostly white with the overlay in it.
    QCOMPARE(QColor(page.pixel(2, 2)), QColor(Qt::white));
    int grey = 0;
    for (int y = 0; y < page.height(); y += 4)
        for (int x = 0; x < page.width(); x += 4)
            grey += QColor(page.pixel(x, y)) == kGrey;
    QVERIFY(grey > overlay.width() * overlay.height() / 16 / 2);
}

void TestOverlay::legends() {
    OverlayStyle style;
    style.showHeatmap = true;
    const QImage legend = renderLegend(style, 700, 0.1f, 0.9f);
    QCOMPARE(legend.width(), 700);
    QVERIFY(legend.height() > 10);
    QVERIFY(renderLegend(style, 200).height() > legend.height());  // wraps
    const QImage diff = renderDiffLegend(QStringLiteral("pumer"), QStringLiteral("tome"), 600);
    QCOMPARE(diff.width(), 600);
    QVERIFY(errorOf([&] { renderLegend(style, 0); }).contains("width"));
}

void TestOverlay::imageConversions() {
    ImageU8 image = flatImage(3, 2, QColor(10, 20, 30));
    image.pixels[3] = 200;  // pixel (1, 0) red
    const QImage q = toQImage(image);
    QCOMPARE(q.size(), QSize(3, 2));
    QCOMPARE(QColor(q.pixel(1, 0)), QColor(200, 20, 30));
    const ImageU8 back = fromQImage(q);
    QCOMPARE(back.width, 3);
    QCOMPARE(back.channels, 3);
    QVERIFY(back.pixels == image.pixels);
    ImageU8 grey;
    grey.width = 2;
    grey.height = 1;
    grey.channels = 1;
    grey.pixels = {7, 250};
    QCOMPARE(QColor(toQImage(grey).pixel(1, 0)), QColor(250, 250, 250));
    ImageU8 broken = image;
    broken.pixels.pop_back();
    QVERIFY(errorOf([&] { toQImage(broken); }).contains("bytes"));
}

void TestOverlay::malformedTracesThrow() {
    const ImageU8 image = flatImage(32, 32, kGrey);
    const Trace good = makeTrace();
    QVERIFY(errorOf([&] { renderLayerOverlay(image, good, 4); }).contains("out of range"));
    QVERIFY(errorOf([&] { renderLayerOverlay(image, good, -1); }).contains("out of range"));
    QVERIFY(errorOf([&] { renderTextStrip(good, 9, 300); }).contains("out of range"));
    QVERIFY(errorOf([&] { renderLayerPage(image, good, 7, {}); }).contains("out of range"));

    Trace shortOwners = good;
    shortOwners.layers[2].image.owner.pop_back();
    QVERIFY(errorOf([&] { renderLayerOverlay(image, shortOwners, 0); }).contains("imageOwner"));
    Trace outside = good;
    outside.image.patchCell[3] = {0, 4};
    QVERIFY(errorOf([&] { renderLayerOverlay(image, outside, 0); }).contains("outside"));
    Trace badOwner = good;
    badOwner.layers[1].image.owner[1] = 99;
    QVERIFY(errorOf([&] { renderLayerOverlay(image, badOwner, 1); }).contains("99"));
    Trace badText = good;
    badText.text.labels.pop_back();
    QVERIFY(errorOf([&] { renderTextStrip(badText, 0, 300); }).contains("textOwner"));
    Trace badScore = good;
    badScore.layers[1].image.score.resize(3);
    QVERIFY(errorOf([&] { renderLayerOverlay(image, badScore, 1); }).contains("imageScore"));
    QVERIFY(errorOf([&] { renderLayerOverlay(image, Trace{}, 0); }).contains("grid"));
    ImageU8 empty;
    QVERIFY(!errorOf([&] { renderLayerOverlay(empty, good, 0); }).isEmpty());
}

void TestOverlay::samplePages() {
    // A ViLT-sized run renders at a projectable size; TOKENSCOPE_VIZ_SAMPLE_DIR keeps the PNGs.
    const std::vector<QImage> pages = renderSamples(QString::fromLocal8Bit(qgetenv("TOKENSCOPE_VIZ_SAMPLE_DIR")));
    QCOMPARE(pages.size(), size_t(7));
    for (const QImage& page : pages) {
        QVERIFY(page.width() >= 576);
        QVERIFY(page.height() >= 384);
    }
}

QTEST_MAIN(TestOverlay)
#include "tst_overlay.moc"
