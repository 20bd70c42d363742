#pragma once

// viz-internal: drawing helpers shared by overlay.cpp (patch overlays), legend.cpp (legends,
// text strip, pages) and tile_overlay.cpp (LLaVA tile boards). Not part of viz's API.

#include <functional>
#include <string>
#include <vector>

#include <QColor>
#include <QFont>
#include <QImage>
#include <QPainter>
#include <QString>

#include "overlay.h"

namespace tokenscope::detail {

inline const QColor kPageBackground{255, 255, 255};
inline const QColor kInkColor{28, 28, 32};
inline const QColor kMutedInkColor{95, 95, 105};
inline const QColor kKeptSwatchColor{200, 200, 200};  // stands for "the image, unchanged" in keys

[[noreturn]] void fail(const std::string& message);
QFont sansFont(int pixelSize, bool isBold = false);
QColor blend(const QColor& from, const QColor& to, double alpha);
std::vector<TokenState> statesFrom(const std::vector<int>& owner);
std::vector<int> representativesFrom(const Trace& trace, int layer, bool isImage);
std::vector<int> dropLayersFrom(const Trace& trace, int layer, bool isImage);
void hatchRect(QPainter& painter, const QRect& rect, int spacingPx);
QString stateWord(TokenState state);

// A left-to-right flow of key items (swatch + label) wrapped to a width, on the page background;
// used by the legends of overlay pictures and of LLaVA tile boards.
struct KeyItem {
    std::function<void(QPainter&, const QRect&)> drawSwatch;
    QString label;
    int swatchWidthPx = 28;
};
QImage renderKeyItems(const std::vector<KeyItem>& items, int widthPx);

}  // namespace tokenscope::detail
