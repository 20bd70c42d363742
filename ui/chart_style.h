#pragma once

// The set-up every chart of the window shares: a QCustomPlot with a small, translucent legend
// inside the axis rectangle. Thread: GUI thread.

#include <QString>
#include <Qt>

class QCustomPlot;
class QWidget;

namespace tokenscope {

struct ChartStyle {
    int minimumHeight = 140;
    Qt::Alignment legendAlignment = Qt::AlignTop | Qt::AlignLeft;
    int legendAlpha = 210;         // the legend's white background, 0..255
    bool tightLegendRows = true;   // no spacing between legend rows
    QString xLabel, yLabel;
};

QCustomPlot* makeChart(QWidget* parent, const ChartStyle& style);

}  // namespace tokenscope
