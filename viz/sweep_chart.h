#pragma once

// The trade-off figure of the PuMer paper from a sweep (tasks/eval/sweep_table.h): accuracy
// against throughput, one coloured series per method with its points joined in knob order and its
// strongest setting labelled, the unreduced model as a black diamond with a dashed line at its
// accuracy, labelled axes, a legend and a title. `tokenscope-cli eval --sweep` writes it as sweep.png.
//
// Thread: reentrant (QImage + QPainter); text needs a QGuiApplication (offscreen is enough).
// Errors: no rows, or a size below 320 x 240, throw tokenscope::Error.

#include <string>
#include <vector>

#include <QColor>
#include <QImage>
#include <QString>

#include "tasks/eval/sweep_table.h"

namespace tokenscope {

struct SweepChartOptions {
    int widthPx = 1200;
    int heightPx = 800;
    QString title;     // empty: "Accuracy against throughput"
    QString subtitle;  // e.g. the model, split, examples and batch; empty: none
};

// The colour of a method's series (Okabe-Ito, colour-blind safe; the unreduced point is pure
// black). The window's Trade-off chart uses the same colours. Markers are filled with it exactly.
QColor sweepMethodColor(const std::string& method);
// "unreduced", "PuMer", "ToMe", "random drop", "uniform drop", "smaller resolution"; else the name.
QString sweepMethodLabel(const std::string& method);

QImage renderSweepChart(const std::vector<SweepRow>& rows, const SweepChartOptions& options = {});

}  // namespace tokenscope
