// Legends, the word-piece strip and whole layer pages (split from overlay.cpp).

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

using namespace detail;

QImage detail::renderKeyItems(const std::vector<KeyItem>& items, int widthPx) {
    if (widthPx <= 0)
        fail("legend width must be positive, got " + std::to_string(widthPx));
    const QFont font = sansFont(15);
    const QFontMetrics metrics(font);
    const int rowHeight = std::max(metrics.height(), 20) + 10;
    const int margin = 8, gap = 22, swatchHeight = 20;
    std::vector<QPoint> origins;
    int x = margin, y = margin;
    for (const KeyItem& item : items) {
        const int itemWidth = item.swatchWidthPx + 8 + metrics.horizontalAdvance(item.label);
        if (x > margin && x + itemWidth > widthPx - margin) {
            x = margin;
            y += rowHeight;
        }
        origins.emplace_back(x, y);
        x += itemWidth + gap;
    }
    QImage out(widthPx, y + rowHeight + margin - 10, QImage::Format_RGB32);
    out.fill(kPageBackground);
    QPainter painter(&out);
    painter.setRenderHint(QPainter::Antialiasing);
    painter.setRenderHint(QPainter::TextAntialiasing);
    painter.setFont(font);
    for (size_t i = 0; i < items.size(); ++i) {
        const QRect swatch(origins[i].x(), origins[i].y() + (rowHeight - 10 - swatchHeight) / 2,
                           items[i].swatchWidthPx, swatchHeight);
        painter.save();
        items[i].drawSwatch(painter, swatch);
        painter.restore();
        painter.setPen(QPen(kMutedInkColor, 1));
        painter.setBrush(Qt::NoBrush);
        painter.drawRect(QRectF(swatch).adjusted(0.5, 0.5, -0.5, -0.5));
        painter.setPen(kInkColor);
        painter.drawText(QRect(swatch.right() + 9, origins[i].y(), widthPx, rowHeight - 10),
                         Qt::AlignLeft | Qt::AlignVCenter, items[i].label);
    }
    return out;
}

namespace {

QString formatScore(float value) {
    return QString::number(static_cast<double>(value), 'g', 3);
}

}  // namespace

QImage renderLegend(const OverlayStyle& style, int widthPx, float scoreMin, float scoreMax) {
    std::vector<KeyItem> items;
    items.push_back({[](QPainter& p, const QRect& r) { p.fillRect(r, kKeptSwatchColor); }, QStringLiteral("kept")});
    if (style.showPruned)
        items.push_back({[&style](QPainter& p, const QRect& r) {
                             p.fillRect(r, blend(kKeptSwatchColor, kPrunedColor, style.dimAlpha));
                             hatchRect(p, r, 6);
                         },
                         QStringLiteral("pruned (Ln = layer it was dropped in)")});
    if (style.showMerged)
        items.push_back({[](QPainter& p, const QRect& r) {
                             const int third = r.width() / 3;
                             for (int i = 0; i < 3; ++i)
                                 p.fillRect(QRect(r.x() + i * third, r.y(), i == 2 ? r.width() - 2 * third : third,
                                                  r.height()),
                                            blend(kKeptSwatchColor, groupColor(i + 1), kMergeTintAlpha));
                         },
                         style.showHeatmap
                             ? QStringLiteral("merged (outline per group, \u00d7n = patches in it)")
                             : QStringLiteral("merged (one colour + outline per group, \u00d7n = patches in it)"),
                         42});
    if (style.showHeatmap) {
        const bool hasRange = std::isfinite(scoreMin) && std::isfinite(scoreMax);
        const QString label = hasRange ? QStringLiteral("score %1 \u2192 %2").arg(formatScore(scoreMin), formatScore(scoreMax))
                                       : QStringLiteral("score low \u2192 high");
        items.push_back({[](QPainter& p, const QRect& r) { p.drawImage(r, colormapBar(r.width(), r.height())); },
                         label, 120});
    }
    return renderKeyItems(items, widthPx);
}

