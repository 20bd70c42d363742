#pragma once

// A perceptually uniform, colour-blind friendly sequential colormap (viridis-like: dark blue ->
// teal -> yellow), from a 256-entry table of our own. Pure functions, thread-safe.

#include <QColor>
#include <QImage>

namespace tokenscope {

// t in [0, 1] (clamped; NaN gives the bottom colour) -> colour, linear between table entries.
QColor colormapColor(double t);
// The two ends, for tests and legends: colormapColor(0) and colormapColor(1).
QColor colormapBottom();
QColor colormapTop();
// A horizontal bar, bottom colour on the left, top on the right.
QImage colormapBar(int widthPx, int heightPx);

}  // namespace tokenscope
