#pragma once

// The overlay of a trace whose image stream is AnyRes regions (LLaVA-NeXT; core/engine/trace.h):
// the full image and every tile side by side, each with its p×p token cells shaded by their state
// at one layer of the trace (kept, dropped by the method, removed with the padding) or with a
// CLS-attention heatmap (the scores of the trace's vision layers), and under each region a caption
// and a budget bar (budget vs kept, out of the region's N tokens). viz/overlay.h draws patch grids.
//
// Thread: reentrant (QImage + QPainter, no shared state), may run off the GUI thread; text
// drawing needs a QGuiApplication (the offscreen platform is enough).
// Errors: a trace without regions, regions that disagree with each other or with the layers'
// owners and scores, or a layer out of range throws tokenscope::Error with one line.

#include <vector>

#include <QColor>
#include <QImage>
#include <QRect>
#include <QString>

#include "engine/trace.h"
#include "image/pil_resample.h"

namespace tokenscope {

// What a partition's cells show.
enum class TileShading {
    Tokens,            // kept / dropped / removed with the padding
    AttentionInitial,  // CLS attention of vision layer 0 (HiRED's budget signal)
    AttentionFinal,    // CLS attention of the feature layer (HiRED's selection signal)
};
// Heatmaps are normalised min..max within each partition (the selection ranks tokens within a
// partition); kept cells keep a white outline so the selection stays visible.

struct TileBoardStyle {
    TileShading shading = TileShading::Tokens;
    bool showTileOutlines = true;  // the tiles' rectangles drawn over the full image, labelled
    double dimAlpha = 0.72;        // dropped cells blended towards kPrunedColor by this much
    double heatmapAlpha = 0.62;    // the colormap blended over the image by this much
    int widthPx = 1200;            // the picture's width at most; the height follows from the layout
    int maxHeightPx = 0;           // > 0: the picture's height at most (the layout shrinks to fit)
    int layer = -1;                // the trace layer whose token states are drawn (-1: the last)
};

// What became of one token of a partition.
enum class VisualTokenState { Kept, RemovedWithPadding, Dropped };

// Colours of the board, for the window's own keys and for tests.
inline const QColor kPaddingColor{128, 128, 136};      // the canvas padding beyond the image
inline const QColor kRemovedWithPaddingColor{96, 96, 110};
inline const QColor kBudgetBarColor{170, 206, 232};    // the budget, light blue
inline const QColor kKeptBarColor{0, 114, 178};        // kept tokens, Okabe-Ito blue
inline const QColor kTileOutlineColor{240, 228, 66};   // Okabe-Ito yellow

// Throws Error when the trace cannot be drawn at `layer` (-1: the last; see the file comment).
void validateRegionTrace(const Trace& trace, int layer);

// Per token t of region `region` at `layer` (-1: the last): Kept when it still has an owner,
// RemovedWithPadding when a padding-removing layer (unpad) pruned it, Dropped otherwise.
std::vector<VisualTokenState> regionTokenStates(const Trace& trace, int region, int layer);

// "full image" or "tile 0,1" (row, column as the trace numbers them).
QString regionName(const TraceRegion& region);

struct TileBoard {
    QImage picture;                     // Format_RGB32, at most style.widthPx × style.maxHeightPx
    std::vector<QRect> partitionRects;  // where each region lies in the picture, trace order
    std::vector<QRect> budgetBarRects;  // each partition's budget bar
};

// The full image on the left (tile rectangles drawn over it), the tiles on the right in their
// grid, all at one scale so the tiles read as the full image cut into pieces; the image is any
// size with 1, 3 or 4 channels and must be the one the trace was made of.
TileBoard renderTileBoard(const ImageU8& image, const Trace& trace, const TileBoardStyle& style = {});

// A key for the board: the cell states (or the colormap bar, low..high within a partition) and
// the budget bar's two parts, wrapped to widthPx.
QImage renderTileLegend(const TileBoardStyle& style, int widthPx);

}  // namespace tokenscope
