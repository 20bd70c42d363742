#include "ui/chart_style.h"

#include <qcustomplot.h>

namespace tokenscope {

QCustomPlot* makeChart(QWidget* parent, const ChartStyle& style)
{
    auto* plot = new QCustomPlot(parent);
    plot->setMinimumHeight(style.minimumHeight);
    plot->setNoAntialiasingOnDrag(true);
    plot->legend->setVisible(true);
    QFont legendFont = plot->font();
    legendFont.setPointSizeF(legendFont.pointSizeF() * 0.85);
    plot->legend->setFont(legendFont);
    plot->legend->setBrush(QColor(255, 255, 255, style.legendAlpha));
    if (style.tightLegendRows)
        plot->legend->setRowSpacing(0);
    plot->axisRect()->insetLayout()->setInsetAlignment(0, style.legendAlignment);
    if (!style.xLabel.isEmpty())
        plot->xAxis->setLabel(style.xLabel);
    if (!style.yLabel.isEmpty())
        plot->yAxis->setLabel(style.yLabel);
    return plot;
}

}  // namespace tokenscope
