#include "ui/tradeoff_chart.h"

#include <QLabel>
#include <QToolTip>
#include <QVBoxLayout>

#include <qcustomplot.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "viz/sweep_chart.h"

namespace tokenscope {

namespace {

const QColor kCurrentColor{20, 20, 20};
const QColor kCurrentFill{255, 221, 0};  // yellow star: stands out from every method colour
const QColor kReferenceColor{150, 150, 150};

QString percent(double fraction) { return QStringLiteral("%1%").arg(100.0 * fraction, 0, 'f', 1); }

// A five-pointed star for the current configuration's marker. QCustomPlot scales a custom
// scatter path by size / 6, so an outer radius of 3 spans the scatter size.
QPainterPath starPath(double radius)
{
    QPainterPath path;
    for (int i = 0; i < 10; ++i) {
        const double r = i % 2 ? radius * 0.45 : radius;
        const double angle = i * 3.14159265358979323846 / 5;
        const QPointF point(r * std::sin(angle), -r * std::cos(angle));
        if (i == 0)
            path.moveTo(point);
        else
            path.lineTo(point);
    }
    path.closeSubpath();
    return path;
}

}  // namespace

TradeoffChart::TradeoffChart(QWidget* parent) : QWidget(parent)
{
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->setSpacing(2);
    m_plot = new QCustomPlot(this);
    m_plot->setMinimumHeight(150);
    m_plot->setNoAntialiasingOnDrag(true);
    m_plot->legend->setVisible(true);
    QFont legendFont = m_plot->font();
    legendFont.setPointSizeF(legendFont.pointSizeF() * 0.85);
    m_plot->legend->setFont(legendFont);
    // The legend below the axes, in rows of three, so it never hides a point.
    m_plot->legend->setBrush(Qt::NoBrush);
    m_plot->legend->setBorderPen(Qt::NoPen);
    m_plot->legend->setFillOrder(QCPLayoutGrid::foColumnsFirst);
    m_plot->legend->setWrap(3);
    m_plot->plotLayout()->addElement(1, 0, m_plot->legend);
    m_plot->plotLayout()->setRowStretchFactor(1, 0.001);
    m_plot->xAxis->setLabel(tr("speed-up over the unreduced model (×)"));
    m_plot->yAxis->setLabel(tr("accuracy (%)"));
    m_pointLabel = new QLabel(this);
    m_pointLabel->setWordWrap(true);
    m_pointLabel->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_status = new QLabel(this);
    m_status->setWordWrap(true);
    m_status->setStyleSheet(QStringLiteral("color: #555;"));
    layout->addWidget(m_plot, 1);
    layout->addWidget(m_pointLabel);
    layout->addWidget(m_status);
    setToolTip(tr("Accuracy against speed-up for every method of a sweep; the star is the current configuration, "
                  "measured on the Shapes test split."));

    m_plot->setMouseTracking(true);
    connect(m_plot, &QCustomPlot::mouseMove, this, [this](QMouseEvent* event) {
        // The nearest point within 12 px: its settings, accuracy and throughput.
        const QPointF mouse = event->position();
        double best = 12.0;
        QString text;
        const auto consider = [&](double speedup, double accuracy, const QString& description) {
            const QPointF at(m_plot->xAxis->coordToPixel(speedup), m_plot->yAxis->coordToPixel(accuracy * 100));
            const double distance = std::hypot(at.x() - mouse.x(), at.y() - mouse.y());
            if (distance < best) {
                best = distance;
                text = description;
            }
        };
        for (const SweepRow& row : m_rows)
            consider(row.speedup, row.accuracy,
                     tr("%1\naccuracy %2, %3 examples/s (%4×)%5")
                         .arg(QString::fromStdString(row.settings), percent(row.accuracy))
                         .arg(row.examplesPerSecond, 0, 'f', 1).arg(row.speedup, 0, 'f', 2)
                         .arg(std::isnan(row.agreement) ? QString() : tr(", agreement %1").arg(percent(row.agreement))));
        if (m_current)
            consider(m_current->speedup, m_current->accuracy,
                     tr("current: %1\naccuracy %2, %3 examples/s here (%4×)")
                         .arg(m_current->settings, percent(m_current->accuracy))
                         .arg(m_current->examplesPerSecond, 0, 'f', 1).arg(m_current->speedup, 0, 'f', 2));
        if (text.isEmpty())
            QToolTip::hideText();
        else
            QToolTip::showText(event->globalPosition().toPoint(), text, m_plot);
    });
    rebuild();
}

void TradeoffChart::setSweep(const std::vector<SweepRow>& rows, const QString& sourceName)
{
    m_rows = rows;
    m_sourceName = sourceName;
    rebuild();
}

void TradeoffChart::clearSweep()
{
    m_rows.clear();
    m_sourceName.clear();
    rebuild();
}

void TradeoffChart::setCurrentPoint(const CurrentPoint& point)
{
    m_current = point;
    m_pointLabel->setText(tr("<b>Current</b> (%1): accuracy %2 (unreduced %3), %4× the unreduced speed "
                             "(%5 examples/s here), agreement %6, on %7 test scenes")
                              .arg(point.settings.toHtmlEscaped(), percent(point.accuracy), percent(point.unreducedAccuracy))
                              .arg(point.speedup, 0, 'f', 2).arg(point.examplesPerSecond, 0, 'f', 1)
                              .arg(percent(point.agreement)).arg(point.examples));
    rebuild();
}

void TradeoffChart::clearCurrentPoint()
{
    m_current.reset();
    m_pointLabel->clear();
    rebuild();
}

void TradeoffChart::setStatus(const QString& status) { m_status->setText(status); }

QString TradeoffChart::status() const { return m_status->text(); }

void TradeoffChart::rebuild()
{
    m_plot->clearPlottables();
    m_plot->clearItems();
    m_seriesMethods.clear();
    double xLow = std::numeric_limits<double>::max(), xHigh = std::numeric_limits<double>::lowest();
    double yLow = xLow, yHigh = xHigh;
    const auto extend = [&](double speedup, double accuracy) {
        xLow = std::min(xLow, speedup);
        xHigh = std::max(xHigh, speedup);
        yLow = std::min(yLow, accuracy * 100);
        yHigh = std::max(yHigh, accuracy * 100);
    };

    for (const std::string& method : sweepMethods(m_rows)) {
        const QColor color = sweepMethodColor(method);
        QVector<double> order, keys, values;
        for (const SweepRow& row : m_rows) {
            if (row.method != method || std::isnan(row.speedup))
                continue;
            order << order.size();
            keys << row.speedup;
            values << row.accuracy * 100;
            extend(row.speedup, row.accuracy);
        }
        if (keys.isEmpty())
            continue;
        m_seriesMethods.push_back(method);
        if (method == "none") {
            auto* reference = new QCPItemStraightLine(m_plot);
            reference->point1->setCoords(0, values.front());
            reference->point2->setCoords(1, values.front());
            reference->setPen(QPen(kReferenceColor, 1, Qt::DashLine));
            QCPGraph* graph = m_plot->addGraph();
            graph->setName(sweepMethodLabel(method));
            graph->setLineStyle(QCPGraph::lsNone);
            graph->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssDiamond, color, color, 11));
            graph->setData(keys, values);
            continue;
        }
        // A curve keeps the knob order even where the speed-up does not grow monotonically.
        auto* curve = new QCPCurve(m_plot->xAxis, m_plot->yAxis);
        curve->setName(sweepMethodLabel(method));
        curve->setPen(QPen(color, 2));
        curve->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, color, color, 6));
        curve->setData(order, keys, values);
    }
    if (m_current) {
        QCPGraph* graph = m_plot->addGraph();
        graph->setName(tr("current configuration"));
        graph->setLineStyle(QCPGraph::lsNone);
        QPen outline(kCurrentColor, 1.2);
        outline.setCosmetic(true);  // not scaled with the path
        graph->setScatterStyle(QCPScatterStyle(starPath(3), outline, QBrush(kCurrentFill), 22));
        graph->setData({m_current->speedup}, {m_current->accuracy * 100});
        extend(m_current->speedup, m_current->accuracy);
    }
    if (xLow > xHigh) {
        xLow = 0.5;
        xHigh = 2;
        yLow = 0;
        yHigh = 100;
    }
    const double xPad = std::max(0.05, (xHigh - xLow) * 0.06), yPad = std::max(1.0, (yHigh - yLow) * 0.08);
    m_plot->xAxis->setRange(std::max(0.0, xLow - xPad), xHigh + xPad);
    m_plot->yAxis->setRange(std::max(0.0, yLow - yPad), std::min(100.0, yHigh + yPad) + (yHigh + yPad > 100 ? 0.5 : 0));
    m_plot->legend->setVisible(m_plot->plottableCount() > 0);
    m_plot->replot(QCustomPlot::rpQueuedReplot);
}

}  // namespace tokenscope
