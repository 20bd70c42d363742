#include "overlay.h"

#include "colormap.h"
#include "draw_common.h"

#include "common/error.h"

#include <QFont>
#include <QFontMetrics>
#include <QPainter>
#include <QPainterPath>
#include <QPen>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <map>
#include <string>

namespace tokenscope {
namespace detail {


[[noreturn]] void fail(const std::string& message) { throw Error("viz: " + message); }

QFont sansFont(int pixelSize, bool isBold) {
    QFont font;
    font.setFamilies({QStringLiteral("DejaVu Sans"), QStringLiteral("Noto Sans"),
                      QStringLiteral("Liberation Sans"), QStringLiteral("Arial")});
    font.setStyleHint(QFont::SansSerif);
    font.setPixelSize(pixelSize);
    font.setBold(isBold);
    return font;
}

QColor blend(const QColor& from, const QColor& to, double alpha) {
    auto mix = [alpha](int a, int b) { return static_cast<int>(std::lround(a + (b - a) * alpha)); };
    return QColor(mix(from.red(), to.red()), mix(from.green(), to.green()), mix(from.blue(), to.blue()));
}

// Per-pixel blend so that a flat input gives exactly blend(pixel, colour, alpha) (tests rely on it).
void tintRect(QImage& image, const QRect& rect, const QColor& colour, double alpha) {
    const QRect area = rect.intersected(image.rect());
    const double keep = 1 - alpha;
    const double red = colour.red() * alpha, green = colour.green() * alpha, blue = colour.blue() * alpha;
    for (int y = area.top(); y <= area.bottom(); ++y) {
        auto* line = reinterpret_cast<QRgb*>(image.scanLine(y));
        for (int x = area.left(); x <= area.right(); ++x) {
            const QRgb p = line[x];
            line[x] = qRgb(static_cast<int>(std::lround(qRed(p) * keep + red)),
                           static_cast<int>(std::lround(qGreen(p) * keep + green)),
                           static_cast<int>(std::lround(qBlue(p) * keep + blue)));
        }
    }
}

// The image smoothly resized to the trace's resized size times `scale`, as RGB32.
QImage scaledBase(const ImageU8& image, const Trace& trace, int scale) {
    const QImage source = toQImage(image);
    return source
        .scaled(trace.image.resizedWidth * scale, trace.image.resizedHeight * scale, Qt::IgnoreAspectRatio,
                Qt::SmoothTransformation)
        .convertToFormat(QImage::Format_RGB32);
}

// How many originals each current token holds, from the owners (robust to rounded float sizes).
std::vector<int> holderCounts(const std::vector<int>& owner) {
    int largest = -1;
    for (int o : owner)
        largest = std::max(largest, o);
    std::vector<int> counts(static_cast<size_t>(largest + 1), 0);
    for (int o : owner)
        if (o >= 0)
            ++counts[o];
    return counts;
}

std::vector<TokenState> statesFrom(const std::vector<int>& owner) {
    const std::vector<int> counts = holderCounts(owner);
    std::vector<TokenState> states(owner.size(), TokenState::Kept);
    for (size_t t = 0; t < owner.size(); ++t) {
        if (owner[t] < 0)
            states[t] = TokenState::Pruned;
        else if (counts[owner[t]] > 1)
            states[t] = TokenState::Merged;
    }
    return states;
}

// Walks layers 0..layer; see the header for the rule that keeps representatives stable.
std::vector<int> representativesFrom(const Trace& trace, int layer, bool isImage) {
    const size_t count = isImage ? trace.image.patchCell.size() : trace.text.labels.size();
    std::vector<int> previous(count);
    for (size_t t = 0; t < count; ++t)
        previous[t] = static_cast<int>(t);
    for (int l = 0; l <= layer; ++l) {
        const std::vector<int>& owner = isImage ? trace.layers[l].image.owner : trace.layers[l].text.owner;
        std::map<int, std::vector<int>> groups;  // current token -> its originals
        for (size_t t = 0; t < count; ++t)
            if (owner[t] >= 0)
                groups[owner[t]].push_back(static_cast<int>(t));
        std::vector<int> next(count, -1);
        for (const auto& [holder, members] : groups) {
            std::map<int, int> partSizes;  // previous representative -> members carrying it
            for (int m : members)
                ++partSizes[previous[m] >= 0 ? previous[m] : m];
            int best = -1, bestSize = 0;
            for (const auto& [representative, size] : partSizes)  // ascending: ties keep the smaller
                if (size > bestSize) {
                    best = representative;
                    bestSize = size;
                }
            for (int m : members)
                next[m] = best;
        }
        previous.swap(next);
    }
    return previous;
}

std::vector<int> dropLayersFrom(const Trace& trace, int layer, bool isImage) {
    const size_t count = isImage ? trace.image.patchCell.size() : trace.text.labels.size();
    std::vector<int> dropped(count, -1);
    for (int l = 0; l <= layer; ++l) {
        const std::vector<int>& owner = isImage ? trace.layers[l].image.owner : trace.layers[l].text.owner;
        for (size_t t = 0; t < count; ++t)
            if (owner[t] < 0 && dropped[t] < 0)
                dropped[t] = trace.layers[l].index;
    }
    return dropped;
}

// Draws, for every cell with a class >= 0, the sides where the neighbour has another class: the
// outer boundary of each connected region. A dark hairline outside a coloured band keeps the
// outline visible on light and dark images alike.
void drawRegionOutlines(QImage& image, const Trace& trace, int scale, const std::vector<int>& cellClass,
                        const std::function<QColor(int)>& colourOf) {
    const int cellPx = trace.image.patchSize * scale;
    const int band = std::clamp(cellPx / 12, 2, 5);
    QPainter painter(&image);
    auto classAt = [&](int r, int c) {
        if (r < 0 || c < 0 || r >= trace.image.gridHeight || c >= trace.image.gridWidth)
            return -1;
        return cellClass[static_cast<size_t>(r) * trace.image.gridWidth + c];
    };
    for (int r = 0; r < trace.image.gridHeight; ++r)
        for (int c = 0; c < trace.image.gridWidth; ++c) {
            const int own = classAt(r, c);
            if (own < 0)
                continue;
            const QColor colour = colourOf(own);
            const int x = c * cellPx, y = r * cellPx;
            const bool sides[4] = {classAt(r - 1, c) != own, classAt(r + 1, c) != own,
                                   classAt(r, c - 1) != own, classAt(r, c + 1) != own};
            const QRect bands[4] = {QRect(x, y, cellPx, band), QRect(x, y + cellPx - band, cellPx, band),
                                    QRect(x, y, band, cellPx), QRect(x + cellPx - band, y, band, cellPx)};
            const QRect hairlines[4] = {QRect(x, y, cellPx, 1), QRect(x, y + cellPx - 1, cellPx, 1),
                                        QRect(x, y, 1, cellPx), QRect(x + cellPx - 1, y, 1, cellPx)};
            for (int side = 0; side < 4; ++side)
                if (sides[side])
                    painter.fillRect(bands[side], colour);
            for (int side = 0; side < 4; ++side)
                if (sides[side])
                    painter.fillRect(hairlines[side], QColor(0, 0, 0, 150));
        }
}

void drawGrid(QImage& image, const Trace& trace, int scale) {
    const int cellPx = trace.image.patchSize * scale;
    QPainter painter(&image);
    painter.setPen(QPen(QColor(255, 255, 255, 90), 1));
    for (int r = 1; r < trace.image.gridHeight; ++r)
        painter.drawLine(0, r * cellPx, trace.image.gridWidth * cellPx, r * cellPx);
    for (int c = 1; c < trace.image.gridWidth; ++c)
        painter.drawLine(c * cellPx, 0, c * cellPx, trace.image.gridHeight * cellPx);
}

// Diagonal hatching aligned to the whole image, so neighbouring pruned cells join into one texture.
void hatchRect(QPainter& painter, const QRect& rect, int spacingPx) {
    painter.save();
    painter.setClipRect(rect);
    painter.setPen(QPen(QColor(255, 255, 255, 70), 1.2));
    const int start = ((rect.left() + rect.top()) / spacingPx) * spacingPx;
    for (int k = start; k <= rect.right() + rect.bottom() + spacingPx; k += spacingPx)
        painter.drawLine(QPointF(k - rect.bottom() - 1, rect.bottom() + 1), QPointF(k - rect.top() + 1, rect.top() - 1));
    painter.restore();
}

void drawCellLabel(QPainter& painter, const QRect& rect, const QString& text) {
    const int pixelSize = std::clamp(rect.height() * 2 / 5, 9, 22);
    painter.setFont(sansFont(pixelSize, true));
    painter.setPen(QColor(255, 255, 255, 235));
    painter.drawText(rect, Qt::AlignCenter, text);
}

// "x5" in the bottom-right corner of each merge group's first cell: how many originals the
// merged token holds (the CLS included when it joined).
void drawGroupSizes(QImage& image, const Trace& trace, int scale, const std::vector<TokenState>& states,
                    const std::vector<int>& representatives) {
    std::map<int, int> sizes, firstCell;  // representative -> members, -> first member with a cell
    for (size_t t = 0; t < states.size(); ++t) {
        if (states[t] != TokenState::Merged)
            continue;
        ++sizes[representatives[t]];
        if (trace.image.patchCell[t][0] >= 0 && !firstCell.count(representatives[t]))
            firstCell[representatives[t]] = static_cast<int>(t);
    }
    const int cellPx = trace.image.patchSize * scale;
    const QFont font = sansFont(std::clamp(cellPx / 3, 10, 16), true);
    const QFontMetrics metrics(font);
    QPainter painter(&image);
    painter.setRenderHint(QPainter::Antialiasing);
    painter.setRenderHint(QPainter::TextAntialiasing);
    painter.setFont(font);
    for (const auto& [representative, token] : firstCell) {
        const QString text = QStringLiteral("\u00d7%1").arg(sizes[representative]);
        const QRect cell = patchRect(trace, token, scale);
        const int width = metrics.horizontalAdvance(text) + 6, height = metrics.height();
        const QRect pill(cell.right() - width - 3, cell.bottom() - height - 3, width, height);
        painter.setPen(Qt::NoPen);
        painter.setBrush(QColor(0, 0, 0, 150));
        painter.drawRoundedRect(pill, 4, 4);
        painter.setPen(Qt::white);
        painter.drawText(pill, Qt::AlignCenter, text);
    }
}

QString stateWord(TokenState state) {
    switch (state) {
    case TokenState::Kept: return QStringLiteral("kept");
    case TokenState::Merged: return QStringLiteral("merged");
    case TokenState::Pruned: return QStringLiteral("pruned");
    }
    return {};
}

}  // namespace detail

using namespace detail;

QColor groupColor(int representative) {
    // Golden-ratio steps around the hue circle give neighbouring representatives far-apart hues;
    // three saturation/value variants separate groups whose hues land close.
    const double hue = std::fmod(std::abs(representative) * 0.6180339887498949 + 0.11, 1.0);
    static const double kSaturation[3] = {0.85, 0.65, 0.95};
    static const double kValue[3] = {0.95, 0.85, 0.75};
    const int variant = std::abs(representative) % 3;
    return QColor::fromHsvF(static_cast<float>(hue), static_cast<float>(kSaturation[variant]),
                            static_cast<float>(kValue[variant]));
}

void validateTrace(const Trace& trace, int layer) {
    if (trace.image.gridHeight <= 0 || trace.image.gridWidth <= 0 || trace.image.patchSize <= 0)
        fail("trace has an empty patch grid (" + std::to_string(trace.image.gridHeight) + "x" +
             std::to_string(trace.image.gridWidth) + ", patch size " + std::to_string(trace.image.patchSize) + ")");
    if (trace.image.resizedWidth < trace.image.gridWidth * trace.image.patchSize ||
        trace.image.resizedHeight < trace.image.gridHeight * trace.image.patchSize)
        fail("trace's resized image " + std::to_string(trace.image.resizedWidth) + "x" +
             std::to_string(trace.image.resizedHeight) + " is smaller than its patch grid");
    if (trace.layers.empty())
        fail("trace has no layers");
    if (layer < 0 || layer >= static_cast<int>(trace.layers.size()))
        fail("layer " + std::to_string(layer) + " is out of range (the trace has " +
             std::to_string(trace.layers.size()) + " layers)");
    std::vector<char> taken(static_cast<size_t>(trace.image.gridHeight) * trace.image.gridWidth, 0);
    for (size_t t = 0; t < trace.image.patchCell.size(); ++t) {
        const auto& cell = trace.image.patchCell[t];
        if (cell[0] == -1 && cell[1] == -1)
            continue;
        if (cell[0] < 0 || cell[1] < 0 || cell[0] >= trace.image.gridHeight || cell[1] >= trace.image.gridWidth)
            fail("image token " + std::to_string(t) + " sits at (" + std::to_string(cell[0]) + ", " +
                 std::to_string(cell[1]) + "), outside the " + std::to_string(trace.image.gridHeight) + "x" +
                 std::to_string(trace.image.gridWidth) + " grid");
        char& slot = taken[static_cast<size_t>(cell[0]) * trace.image.gridWidth + cell[1]];
        if (slot)
            fail("two image tokens share the cell (" + std::to_string(cell[0]) + ", " + std::to_string(cell[1]) + ")");
        slot = 1;
    }
    for (const TraceLayer& entry : trace.layers) {
        const std::string where = "layer " + std::to_string(entry.index) + ": ";
        if (entry.image.owner.size() != trace.image.patchCell.size())
            fail(where + "imageOwner has " + std::to_string(entry.image.owner.size()) + " entries, patchCell " +
                 std::to_string(trace.image.patchCell.size()));
        if (entry.text.owner.size() != trace.text.labels.size())
            fail(where + "textOwner has " + std::to_string(entry.text.owner.size()) + " entries, textTokens " +
                 std::to_string(trace.text.labels.size()));
        if (!entry.image.score.empty() && entry.image.score.size() != trace.image.patchCell.size())
            fail(where + "imageScore has " + std::to_string(entry.image.score.size()) + " entries, patchCell " +
                 std::to_string(trace.image.patchCell.size()));
        auto checkOwners = [&](const std::vector<int>& owner, size_t holders, const char* name) {
            for (int o : owner)
                if (o < -1 || (holders > 0 && o >= static_cast<int>(holders)))
                    fail(where + name + " names token " + std::to_string(o) + " but there are " +
                         std::to_string(holders) + " current tokens");
        };
        checkOwners(entry.image.owner, entry.image.size.size(), "imageOwner");
        checkOwners(entry.text.owner, entry.text.size.size(), "textOwner");
    }
}

std::vector<TokenState> imageTokenStates(const Trace& trace, int layer) {
    validateTrace(trace, layer);
    return statesFrom(trace.layers[layer].image.owner);
}

std::vector<TokenState> textTokenStates(const Trace& trace, int layer) {
    validateTrace(trace, layer);
    return statesFrom(trace.layers[layer].text.owner);
}

std::vector<int> imageGroupRepresentatives(const Trace& trace, int layer) {
    validateTrace(trace, layer);
    return representativesFrom(trace, layer, true);
}

std::vector<int> textGroupRepresentatives(const Trace& trace, int layer) {
    validateTrace(trace, layer);
    return representativesFrom(trace, layer, false);
}

std::vector<int> imageDropLayers(const Trace& trace, int layer) {
    validateTrace(trace, layer);
    return dropLayersFrom(trace, layer, true);
}

int overlayScale(const Trace& trace, const OverlayStyle& style) {
    if (style.scale > 0)
        return style.scale;
    const int longSide = std::max({trace.image.resizedWidth, trace.image.resizedHeight, 1});
    return std::max(1, (kAutoLongSidePx + longSide / 2) / longSide);
}

QRect patchRect(const Trace& trace, int token, int scale) {
    if (token < 0 || token >= static_cast<int>(trace.image.patchCell.size()) || trace.image.patchCell[token][0] < 0)
        return {};
    const int cellPx = trace.image.patchSize * scale;
    return QRect(trace.image.patchCell[token][1] * cellPx, trace.image.patchCell[token][0] * cellPx, cellPx, cellPx);
}

int imageTokenAt(const Trace& trace, QPoint pixel, int scale) {
    const int cellPx = trace.image.patchSize * scale;
    if (cellPx <= 0 || pixel.x() < 0 || pixel.y() < 0)
        return -1;
    const int row = pixel.y() / cellPx, column = pixel.x() / cellPx;
    for (size_t t = 0; t < trace.image.patchCell.size(); ++t)
        if (trace.image.patchCell[t][0] == row && trace.image.patchCell[t][1] == column)
            return static_cast<int>(t);
    return -1;
}

QImage renderLayerOverlay(const ImageU8& image, const Trace& trace, int layer, const OverlayStyle& style) {
    validateTrace(trace, layer);
    const int scale = overlayScale(trace, style);
    QImage out = scaledBase(image, trace, scale);
    const TraceLayer& entry = trace.layers[layer];
    const std::vector<TokenState> states = statesFrom(entry.image.owner);
    const std::vector<int> representatives = representativesFrom(trace, layer, true);
    const std::vector<int> dropped = dropLayersFrom(trace, layer, true);
    const int cellPx = trace.image.patchSize * scale;
    const size_t count = trace.image.patchCell.size();

    // Heatmap over the tokens this layer's reducer scored: everything alive when the layer began.
    if (style.showHeatmap && !entry.image.score.empty()) {
        float low = std::numeric_limits<float>::infinity(), high = -low;
        auto isScored = [&](size_t t) {
            return trace.image.patchCell[t][0] >= 0 && std::isfinite(entry.image.score[t]) &&
                   (dropped[t] < 0 || dropped[t] == entry.index);
        };
        for (size_t t = 0; t < count; ++t)
            if (isScored(t)) {
                low = std::min(low, entry.image.score[t]);
                high = std::max(high, entry.image.score[t]);
            }
        for (size_t t = 0; t < count; ++t)
            if (isScored(t)) {
                const double position = high > low ? (entry.image.score[t] - low) / (high - low) : 1.0;
                tintRect(out, patchRect(trace, static_cast<int>(t), scale), colormapColor(position),
                         style.heatmapAlpha);
            }
    }
    // With the heatmap on, merge groups keep only their outlines so the scores stay readable.
    if (style.showMerged && !style.showHeatmap)
        for (size_t t = 0; t < count; ++t)
            if (states[t] == TokenState::Merged)
                tintRect(out, patchRect(trace, static_cast<int>(t), scale), groupColor(representatives[t]),
                         kMergeTintAlpha);
    if (style.showPruned) {
        for (size_t t = 0; t < count; ++t)
            if (states[t] == TokenState::Pruned)
                tintRect(out, patchRect(trace, static_cast<int>(t), scale), kPrunedColor, style.dimAlpha);
        QPainter painter(&out);
        painter.setRenderHint(QPainter::Antialiasing);
        painter.setRenderHint(QPainter::TextAntialiasing);
        const int spacing = std::max(6, cellPx / 4);
        for (size_t t = 0; t < count; ++t)
            if (states[t] == TokenState::Pruned && trace.image.patchCell[t][0] >= 0)
                hatchRect(painter, patchRect(trace, static_cast<int>(t), scale), spacing);
        if (style.showDropLabels && cellPx >= 18)
            for (size_t t = 0; t < count; ++t)
                if (states[t] == TokenState::Pruned && trace.image.patchCell[t][0] >= 0)
                    drawCellLabel(painter, patchRect(trace, static_cast<int>(t), scale),
                                  QStringLiteral("L%1").arg(dropped[t]));
    }
    if (style.showGrid)
        drawGrid(out, trace, scale);
    if (style.showMerged) {
        std::vector<int> cellClass(static_cast<size_t>(trace.image.gridHeight) * trace.image.gridWidth, -1);
        for (size_t t = 0; t < count; ++t)
            if (states[t] == TokenState::Merged && trace.image.patchCell[t][0] >= 0)
                cellClass[static_cast<size_t>(trace.image.patchCell[t][0]) * trace.image.gridWidth + trace.image.patchCell[t][1]] =
                    representatives[t];
        drawRegionOutlines(out, trace, scale, cellClass, groupColor);
        if (cellPx >= 24)
            drawGroupSizes(out, trace, scale, states, representatives);
    }
    return out;
}

QImage renderComparisonDiff(const ImageU8& image, const Trace& traceA, const Trace& traceB, int layer,
                            int scale) {
    validateTrace(traceA, layer);
    validateTrace(traceB, layer);
    if (traceA.image.gridHeight != traceB.image.gridHeight || traceA.image.gridWidth != traceB.image.gridWidth ||
        traceA.image.patchSize != traceB.image.patchSize || traceA.image.patchCell != traceB.image.patchCell)
        fail("compare needs the same patch grid, got " + std::to_string(traceA.image.gridHeight) + "x" +
             std::to_string(traceA.image.gridWidth) + " and " + std::to_string(traceB.image.gridHeight) + "x" +
             std::to_string(traceB.image.gridWidth));
    OverlayStyle style;
    style.scale = scale;
    const int outScale = overlayScale(traceA, style);
    QImage out = scaledBase(image, traceA, outScale);
    const std::vector<int>& ownerA = traceA.layers[layer].image.owner;
    const std::vector<int>& ownerB = traceB.layers[layer].image.owner;
    enum { kOnlyA = 0, kOnlyB = 1 };
    std::vector<int> cellClass(static_cast<size_t>(traceA.image.gridHeight) * traceA.image.gridWidth, -1);
    for (size_t t = 0; t < ownerA.size(); ++t) {
        const QRect rect = patchRect(traceA, static_cast<int>(t), outScale);
        if (rect.isEmpty())
            continue;
        const bool inA = ownerA[t] >= 0, inB = ownerB[t] >= 0;
        const size_t cell = static_cast<size_t>(traceA.image.patchCell[t][0]) * traceA.image.gridWidth + traceA.image.patchCell[t][1];
        if (inA && !inB) {
            tintRect(out, rect, kDiffOnlyAColor, kDiffTintAlpha);
            cellClass[cell] = kOnlyA;
        } else if (inB && !inA) {
            tintRect(out, rect, kDiffOnlyBColor, kDiffTintAlpha);
            cellClass[cell] = kOnlyB;
        } else if (!inA && !inB) {
            tintRect(out, rect, kPrunedColor, OverlayStyle{}.dimAlpha);
        }
    }
    drawRegionOutlines(out, traceA, outScale, cellClass,
                       [](int kind) { return kind == kOnlyA ? kDiffOnlyAColor : kDiffOnlyBColor; });
    return out;
}

QImage toQImage(const ImageU8& image) {
    if (image.width <= 0 || image.height <= 0 || image.channels < 1 || image.channels > 4)
        fail("image is " + std::to_string(image.width) + "x" + std::to_string(image.height) + " with " +
             std::to_string(image.channels) + " channels");
    const size_t expected = static_cast<size_t>(image.width) * image.height * image.channels;
    if (image.pixels.size() != expected)
        fail("image has " + std::to_string(image.pixels.size()) + " bytes, expected " + std::to_string(expected));
    QImage out(image.width, image.height, QImage::Format_RGB888);
    const int channels = image.channels;
    for (int y = 0; y < image.height; ++y) {
        uchar* line = out.scanLine(y);
        const uint8_t* source = image.pixels.data() + static_cast<size_t>(y) * image.width * channels;
        for (int x = 0; x < image.width; ++x) {
            const uint8_t* p = source + static_cast<size_t>(x) * channels;
            const bool isGrey = channels < 3;
            line[3 * x + 0] = p[0];
            line[3 * x + 1] = isGrey ? p[0] : p[1];
            line[3 * x + 2] = isGrey ? p[0] : p[2];
        }
    }
    return out;
}

ImageU8 fromQImage(const QImage& image) {
    if (image.isNull())
        fail("cannot convert a null QImage");
    const QImage rgb = image.convertToFormat(QImage::Format_RGB888);
    ImageU8 out;
    out.width = rgb.width();
    out.height = rgb.height();
    out.channels = 3;
    out.pixels.resize(static_cast<size_t>(out.width) * out.height * 3);
    for (int y = 0; y < out.height; ++y)
        std::copy_n(rgb.constScanLine(y), static_cast<size_t>(out.width) * 3,
                    out.pixels.data() + static_cast<size_t>(y) * out.width * 3);
    return out;
}

}  // namespace tokenscope
