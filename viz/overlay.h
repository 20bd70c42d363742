#pragma once

// Pictures drawn from a Trace (core/engine/trace.h): which image patches and text word pieces
// a token-reduction method keeps, prunes or merges at one encoder layer.
//
// Thread: every function is reentrant (QImage + QPainter, no shared state) and may run in a worker
// thread, but text drawing needs a QGuiApplication to exist (the offscreen platform is enough:
// `QT_QPA_PLATFORM=offscreen`, as `tokenscope-cli trace` does).
//
// Errors: a layer outside 0..layers.size()-1, or a trace whose vectors do not match its grid
// (patchCell vs imageOwner sizes, owners out of range, a cell outside the grid, ...), throws
// tokenscope::Error with a one-line message. Nothing here reads model state or includes torch.
//
// Geometry: original image token t >= 1 at patchCell[t] = (r, c) covers the resized-image pixels
// [c*ps, (c+1)*ps) x [r*ps, (r+1)*ps), ps = patchSize; an overlay at scale s multiplies that by s.
// The image CLS (patchCell (-1, -1)) has no cell; pages describe it in words.

#include <limits>
#include <vector>

#include <QColor>
#include <QImage>
#include <QPoint>
#include <QRect>
#include <QString>

#include "engine/trace.h"
#include "image/pil_resample.h"

namespace tokenscope {

struct OverlayStyle {
    bool showPruned = true;    // pruned patches dimmed + hatched, labelled with their drop layer ("L5")
    bool showMerged = true;    // merged patches tinted per group colour, with the group's outline and,
                               // when cells are >= 24 px, a "x5" badge (originals it holds)
    // The reducer's imageScore at this layer through the colormap (viz/colormap.h), normalised
    // min..max over the patches alive when the layer began (equal scores: top colour). Layers with
    // no scores draw none. While it is on, merge groups keep their outlines but lose the tint.
    bool showHeatmap = false;
    bool showGrid = false;     // thin patch-grid lines
    bool showDropLabels = true;  // the "L5" labels on pruned cells (only drawn when cells are big enough)
    double dimAlpha = 0.75;      // pruned = image blended towards kPrunedColor by this much
    double heatmapAlpha = 0.6;   // heatmap colour blended over the image by this much (1 = opaque)
    int scale = 0;  // output pixels per resized-image pixel; 0 = auto (long side near kAutoLongSidePx)
};

// What happened to one original token by a layer.
enum class TokenState { Kept, Merged, Pruned };

// Colours, exposed for tests and for the window's own legends. A kept patch is the image pixel
// unchanged; a pruned one is the image blended towards kPrunedColor by OverlayStyle::dimAlpha; a
// merged one is the image blended with groupColor(representative) by kMergeTintAlpha.
inline const QColor kPrunedColor{18, 18, 24};
constexpr double kMergeTintAlpha = 0.45;
// Compare mode (Okabe-Ito, colour-blind safe): kept only by trace A / only by trace B.
inline const QColor kDiffOnlyAColor{230, 159, 0};  // orange
inline const QColor kDiffOnlyBColor{0, 114, 178};  // blue
constexpr double kDiffTintAlpha = 0.6;
constexpr int kAutoLongSidePx = 768;

// A distinct, saturated colour per merge group, a pure function of the group's representative
// (so the same group has the same colour in every layer and every picture).
QColor groupColor(int representative);

// Throws Error when the trace's vectors disagree with its grid or `layer` is out of range.
void validateTrace(const Trace& trace, int layer);

// Per original image token at `layer`: Kept, Merged (its current token holds more than one
// original image token) or Pruned (owner -1).
std::vector<TokenState> imageTokenStates(const Trace& trace, int layer);
std::vector<TokenState> textTokenStates(const Trace& trace, int layer);

// Per original image token at `layer`: the representative of its merge group (-1 when pruned; the
// token itself when alone). Stable across layers: when groups join, the joined group keeps the
// representative of its largest part from the previous layer (ties: the smaller representative),
// so a growing group keeps its colour. textGroupRepresentatives does the same for word pieces.
std::vector<int> imageGroupRepresentatives(const Trace& trace, int layer);
std::vector<int> textGroupRepresentatives(const Trace& trace, int layer);

// Per original token: the TraceLayer::layer it was pruned in by `layer` (-1 = not pruned yet).
std::vector<int> imageDropLayers(const Trace& trace, int layer);

// The scale renderLayerOverlay uses for this style (resolves scale 0).
int overlayScale(const Trace& trace, const OverlayStyle& style);
// The output-pixel rectangle of original image token `token` (empty for the image CLS), and the
// original image token under an output pixel (-1 outside the grid): for hover and clicks.
QRect patchRect(const Trace& trace, int token, int scale);
int imageTokenAt(const Trace& trace, QPoint pixel, int scale);

// The image (any size; 1, 3 or 4 channels) smoothly resized to resizedWidth x resizedHeight
// times the scale, with the overlay of `layer`. Format RGB32; size = resized size * scale.
QImage renderLayerOverlay(const ImageU8& image, const Trace& trace, int layer,
                          const OverlayStyle& style = {});

// Compare mode: patches still present (kept or merged) in A but pruned in B tinted
// kDiffOnlyAColor, present in B only kDiffOnlyBColor, present in both unchanged, pruned in both
// dimmed. Both traces need the same patch grid (Error otherwise, e.g. smres vs. full resolution)
// and `layer` in both. scale 0 = auto.
QImage renderComparisonDiff(const ImageU8& image, const Trace& traceA, const Trace& traceB,
                            int layer, int scale = 0);
// A one-row key for the diff: "only <nameA>", "only <nameB>", "both", "neither".
QImage renderDiffLegend(const QString& nameA, const QString& nameB, int widthPx);

// The question's word pieces at `layer` as chips wrapped to `widthPx`: merged ones share their
// group's colour and an underline bracket, pruned ones are greyed, struck through and labelled
// with their drop layer. The height follows from the wrapping.
QImage renderTextStrip(const Trace& trace, int layer, int widthPx);

// A compact key: kept / pruned / merged swatches (as enabled in the style) and, with the heatmap
// on, the colormap bar labelled scoreMin..scoreMax (or "low".."high" when they are NaN).
QImage renderLegend(const OverlayStyle& style, int widthPx, float scoreMin = std::numeric_limits<float>::quiet_NaN(),
                    float scoreMax = std::numeric_limits<float>::quiet_NaN());

// One page for slides / `tokenscope-cli trace`: title, a line of counts and the image CLS state,
// the overlay, the text strip, the legend. White background, dark text, pixel-sized sans fonts.
QImage renderLayerPage(const ImageU8& image, const Trace& trace, int layer, const QString& title,
                       const OverlayStyle& style = {});

// Conversions between core's plain buffer and QImage (deep copies).
QImage toQImage(const ImageU8& image);    // Format_RGB888 (grey expanded, alpha dropped)
ImageU8 fromQImage(const QImage& image);  // RGB, 3 channels

}  // namespace tokenscope
