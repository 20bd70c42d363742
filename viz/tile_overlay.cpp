#include "tile_overlay.h"

#include "colormap.h"
#include "draw_common.h"
#include "overlay.h"

#include <QFontMetrics>
#include <QObject>
#include <QPainter>
#include <QPen>

#include <algorithm>
#include <cmath>
#include <string>

namespace tokenscope {

using namespace detail;

namespace {

constexpr int kMarginPx = 12;
constexpr int kTileGapPx = 14;
constexpr int kSectionGapPx = 30;
constexpr int kBarHeightPx = 10;

int layerOf(const Trace& trace, int layer) { return layer < 0 ? int(trace.layers.size()) - 1 : layer; }

// The scores a shading draws: the first (CLIP layer 0) or last (the feature layer) vision layer with scores.
const std::vector<float>* shadingScores(const Trace& trace, TileShading shading)
{
    const std::vector<float>* found = nullptr;
    for (const TraceLayer& layer : trace.layers) {
        if (layer.stage != Stage::Vision || layer.image.score.empty())
            continue;
        found = &layer.image.score;
        if (shading == TileShading::AttentionInitial)
            break;
    }
    return found;
}

// What one region shows: its token states at the layer and its slice of the scores.
struct RegionCells {
    std::vector<VisualTokenState> states;
    const float* scores = nullptr;  // p² values or null
    int kept = 0;
};

// The rectangle of token cell t of a p×p grid laid over `panel`, with shared edges (no gaps).
QRect cellRect(const QRect& panel, int p, int t)
{
    const int row = t / p, column = t % p;
    const auto edge = [p](int origin, int extent, int i) { return origin + int(std::lround(double(extent) * i / p)); };
    const int left = edge(panel.x(), panel.width(), column), right = edge(panel.x(), panel.width(), column + 1);
    const int top = edge(panel.y(), panel.height(), row), bottom = edge(panel.y(), panel.height(), row + 1);
    return QRect(left, top, right - left, bottom - top);
}

QColor withAlpha(QColor colour, double alpha)
{
    colour.setAlphaF(float(std::clamp(alpha, 0.0, 1.0)));
    return colour;
}

// The caption under a panel: the name and the counts (on one line, or on two under a narrow
// panel), then the budget bar.
constexpr int kOneLineCaptionPx = 230;
int captionFontPx(int panelWidth) { return std::clamp(panelWidth / 15, 11, 16); }
int captionLines(int panelWidth) { return panelWidth < kOneLineCaptionPx ? 2 : 1; }
int captionHeight(int panelWidth)
{
    return 6 + captionLines(panelWidth) * QFontMetrics(sansFont(captionFontPx(panelWidth))).height() + 3 + kBarHeightPx + 8;
}

void drawRegion(QPainter& painter, const QImage& source, double sourceScale, int imageWidth, int imageHeight,
                const TraceRegion& partition, const QRect& panel)
{
    painter.fillRect(panel, kPaddingColor);
    const double left = std::max(0.0, partition.x), top = std::max(0.0, partition.y);
    const double right = std::min(double(imageWidth), partition.x + partition.width);
    const double bottom = std::min(double(imageHeight), partition.y + partition.height);
    if (right <= left || bottom <= top)
        return;
    const double k = panel.width() / partition.width;
    const QRectF target(panel.x() + (left - partition.x) * k, panel.y() + (top - partition.y) * k, (right - left) * k,
                        (bottom - top) * k);
    const QRectF sourceRect(left * sourceScale, top * sourceScale, (right - left) * sourceScale, (bottom - top) * sourceScale);
    painter.drawImage(target, source, sourceRect);
}

void drawCells(QPainter& painter, const RegionCells& cells, const QRect& panel, int p, const TileBoardStyle& style)
{
    const int count = p * p;
    const std::vector<VisualTokenState>& states = cells.states;
    const int hatchSpacing = std::clamp(panel.width() / p / 3, 4, 9);
    if (style.shading == TileShading::Tokens) {
        for (int t = 0; t < count; ++t) {
            const QRect cell = cellRect(panel, p, t);
            if (states[size_t(t)] == VisualTokenState::Dropped) {
                painter.fillRect(cell, withAlpha(kPrunedColor, style.dimAlpha));
                hatchRect(painter, cell, hatchSpacing);
            } else if (states[size_t(t)] == VisualTokenState::RemovedWithPadding) {
                painter.fillRect(cell, withAlpha(kRemovedWithPaddingColor, 0.6));
                painter.fillRect(cell, QBrush(QColor(255, 255, 255, 90), Qt::Dense6Pattern));
            }
        }
    } else {
        if (!cells.scores) {
            painter.fillRect(panel, withAlpha(kPrunedColor, 0.5));
            painter.setPen(Qt::white);
            painter.setFont(sansFont(captionFontPx(panel.width())));
            painter.drawText(panel, Qt::AlignCenter | Qt::TextWordWrap, QObject::tr("no attention map"));
        } else {
            const auto [low, high] = std::minmax_element(cells.scores, cells.scores + count);
            const double range = double(*high) - double(*low);
            for (int t = 0; t < count; ++t) {
                const double value = range > 0 ? (double(cells.scores[t]) - *low) / range : 1.0;
                painter.fillRect(cellRect(panel, p, t), withAlpha(colormapColor(value), style.heatmapAlpha));
            }
        }
    }
    // The kept regions' outer edges: a light band with a dark hairline outside it, so kept cells
    // stand out on light and dark images and on the heatmap alike.
    const int band = std::clamp(panel.width() / p / 16, 2, 4);
    const auto isKept = [&](int row, int column) {
        return row >= 0 && column >= 0 && row < p && column < p && states[size_t(row * p + column)] == VisualTokenState::Kept;
    };
    for (int t = 0; t < count; ++t) {
        const int row = t / p, column = t % p;
        if (!isKept(row, column))
            continue;
        const QRect cell = cellRect(panel, p, t);
        const bool sides[4] = {!isKept(row - 1, column), !isKept(row + 1, column), !isKept(row, column - 1), !isKept(row, column + 1)};
        const QRect bands[4] = {QRect(cell.x(), cell.y(), cell.width(), band), QRect(cell.x(), cell.bottom() + 1 - band, cell.width(), band),
                                QRect(cell.x(), cell.y(), band, cell.height()), QRect(cell.right() + 1 - band, cell.y(), band, cell.height())};
        const QRect hairlines[4] = {QRect(cell.x(), cell.y(), cell.width(), 1), QRect(cell.x(), cell.bottom(), cell.width(), 1),
                                    QRect(cell.x(), cell.y(), 1, cell.height()), QRect(cell.right(), cell.y(), 1, cell.height())};
        for (int side = 0; side < 4; ++side)
            if (sides[side])
                painter.fillRect(bands[side], QColor(255, 255, 255, 215));
        for (int side = 0; side < 4; ++side)
            if (sides[side])
                painter.fillRect(hairlines[side], QColor(0, 0, 0, 170));
    }

    // A faint token grid, so the cells read as tokens.
    painter.setPen(QPen(QColor(255, 255, 255, 70), 1));
    for (int i = 1; i < p; ++i) {
        const QRect column = cellRect(panel, p, i), row = cellRect(panel, p, i * p);
        painter.drawLine(column.left(), panel.top(), column.left(), panel.bottom());
        painter.drawLine(panel.left(), row.top(), panel.right(), row.top());
    }
    painter.setPen(QPen(QColor(0, 0, 0, 200), 1));
    painter.setBrush(Qt::NoBrush);
    painter.drawRect(QRectF(panel).adjusted(0.5, 0.5, -0.5, -0.5));
}

// The tiles' rectangles over the full image, each labelled with its grid position.
void drawTileOutlines(QPainter& painter, const std::vector<TraceRegion>& regions, const TraceRegion& full, const QRect& panel)
{
    const double k = panel.width() / full.width;
    painter.save();
    painter.setClipRect(panel);
    painter.setRenderHint(QPainter::Antialiasing, false);
    const QFont font = sansFont(std::clamp(panel.width() / 28, 10, 15), true);
    painter.setFont(font);
    const QFontMetrics metrics(font);
    for (const TraceRegion& tile : regions) {
        if (tile.isFullImage)
            continue;
        const QRect rect(int(std::lround(panel.x() + (tile.x - full.x) * k)), int(std::lround(panel.y() + (tile.y - full.y) * k)),
                         int(std::lround(tile.width * k)), int(std::lround(tile.height * k)));
        painter.setBrush(Qt::NoBrush);
        painter.setPen(QPen(QColor(0, 0, 0, 170), 4));
        painter.drawRect(rect.adjusted(2, 2, -2, -2));
        painter.setPen(QPen(kTileOutlineColor, 2, Qt::DashLine));
        painter.drawRect(rect.adjusted(2, 2, -2, -2));
        const QString label = QStringLiteral("%1,%2").arg(tile.row).arg(tile.column);
        const QRect visible = rect.intersected(panel);
        const QRect chip(visible.x() + 6, visible.y() + 6, metrics.horizontalAdvance(label) + 8, metrics.height() + 2);
        painter.fillRect(chip, QColor(0, 0, 0, 170));
        painter.setPen(kTileOutlineColor);
        painter.drawText(chip, Qt::AlignCenter, label);
    }
    painter.restore();
}

// The name and counts, then the budget bar: light = the budget, dark = kept, out of N tokens.
QRect drawCaption(QPainter& painter, const TraceRegion& partition, int kept, const QRect& panel, int tokenCount)
{
    const QFont font = sansFont(captionFontPx(panel.width()));
    const QFontMetrics metrics(font);
    const int lines = captionLines(panel.width());
    const QRect nameRect(panel.x(), panel.bottom() + 1 + 6, panel.width(), metrics.height());
    const QRect countsRect = lines == 1 ? nameRect : nameRect.translated(0, metrics.height());
    painter.setFont(sansFont(captionFontPx(panel.width()), true));
    const QString name = regionName(partition);
    const int nameWidth = QFontMetrics(painter.font()).horizontalAdvance(name);
    painter.setPen(kInkColor);
    painter.drawText(nameRect, Qt::AlignLeft | Qt::AlignVCenter, name);
    painter.setFont(font);
    painter.setPen(kMutedInkColor);
    const QString counts = lines == 1 ? QObject::tr("kept %1 · budget %2 / %3").arg(kept).arg(partition.budget).arg(tokenCount)
                                      : QObject::tr("kept %1 · budget %2").arg(kept).arg(partition.budget);
    const int room = std::max(0, lines == 1 ? panel.width() - nameWidth - 8 : panel.width());
    painter.drawText(countsRect, (lines == 1 ? Qt::AlignRight : Qt::AlignLeft) | Qt::AlignVCenter,
                     metrics.elidedText(counts, Qt::ElideRight, room));

    const QRect bar(panel.x(), countsRect.bottom() + 1 + 3, panel.width(), kBarHeightPx);
    painter.fillRect(bar, QColor(232, 232, 236));
    const auto part = [&](int tokens) { return int(std::lround(double(bar.width()) * std::min(tokens, tokenCount) / tokenCount)); };
    painter.fillRect(QRect(bar.x(), bar.y(), part(partition.budget), bar.height()), kBudgetBarColor);
    painter.fillRect(QRect(bar.x(), bar.y() + 2, part(kept), bar.height() - 4), kKeptBarColor);
    painter.setPen(QPen(kMutedInkColor, 1));
    painter.setBrush(Qt::NoBrush);
    painter.drawRect(QRectF(bar).adjusted(0.5, 0.5, -0.5, -0.5));
    return bar;
}

}  // namespace

void validateRegionTrace(const Trace& trace, int layer)
{
    const TraceStream& image = trace.image;
    if (image.regions.empty())
        fail("the trace has no image regions");
    if (image.imageWidth <= 0 || image.imageHeight <= 0)
        fail("the trace's image size is " + std::to_string(image.imageWidth) + "x" + std::to_string(image.imageHeight));
    if (trace.layers.empty())
        fail("the trace has no layers");
    const int at = layerOf(trace, layer);
    if (at < 0 || at >= int(trace.layers.size()))
        fail("layer " + std::to_string(layer) + " is out of range (the trace has " + std::to_string(trace.layers.size()) + " layers)");
    const int p = image.regions.front().tokensPerSide;
    int next = 0;
    for (size_t i = 0; i < image.regions.size(); ++i) {
        const TraceRegion& region = image.regions[i];
        const std::string name = "region " + std::to_string(i);
        if (region.tokensPerSide != p || p <= 0)
            fail(name + " has " + std::to_string(region.tokensPerSide) + " tokens per side, region 0 " + std::to_string(p));
        if (region.firstToken != next)
            fail(name + " starts at token " + std::to_string(region.firstToken) + ", not " + std::to_string(next));
        next += p * p;
        if (!(region.width > 0) || !(region.height > 0))
            fail(name + " has an empty rectangle");
        if (!region.isFullImage && (region.row < 0 || region.column < 0 || region.row >= std::max(1, image.tileRows) ||
                                    region.column >= std::max(1, image.tileColumns)))
            fail(name + ": tile " + std::to_string(region.row) + "," + std::to_string(region.column) + " outside the " +
                 std::to_string(image.tileRows) + "x" + std::to_string(image.tileColumns) + " grid");
    }
    for (size_t l = 0; l < trace.layers.size(); ++l) {
        const StreamStep& step = trace.layers[l].image;
        if (int(step.owner.size()) != next)
            fail("layer " + std::to_string(l) + " has " + std::to_string(step.owner.size()) + " image owners for " + std::to_string(next) + " tokens");
        if (!step.score.empty() && int(step.score.size()) != next)
            fail("layer " + std::to_string(l) + " has " + std::to_string(step.score.size()) + " scores for " + std::to_string(next) + " tokens");
    }
}

std::vector<VisualTokenState> regionTokenStates(const Trace& trace, int region, int layer)
{
    const TraceRegion& r = trace.image.regions.at(size_t(region));
    const int at = layerOf(trace, layer), count = r.tokensPerSide * r.tokensPerSide;
    std::vector<VisualTokenState> states(size_t(std::max(0, count)), VisualTokenState::Kept);
    const std::vector<int>& owner = trace.layers.at(size_t(at)).image.owner;
    for (int t = 0; t < count; ++t) {
        const size_t o = size_t(r.firstToken + t);
        if (o >= owner.size() || owner[o] >= 0)
            continue;
        const int dropped = o < trace.image.droppedAt.size() ? trace.image.droppedAt[o] : -1;
        const bool padding = dropped >= 0 && dropped <= at && trace.layers[size_t(dropped)].removesPadding;
        states[size_t(t)] = padding ? VisualTokenState::RemovedWithPadding : VisualTokenState::Dropped;
    }
    return states;
}

QString regionName(const TraceRegion& region)
{
    return region.isFullImage ? QObject::tr("full image") : QObject::tr("tile %1,%2").arg(region.row).arg(region.column);
}

TileBoard renderTileBoard(const ImageU8& image, const Trace& trace, const TileBoardStyle& style)
{
    validateRegionTrace(trace, style.layer);
    const TraceStream& record = trace.image;
    const std::vector<TraceRegion>& partitions = record.regions;
    const int layer = layerOf(trace, style.layer);
    if (style.widthPx < 200)
        fail("the board needs at least 200 px, got " + std::to_string(style.widthPx));
    if (image.width != record.imageWidth || image.height != record.imageHeight)
        fail("the image is " + std::to_string(image.width) + "x" + std::to_string(image.height) + " but the trace was made of " +
             std::to_string(record.imageWidth) + "x" + std::to_string(record.imageHeight));
    const int p = partitions.front().tokensPerSide;
    const int count = p * p;

    // Layout: the full image (or the first partition) on the left, the tiles in their grid on the
    // right, all at one scale k (picture pixels per original pixel), so the tiles read as the
    // full image cut into pieces; k is the largest that fits the width (and maxHeightPx).
    int fullIndex = 0;
    for (size_t i = 0; i < partitions.size(); ++i)
        if (partitions[i].isFullImage) {
            fullIndex = int(i);
            break;
        }
    const TraceRegion& full = partitions[size_t(fullIndex)];
    std::vector<int> tiles;
    for (int i = 0; i < int(partitions.size()); ++i)
        if (i != fullIndex)
            tiles.push_back(i);
    const int rows = std::max(1, record.tileRows), columns = std::max(1, record.tileColumns);
    const int available = style.widthPx - 2 * kMarginPx;
    const double tileWidth0 = tiles.empty() ? 0 : partitions[size_t(tiles.front())].width;
    const double tileHeight0 = tiles.empty() ? 0 : partitions[size_t(tiles.front())].height;
    const int gaps = tiles.empty() ? 0 : kSectionGapPx + (columns - 1) * kTileGapPx;
    const double widthScale = (available - gaps) / (full.width + columns * tileWidth0);
    double k = widthScale;
    for (int pass = 0; pass < 2; ++pass) {  // the captions' heights depend on the panels' widths
        k = widthScale;
        if (style.maxHeightPx > 0) {
            const int room = style.maxHeightPx - 2 * kMarginPx;
            k = std::min(k, (room - captionHeight(int(k * full.width))) / full.height);
            if (!tiles.empty())
                k = std::min(k, (room - rows * captionHeight(int(k * tileWidth0)) - (rows - 1) * kTileGapPx) / (rows * tileHeight0));
        }
        k = std::max(k, 1e-3);  // a room too small for the captions: the panels' minimum sizes
    }
    TileBoard board;
    board.partitionRects.resize(partitions.size());
    const int fullWidth = std::max(24, int(std::floor(k * full.width)));
    const int fullHeight = std::max(1, int(std::lround(fullWidth * full.height / full.width)));
    board.partitionRects[size_t(fullIndex)] = QRect(kMarginPx, kMarginPx, fullWidth, fullHeight);
    int width = kMarginPx + fullWidth + kMarginPx;
    int height = kMarginPx + fullHeight + captionHeight(fullWidth) + kMarginPx;
    if (!tiles.empty()) {
        const int tileWidth = std::max(12, int(std::floor(k * tileWidth0)));
        const int tileHeight = std::max(1, int(std::lround(tileWidth * tileHeight0 / tileWidth0)));
        const int caption = captionHeight(tileWidth);
        const int gridLeft = kMarginPx + fullWidth + kSectionGapPx;
        for (int index : tiles) {
            const TraceRegion& partition = partitions[size_t(index)];
            const int row = std::clamp(partition.row, 0, rows - 1), column = std::clamp(partition.column, 0, columns - 1);
            board.partitionRects[size_t(index)] = QRect(gridLeft + column * (tileWidth + kTileGapPx),
                                                        kMarginPx + row * (tileHeight + caption + kTileGapPx), tileWidth, tileHeight);
        }
        width = gridLeft + columns * tileWidth + (columns - 1) * kTileGapPx + kMarginPx;
        height = std::max(height, kMarginPx + rows * (tileHeight + caption) + (rows - 1) * kTileGapPx + kMarginPx);
    }

    // The source, downscaled once with area averaging when every panel shows it smaller.
    QImage source = toQImage(image);
    double scale = 0;
    for (size_t i = 0; i < partitions.size(); ++i)
        scale = std::max(scale, board.partitionRects[i].width() / partitions[i].width);
    double sourceScale = 1;
    if (scale < 1) {
        source = source.scaled(std::max(1, int(std::lround(image.width * scale))), std::max(1, int(std::lround(image.height * scale))),
                               Qt::IgnoreAspectRatio, Qt::SmoothTransformation);
        sourceScale = double(source.width()) / image.width;
    }

    board.picture = QImage(std::min(width, style.widthPx), height, QImage::Format_RGB32);
    board.picture.fill(kPageBackground);
    QPainter painter(&board.picture);
    painter.setRenderHint(QPainter::SmoothPixmapTransform);
    painter.setRenderHint(QPainter::TextAntialiasing);
    board.budgetBarRects.resize(partitions.size());
    const std::vector<float>* scores = style.shading == TileShading::Tokens ? nullptr : shadingScores(trace, style.shading);
    for (size_t i = 0; i < partitions.size(); ++i) {
        const TraceRegion& partition = partitions[i];
        const QRect& panel = board.partitionRects[i];
        RegionCells cells;
        cells.states = regionTokenStates(trace, int(i), layer);
        cells.kept = int(std::count(cells.states.begin(), cells.states.end(), VisualTokenState::Kept));
        if (scores)
            cells.scores = scores->data() + partition.firstToken;
        drawRegion(painter, source, sourceScale, image.width, image.height, partition, panel);
        drawCells(painter, cells, panel, p, style);
        if (int(i) == fullIndex && style.showTileOutlines && !tiles.empty())
            drawTileOutlines(painter, partitions, partition, panel);
        board.budgetBarRects[i] = drawCaption(painter, partition, cells.kept, panel, count);
    }
    return board;
}

QImage renderTileLegend(const TileBoardStyle& style, int widthPx)
{
    std::vector<KeyItem> items;
    const auto cell = [](const QColor& colour, double alpha, bool isHatched, bool isDotted) {
        return [=](QPainter& painter, const QRect& rect) {
            painter.fillRect(rect, kKeptSwatchColor);
            painter.fillRect(rect, withAlpha(colour, alpha));
            if (isHatched)
                hatchRect(painter, rect, 5);
            if (isDotted)
                painter.fillRect(rect, QBrush(QColor(255, 255, 255, 90), Qt::Dense6Pattern));
        };
    };
    if (style.shading == TileShading::Tokens) {
        items.push_back({cell(kKeptSwatchColor, 0, false, false), QObject::tr("kept (reaches the language model)")});
        items.push_back({cell(kPrunedColor, style.dimAlpha, true, false), QObject::tr("dropped by the method")});
        items.push_back({cell(kRemovedWithPaddingColor, 0.6, false, true), QObject::tr("selected, but padding: removed")});
    } else {
        const QString layer = style.shading == TileShading::AttentionInitial ? QObject::tr("layer 0") : QObject::tr("feature layer");
        items.push_back({[](QPainter& painter, const QRect& rect) { painter.drawImage(rect, colormapBar(rect.width(), rect.height())); },
                         QObject::tr("CLS attention, %1: low → high within each partition").arg(layer), 90});
        items.push_back({[](QPainter& painter, const QRect& rect) {
                             painter.fillRect(rect, colormapColor(0.5));
                             painter.setPen(QPen(Qt::white, 3));
                             painter.drawRect(QRectF(rect).adjusted(2, 2, -2, -2));
                         },
                         QObject::tr("kept")});
    }
    items.push_back({[](QPainter& painter, const QRect& rect) {
                         painter.fillRect(rect, QColor(232, 232, 236));
                         painter.fillRect(QRect(rect.x(), rect.y(), rect.width() * 3 / 4, rect.height()), kBudgetBarColor);
                         painter.fillRect(QRect(rect.x(), rect.y() + 4, rect.width() / 2, rect.height() - 8), kKeptBarColor);
                     },
                     QObject::tr("budget (light) and kept (dark) of the tokens"), 44});
    if (style.showTileOutlines)
        items.push_back({[](QPainter& painter, const QRect& rect) {
                             painter.fillRect(rect, QColor(90, 90, 100));
                             painter.setPen(QPen(kTileOutlineColor, 2, Qt::DashLine));
                             painter.drawRect(rect.adjusted(3, 3, -3, -3));
                         },
                         QObject::tr("tile")});
    return renderKeyItems(items, widthPx);
}

}  // namespace tokenscope
