#pragma once

// Pictures of what a visual-token method (HiRED, its spatial / random baselines, or the full
// model) did to one LLaVA-NeXT image, drawn from an ImageReductionRecord (core/engine/generation.h):
// the full image and every AnyRes tile side by side, each with its p×p token cells shaded (kept,
// dropped by the method, removed with the padding) or with a CLS-attention heatmap, and under
// each partition a caption and a budget bar (budget vs kept, out of the partition's N tokens).
//
// Thread: reentrant (QImage + QPainter, no shared state), may run off the GUI thread; text
// drawing needs a QGuiApplication (the offscreen platform is enough).
// Errors: a record whose partitions disagree with its patch grid (index out of range, an
// attention map of the wrong length, no partitions) throws tokenscope::Error with one line.

#include <vector>

#include <QColor>
#include <QImage>
#include <QRect>
#include <QString>

#include "engine/generation.h"
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
};

// What became of one token of a partition.
enum class VisualTokenState { Kept, RemovedWithPadding, Dropped };

// Colours of the board, for the window's own keys and for tests.
inline const QColor kPaddingColor{128, 128, 136};      // the canvas padding beyond the image
inline const QColor kRemovedWithPaddingColor{96, 96, 110};
inline const QColor kBudgetBarColor{170, 206, 232};    // the budget, light blue
inline const QColor kKeptBarColor{0, 114, 178};        // kept tokens, Okabe-Ito blue
inline const QColor kTileOutlineColor{240, 228, 66};   // Okabe-Ito yellow

// Throws Error when the record cannot be drawn (see the file comment).
void validateReductionRecord(const ImageReductionRecord& record);

// Per token t of a partition (N = patchGrid²): Kept when t is in `kept`, RemovedWithPadding when
// it was selected but unpadding removed it, Dropped otherwise.
std::vector<VisualTokenState> partitionTokenStates(const PartitionRecord& partition, int tokenCount);

// "full image" or "tile 0,1" (row, column as the record numbers them).
QString partitionName(const PartitionRecord& partition);

struct TileBoard {
    QImage picture;                     // Format_RGB32, at most style.widthPx × style.maxHeightPx
    std::vector<QRect> partitionRects;  // where each partition's region lies in the picture, record order
    std::vector<QRect> budgetBarRects;  // each partition's budget bar
};

// The full image on the left (tile rectangles drawn over it), the tiles on the right in their
// grid, all at one scale so the tiles read as the full image cut into pieces; the image is any
// size with 1, 3 or 4 channels and must be the one the record was made of.
TileBoard renderTileBoard(const ImageU8& image, const ImageReductionRecord& record, const TileBoardStyle& style = {});

// A key for the board: the cell states (or the colormap bar, low..high within a partition) and
// the budget bar's two parts, wrapped to widthPx.
QImage renderTileLegend(const TileBoardStyle& style, int widthPx);

}  // namespace tokenscope