QImage renderDiffLegend(const QString& nameA, const QString& nameB, int widthPx) {
    std::vector<KeyItem> items;
    items.push_back({[](QPainter& p, const QRect& r) { p.fillRect(r, blend(kKeptSwatchColor, kDiffOnlyAColor, kDiffTintAlpha)); },
                     QStringLiteral("kept only by %1").arg(nameA)});
    items.push_back({[](QPainter& p, const QRect& r) { p.fillRect(r, blend(kKeptSwatchColor, kDiffOnlyBColor, kDiffTintAlpha)); },
                     QStringLiteral("kept only by %1").arg(nameB)});
    items.push_back({[](QPainter& p, const QRect& r) { p.fillRect(r, kKeptSwatchColor); }, QStringLiteral("kept by both")});
    items.push_back({[](QPainter& p, const QRect& r) { p.fillRect(r, blend(kKeptSwatchColor, kPrunedColor, OverlayStyle{}.dimAlpha)); },
                     QStringLiteral("pruned by both")});
    return renderKeyItems(items, widthPx);
}

QImage renderTextStrip(const Trace& trace, int layer, int widthPx) {
    validateTrace(trace, layer);
    if (widthPx <= 0)
        fail("text strip width must be positive, got " + std::to_string(widthPx));
    const std::vector<TokenState> states = statesFrom(trace.layers[layer].text.owner);
    const std::vector<int> representatives = representativesFrom(trace, layer, false);
    const std::vector<int> dropped = dropLayersFrom(trace, layer, false);

    const QFont font = sansFont(18);
    const QFont smallFont = sansFont(12, true);
    const QFontMetrics metrics(font), smallMetrics(smallFont);
    const int margin = 8, padding = 8, gap = 6;
    const int chipHeight = metrics.height() + 10;
    const int underline = 5, rowHeight = chipHeight + underline + 10;
    const int maxChipWidth = std::max(widthPx - 2 * margin, 20);

    struct Chip {
        QRect rect;
        QString text, badge;
    };
    std::vector<Chip> chips(trace.text.labels.size());
    int x = margin, y = margin;
    for (size_t t = 0; t < chips.size(); ++t) {
        Chip& chip = chips[t];
        chip.badge = states[t] == TokenState::Pruned ? QStringLiteral("L%1").arg(dropped[t]) : QString();
        const int badgeWidth = chip.badge.isEmpty() ? 0 : smallMetrics.horizontalAdvance(chip.badge) + 4;
        const int room = maxChipWidth - 2 * padding - badgeWidth;
        chip.text = metrics.elidedText(QString::fromStdString(trace.text.labels[t]), Qt::ElideRight, room);
        const int chipWidth = metrics.horizontalAdvance(chip.text) + 2 * padding + badgeWidth;
        if (x > margin && x + chipWidth > widthPx - margin) {
            x = margin;
            y += rowHeight;
        }
        chip.rect = QRect(x, y, chipWidth, chipHeight);
        x += chipWidth + gap;
    }
    QImage out(widthPx, y + rowHeight + margin - 4, QImage::Format_RGB32);
    out.fill(kPageBackground);
    QPainter painter(&out);
    painter.setRenderHint(QPainter::Antialiasing);
    painter.setRenderHint(QPainter::TextAntialiasing);
    if (chips.empty()) {
        painter.setFont(font);
        painter.setPen(kMutedInkColor);
        painter.drawText(out.rect().adjusted(margin, 0, 0, 0), Qt::AlignLeft | Qt::AlignVCenter,
                         QStringLiteral("(no text tokens)"));
        return out;
    }
    for (size_t t = 0; t < chips.size(); ++t) {
        const Chip& chip = chips[t];
        const QRectF box = QRectF(chip.rect).adjusted(0.5, 0.5, -0.5, -0.5);
        QColor fill = kPageBackground, border(150, 150, 158), ink = kInkColor;
        Qt::PenStyle borderStyle = Qt::SolidLine;
        if (states[t] == TokenState::Merged) {
            const QColor colour = groupColor(representatives[t]);
            fill = blend(kPageBackground, colour, 0.35);
            border = colour.darker(130);
        } else if (states[t] == TokenState::Pruned) {
            fill = QColor(232, 232, 236);
            border = QColor(160, 160, 168);
            ink = QColor(135, 135, 145);
            borderStyle = Qt::DashLine;
        }
        painter.setPen(QPen(border, states[t] == TokenState::Merged ? 2 : 1.2, borderStyle));
        painter.setBrush(fill);
        painter.drawRoundedRect(box, 6, 6);
        painter.setFont(font);
        painter.setPen(ink);
        const QRect textRect(chip.rect.x() + padding, chip.rect.y(), metrics.horizontalAdvance(chip.text),
                             chip.rect.height());
        painter.drawText(textRect, Qt::AlignLeft | Qt::AlignVCenter, chip.text);
        if (states[t] == TokenState::Pruned) {
            painter.setPen(QPen(QColor(110, 110, 120), 2));
            const double middle = chip.rect.center().y() + 1;
            painter.drawLine(QPointF(textRect.left() - 2, middle), QPointF(textRect.right() + 2, middle));
            painter.setFont(smallFont);
            painter.setPen(QColor(110, 110, 120));
            painter.drawText(QRect(textRect.right() + 4, chip.rect.y() + 3, chip.rect.width(), chip.rect.height()),
                             Qt::AlignLeft | Qt::AlignTop, chip.badge);
        }
    }
    // Underline brackets: one bar under each merged chip, joined to the next chip of its group when
    // that one follows on the same row, with end ticks so a group reads as one bracket.
    for (size_t t = 0; t < chips.size(); ++t) {
        if (states[t] != TokenState::Merged)
            continue;
        const QColor colour = groupColor(representatives[t]);
        const QRect& rect = chips[t].rect;
        const int barTop = rect.bottom() + 4;
        int right = rect.right();
        const bool joinsNext = t + 1 < chips.size() && states[t + 1] == TokenState::Merged &&
                               representatives[t + 1] == representatives[t] && chips[t + 1].rect.y() == rect.y();
        const bool joinsPrevious = t > 0 && states[t - 1] == TokenState::Merged &&
                                   representatives[t - 1] == representatives[t] && chips[t - 1].rect.y() == rect.y();
        if (joinsNext)
            right = chips[t + 1].rect.left();
        painter.fillRect(QRect(rect.left(), barTop, right - rect.left() + 1, underline), colour);
        if (!joinsPrevious)
            painter.fillRect(QRect(rect.left(), barTop - 5, 3, underline + 5), colour);
        if (!joinsNext)
            painter.fillRect(QRect(rect.right() - 2, barTop - 5, 3, underline + 5), colour);
    }
    return out;
}

