#include "viz/sweep_chart.h"

#include <QFontMetrics>
#include <QPainter>
#include <QPainterPath>
#include <QPolygonF>

#include <algorithm>
#include <cmath>
#include <functional>

#include "common/error.h"
#include "viz/draw_common.h"

namespace tokenscope {

namespace {

using detail::kInkColor;
using detail::kMutedInkColor;
using detail::sansFont;

const QColor kGridColor{232, 232, 236};
const QColor kReferenceLineColor{150, 150, 150};

struct Axis {
    double low = 0, high = 1, step = 0.1;
};

// Ticks at 1, 2, 2.5 or 5 times a power of ten, about `count` of them over [low, high].
Axis niceAxis(double low, double high, int count) {
    if (!(high > low)) {
        const double pad = std::max(std::abs(low) * 0.05, 0.5);
        low -= pad;
        high += pad;
    }
    const double rough = (high - low) / count;
    const double power = std::pow(10.0, std::floor(std::log10(rough)));
    double step = power;
    for (double f : {1.0, 2.0, 2.5, 5.0, 10.0}) {
        step = f * power;
        if (step >= rough) break;
    }
    Axis axis;
    axis.step = step;
    axis.low = std::floor(low / step) * step;
    axis.high = std::ceil(high / step) * step;
    return axis;
}

QString tickLabel(double value, double step) {
    const int decimals = step >= 1 ? 0 : std::min(3, static_cast<int>(std::ceil(-std::log10(step) - 1e-9)));
    return QString::number(value, 'f', decimals);
}

void drawMarker(QPainter& painter, const QPointF& at, const QColor& color, bool isDiamond) {
    painter.setPen(QPen(Qt::white, 1.2));
    painter.setBrush(color);
    if (isDiamond) {
        const double r = 8;
        painter.drawPolygon(QPolygonF({at + QPointF(0, -r), at + QPointF(r, 0), at + QPointF(0, r), at + QPointF(-r, 0)}));
    } else {
        painter.drawEllipse(at, 5.5, 5.5);
    }
}

}  // namespace

QColor sweepMethodColor(const std::string& method) {
    if (method == "none") return QColor(0, 0, 0);
    if (method == "pumer") return QColor(213, 94, 0);     // vermillion
    if (method == "tome") return QColor(0, 114, 178);     // blue
    if (method == "random") return QColor(204, 121, 167);  // reddish purple
    if (method == "uniform") return QColor(0, 158, 115);  // bluish green
    if (method == "smres") return QColor(230, 159, 0);    // orange
    if (method == "dynamicvit") return QColor(86, 180, 233);  // sky blue
    static const QColor others[] = {QColor(86, 180, 233), QColor(240, 228, 66), QColor(120, 94, 240)};
    return others[std::hash<std::string>{}(method) % 3];
}

QString sweepMethodLabel(const std::string& method) {
    if (method == "none") return QStringLiteral("unreduced");
    if (method == "pumer") return QStringLiteral("PuMer");
    if (method == "tome") return QStringLiteral("ToMe");
    if (method == "random") return QStringLiteral("random drop");
    if (method == "uniform") return QStringLiteral("uniform drop");
    if (method == "smres") return QStringLiteral("smaller resolution");
    if (method == "dynamicvit") return QStringLiteral("DynamicViT");
    return QString::fromStdString(method);
}

QImage renderSweepChart(const std::vector<SweepRow>& rows, const SweepChartOptions& options) {
    if (rows.empty()) throw Error("viz: the sweep has no rows to draw");
    if (options.widthPx < 320 || options.heightPx < 240)
        throw Error("viz: a sweep chart needs at least 320 x 240 pixels, not " + std::to_string(options.widthPx) + " x " +
                    std::to_string(options.heightPx));
    QImage image(options.widthPx, options.heightPx, QImage::Format_RGB32);
    image.fill(detail::kPageBackground);
    QPainter painter(&image);
    painter.setRenderHint(QPainter::Antialiasing);
    painter.setRenderHint(QPainter::TextAntialiasing);

    const QFont titleFont = sansFont(24, true), subtitleFont = sansFont(14), tickFont = sansFont(14),
                axisFont = sansFont(16), legendFont = sansFont(15), knobFont = sansFont(12);
    const QFontMetrics legendMetrics(legendFont), tickMetrics(tickFont);
    const auto methods = sweepMethods(rows);

    // Title and subtitle.
    int top = 16;
    painter.setPen(kInkColor);
    painter.setFont(titleFont);
    const QString title = options.title.isEmpty() ? QStringLiteral("Accuracy against throughput") : options.title;
    painter.drawText(QRect(20, top, options.widthPx - 40, 34), Qt::AlignLeft | Qt::AlignVCenter, title);
    top += 36;
    if (!options.subtitle.isEmpty()) {
        painter.setPen(kMutedInkColor);
        painter.setFont(subtitleFont);
        painter.drawText(QRect(20, top, options.widthPx - 40, 22), Qt::AlignLeft | Qt::AlignVCenter, options.subtitle);
        top += 24;
    }

    // The plot area, with the legend on the right.
    int legendWidth = 0;
    for (const auto& method : methods)
        legendWidth = std::max(legendWidth, legendMetrics.horizontalAdvance(sweepMethodLabel(method)));
    legendWidth += 60;
    const QRectF plot(QPointF(90, top + 18), QPointF(options.widthPx - legendWidth - 40, options.heightPx - 70));

    double xMin = rows.front().examplesPerSecond, xMax = xMin, yMin = rows.front().accuracy * 100, yMax = yMin;
    for (const auto& row : rows) {
        xMin = std::min(xMin, row.examplesPerSecond);
        xMax = std::max(xMax, row.examplesPerSecond);
        yMin = std::min(yMin, row.accuracy * 100);
        yMax = std::max(yMax, row.accuracy * 100);
    }
    const double xPad = (xMax - xMin) * 0.04, yPad = (yMax - yMin) * 0.05;
    const Axis xAxis = niceAxis(std::max(0.0, xMin - xPad), xMax + xPad, 7);
    Axis yAxis = niceAxis(std::max(0.0, yMin - yPad), std::min(100.0, yMax + yPad), 6);
    const auto toPixel = [&](double examplesPerSecond, double accuracyPercent) {
        const double fx = (examplesPerSecond - xAxis.low) / (xAxis.high - xAxis.low);
        const double fy = (accuracyPercent - yAxis.low) / (yAxis.high - yAxis.low);
        return QPointF(plot.left() + fx * plot.width(), plot.bottom() - fy * plot.height());
    };

    // Grid, ticks and axis labels.
    painter.setFont(tickFont);
    for (double x = xAxis.low; x <= xAxis.high + xAxis.step * 1e-6; x += xAxis.step) {
        const double px = toPixel(x, yAxis.low).x();
        painter.setPen(QPen(kGridColor, 1));
        painter.drawLine(QPointF(px, plot.top()), QPointF(px, plot.bottom()));
        painter.setPen(kMutedInkColor);
        painter.drawText(QRectF(px - 50, plot.bottom() + 6, 100, 20), Qt::AlignHCenter | Qt::AlignTop, tickLabel(x, xAxis.step));
    }
    for (double y = yAxis.low; y <= yAxis.high + yAxis.step * 1e-6; y += yAxis.step) {
        const double py = toPixel(xAxis.low, y).y();
        painter.setPen(QPen(kGridColor, 1));
        painter.drawLine(QPointF(plot.left(), py), QPointF(plot.right(), py));
        painter.setPen(kMutedInkColor);
        painter.drawText(QRectF(plot.left() - 70, py - 10, 62, 20), Qt::AlignRight | Qt::AlignVCenter, tickLabel(y, yAxis.step));
    }
    painter.setPen(QPen(kInkColor, 1.2));
    painter.setBrush(Qt::NoBrush);
    painter.drawRect(plot);
    painter.setFont(axisFont);
    painter.drawText(QRectF(plot.left(), plot.bottom() + 30, plot.width(), 24), Qt::AlignCenter,
                     QStringLiteral("throughput (examples/s, higher is faster)"));
    painter.save();
    painter.translate(22, plot.center().y());
    painter.rotate(-90);
    painter.drawText(QRectF(-plot.height() / 2, -12, plot.height(), 24), Qt::AlignCenter, QStringLiteral("accuracy (%)"));
    painter.restore();

    // The unreduced accuracy as a dashed reference line.
    painter.setClipRect(plot.adjusted(-10, -10, 10, 10));
    for (const auto& row : rows) {
        if (row.method != "none") continue;
        const double py = toPixel(xAxis.low, row.accuracy * 100).y();
        painter.setPen(QPen(kReferenceLineColor, 1.2, Qt::DashLine));
        painter.drawLine(QPointF(plot.left(), py), QPointF(plot.right(), py));
        break;
    }

    // Series: lines first, then markers on top.
    for (const auto& method : methods) {
        QPolygonF line;
        for (const auto& row : rows)
            if (row.method == method) line << toPixel(row.examplesPerSecond, row.accuracy * 100);
        if (line.size() > 1) {
            painter.setPen(QPen(sweepMethodColor(method), 2.5, Qt::SolidLine, Qt::RoundCap, Qt::RoundJoin));
            painter.setBrush(Qt::NoBrush);
            painter.drawPolyline(line);
        }
    }
    // Markers, the unreduced one last so no series hides it; each series' strongest setting labelled.
    painter.setFont(knobFont);
    std::vector<std::string> drawOrder;
    for (const auto& method : methods)
        if (method != "none") drawOrder.push_back(method);
    if (std::find(methods.begin(), methods.end(), "none") != methods.end()) drawOrder.push_back("none");
    for (const auto& method : drawOrder) {
        const SweepRow* last = nullptr;
        for (const auto& row : rows) {
            if (row.method != method) continue;
            drawMarker(painter, toPixel(row.examplesPerSecond, row.accuracy * 100), sweepMethodColor(method), method == "none");
            last = &row;
        }
        if (method == "none" || !last || last->knob.empty()) continue;
        const QPointF at = toPixel(last->examplesPerSecond, last->accuracy * 100);
        painter.setPen(sweepMethodColor(method).darker(115));
        painter.drawText(QRectF(at.x() + 8, at.y() - 20, 140, 16), Qt::AlignLeft | Qt::AlignVCenter,
                         QString::fromStdString(last->knob));
    }
    painter.setClipping(false);

    // Legend.
    painter.setFont(legendFont);
    const double legendLeft = plot.right() + 24;
    double y = plot.top() + 6;
    painter.setPen(kInkColor);
    painter.drawText(QRectF(legendLeft, y, legendWidth, 20), Qt::AlignLeft | Qt::AlignVCenter, QStringLiteral("method"));
    y += 28;
    for (const auto& method : methods) {
        const QColor color = sweepMethodColor(method);
        const QPointF mid(legendLeft + 16, y + 10);
        if (method != "none") {
            painter.setPen(QPen(color, 2.5));
            painter.drawLine(mid - QPointF(14, 0), mid + QPointF(14, 0));
        }
        drawMarker(painter, mid, color, method == "none");
        painter.setPen(kInkColor);
        painter.drawText(QRectF(legendLeft + 40, y, legendWidth, 20), Qt::AlignLeft | Qt::AlignVCenter, sweepMethodLabel(method));
        y += 28;
    }
    painter.end();
    return image;
}

}  // namespace tokenscope