QImage renderLayerPage(const ImageU8& image, const Trace& trace, int layer, const QString& title,
                       const OverlayStyle& style) {
    validateTrace(trace, layer);
    const QImage overlay = renderLayerOverlay(image, trace, layer, style);
    const TraceLayer& entry = trace.layers[layer];
    const int margin = 24;
    const int width = std::max(overlay.width(), 720) + 2 * margin;
    const int innerWidth = width - 2 * margin;

    // The counts line: what this layer leaves of the patches and the question, and the image CLS.
    const std::vector<TokenState> imageStates = statesFrom(entry.image.owner);
    const std::vector<TokenState> textStates = statesFrom(entry.text.owner);
    const std::vector<int> representatives = representativesFrom(trace, layer, true);
    int kept = 0, merged = 0, pruned = 0, patches = 0;
    std::vector<int> groups;
    QString clsState = QStringLiteral("none");
    for (size_t t = 0; t < imageStates.size(); ++t) {
        if (trace.image.patchCell[t][0] < 0) {
            clsState = stateWord(imageStates[t]);
            continue;
        }
        ++patches;
        if (imageStates[t] == TokenState::Kept)
            ++kept;
        else if (imageStates[t] == TokenState::Pruned)
            ++pruned;
        else {
            ++merged;
            groups.push_back(representatives[t]);
        }
    }
    std::sort(groups.begin(), groups.end());
    groups.erase(std::unique(groups.begin(), groups.end()), groups.end());
    const auto textPruned = std::count(textStates.begin(), textStates.end(), TokenState::Pruned);
    const auto textMerged = std::count(textStates.begin(), textStates.end(), TokenState::Merged);
    QString counts = QStringLiteral("%1 patches: %2 kept, %3 merged into %4 group%10, %5 pruned  \u00b7  "
                                    "%6 word pieces: %7 merged, %8 pruned  \u00b7  image CLS (no cell): %9")
                         .arg(patches).arg(kept).arg(merged).arg(groups.size()).arg(pruned)
                         .arg(textStates.size()).arg(textMerged).arg(textPruned).arg(clsState)
                         .arg(groups.size() == 1 ? QString() : QStringLiteral("s"));
    if (style.showHeatmap && entry.image.score.empty())
        counts += QStringLiteral("  \u00b7  no scores at this layer");

    float scoreMin = std::numeric_limits<float>::quiet_NaN(), scoreMax = scoreMin;
    if (style.showHeatmap && !entry.image.score.empty()) {
        const std::vector<int> dropped = dropLayersFrom(trace, layer, true);
        for (size_t t = 0; t < entry.image.score.size(); ++t)
            if (trace.image.patchCell[t][0] >= 0 && std::isfinite(entry.image.score[t]) &&
                (dropped[t] < 0 || dropped[t] == entry.index)) {
                scoreMin = std::isnan(scoreMin) ? entry.image.score[t] : std::min(scoreMin, entry.image.score[t]);
                scoreMax = std::isnan(scoreMax) ? entry.image.score[t] : std::max(scoreMax, entry.image.score[t]);
            }
    }
    const QImage strip = renderTextStrip(trace, layer, innerWidth);
    const QImage legend = renderLegend(style, innerWidth, scoreMin, scoreMax);

    const QFont titleFont = sansFont(26, true), countsFont = sansFont(16), headingFont = sansFont(15, true);
    const int flags = Qt::AlignLeft | Qt::TextWordWrap;
    const QRect titleBox = QFontMetrics(titleFont).boundingRect(QRect(0, 0, innerWidth, 10000), flags, title);
    const QRect countsBox = QFontMetrics(countsFont).boundingRect(QRect(0, 0, innerWidth, 10000), flags, counts);
    const int headingHeight = QFontMetrics(headingFont).height();

    int y = margin;
    const int titleY = y;
    y += titleBox.height() + 6;
    const int countsY = y;
    y += countsBox.height() + 14;
    const int overlayY = y;
    y += overlay.height() + 16;
    const int questionY = y;
    y += headingHeight + 2;
    const int stripY = y;
    y += strip.height() + 6;
    const int legendY = y;
    y += legend.height() + margin / 2;

    QImage page(width, y, QImage::Format_RGB32);
    page.fill(kPageBackground);
    QPainter painter(&page);
    painter.setRenderHint(QPainter::Antialiasing);
    painter.setRenderHint(QPainter::TextAntialiasing);
    painter.setPen(kInkColor);
    painter.setFont(titleFont);
    painter.drawText(QRect(margin, titleY, innerWidth, titleBox.height()), flags, title);
    painter.setFont(countsFont);
    painter.setPen(kMutedInkColor);
    painter.drawText(QRect(margin, countsY, innerWidth, countsBox.height()), flags, counts);
    painter.drawImage(margin + (innerWidth - overlay.width()) / 2, overlayY, overlay);
    painter.setFont(headingFont);
    painter.setPen(kInkColor);
    painter.drawText(QRect(margin + 8, questionY, innerWidth, headingHeight), Qt::AlignLeft | Qt::AlignVCenter,
                     QStringLiteral("Question word pieces"));
    painter.drawImage(margin, stripY, strip);
    painter.drawImage(margin, legendY, legend);
    return page;
}


}  // namespace tokenscope
