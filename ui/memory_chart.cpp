#include "ui/memory_chart.h"

#include <QToolTip>
#include <QVBoxLayout>

#include <qcustomplot.h>

#include "ui/chart_style.h"

#include <algorithm>
#include <cmath>

namespace tokenscope {

namespace {

constexpr std::size_t kHistory = 24;
// Okabe-Ito, colour-blind safe.
const QColor kWeights{86, 180, 233};
const QColor kActivations{213, 94, 0};
const QColor kKvCache{0, 158, 115};
const QColor kRss{80, 80, 90};
const QColor kCurrent{0, 114, 178};
const QColor kReference{150, 150, 160};

QCustomPlot* makePlot(QWidget* parent, const QString& xLabel, const QString& yLabel)
{
    ChartStyle style;
    style.minimumHeight = 70;
    style.xLabel = xLabel;
    style.yLabel = yLabel;
    QCustomPlot* plot = makeChart(parent, style);
    plot->setMouseTracking(true);
    return plot;
}

double mib(int64_t bytes) { return toMiB(std::max<int64_t>(bytes, 0)); }

QString protocolText(const MemoryReport& m)
{
    return m.protocol == MemoryProtocol::Autograd ? QObject::tr("autograd") : QObject::tr("inference");
}

}  // namespace

MemoryChart::MemoryChart(QWidget* parent) : QWidget(parent)
{
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    m_runsPlot = makePlot(this, tr("run"), tr("MiB"));
    m_layersPlot = makePlot(this, tr("layer"), tr("activation peak, MiB"));
    // The runs' legend below the plot (the bars fill its width); the layers' in the empty lower left
    // (peaks fall after each reducer).
    auto* legendRow = new QCPLayoutGrid;
    m_runsPlot->plotLayout()->addElement(1, 0, legendRow);
    legendRow->addElement(0, 0, m_runsPlot->legend);
    m_runsPlot->legend->setFillOrder(QCPLegend::foColumnsFirst);
    m_runsPlot->legend->setWrap(2);  // two columns: the chart must not widen the window
    m_runsPlot->plotLayout()->setRowStretchFactor(1, 0.001);
    m_layersPlot->axisRect()->insetLayout()->setInsetAlignment(0, Qt::AlignBottom | Qt::AlignLeft);
    auto layerTicks = QSharedPointer<QCPAxisTickerFixed>::create();
    layerTicks->setTickStep(1.0);
    layerTicks->setScaleStrategy(QCPAxisTickerFixed::ssMultiples);
    m_layersPlot->xAxis->setTicker(layerTicks);
    m_runsPlot->setToolTip(QString());
    layout->addWidget(m_runsPlot, 1);
    layout->addWidget(m_layersPlot, 1);

    connect(m_runsPlot, &QCustomPlot::mouseMove, this, [this](QMouseEvent* event) {
        const int number = int(std::lround(m_runsPlot->xAxis->pixelToCoord(event->position().x())));
        const auto found = std::find_if(m_runs.begin(), m_runs.end(), [number](const Run& r) { return r.number == number; });
        if (found == m_runs.end()) {
            QToolTip::hideText();
            return;
        }
        const MemoryReport& m = found->memory;
        QString text = tr("#%1 %2 (%3)\nweights %4 MiB\nactivation peak %5 MiB%6\nKV cache %7 MiB\nprocess RSS peak %8 MiB")
                           .arg(found->number).arg(found->label).arg(protocolText(m)).arg(mib(m.weightsBytes), 0, 'f', 1)
                           .arg(mib(m.activationsPeakBytes), 0, 'f', 2)
                           .arg(m.activationsPeakWhere.empty() ? QString() : tr(" at %1").arg(QString::fromStdString(m.activationsPeakWhere)))
                           .arg(mib(m.kvCacheBytes), 0, 'f', 2).arg(mib(m.rssPeakBytes), 0, 'f', 0);
        QToolTip::showText(event->globalPosition().toPoint(), text, m_runsPlot);
    });
    connect(m_layersPlot, &QCustomPlot::mouseMove, this, [this](QMouseEvent* event) {
        const int layer = int(std::lround(m_layersPlot->xAxis->pixelToCoord(event->position().x())));
        if (!m_hasCurrent || layer < 0 || layer >= int(m_current.layerActivationPeakBytes.size())) {
            QToolTip::hideText();
            return;
        }
        QString text = tr("layer %1: %2 MiB (%3)").arg(layer).arg(mib(m_current.layerActivationPeakBytes[size_t(layer)]), 0, 'f', 2)
                           .arg(m_currentLabel);
        if (m_hasReference && layer < int(m_reference.layerActivationPeakBytes.size()))
            text += tr("\n%1 MiB (%2)").arg(mib(m_reference.layerActivationPeakBytes[size_t(layer)]), 0, 'f', 2).arg(m_referenceLabel);
        QToolTip::showText(event->globalPosition().toPoint(), text, m_layersPlot);
    });
    replotRuns();
    replotLayers();
}

void MemoryChart::addRun(const QString& label, const MemoryReport& memory)
{
    m_runs.push_back({++m_counter, label, memory});
    while (m_runs.size() > kHistory)
        m_runs.pop_front();
    replotRuns();
}

void MemoryChart::setLayers(const MemoryReport& current, const QString& currentLabel, const MemoryReport* reference,
                            const QString& referenceLabel)
{
    m_current = current;
    m_currentLabel = currentLabel;
    m_hasCurrent = true;
    m_hasReference = reference != nullptr;
    if (reference)
        m_reference = *reference;
    m_referenceLabel = referenceLabel;
    replotLayers();
}

void MemoryChart::replotRuns()
{
    m_runsPlot->clearPlottables();
    const std::vector<std::pair<QString, QColor>> parts{{tr("weights"), kWeights}, {tr("activation peak"), kActivations},
                                                       {tr("KV cache"), kKvCache}};
    std::vector<QCPBars*> bars;
    for (const auto& [name, colour] : parts) {
        auto* series = new QCPBars(m_runsPlot->xAxis, m_runsPlot->yAxis);
        series->setName(name);
        series->setPen(QPen(colour.darker(130), 1));
        series->setBrush(colour);
        series->setWidth(0.6);
        if (!bars.empty())
            series->moveAbove(bars.back());
        bars.push_back(series);
    }
    // The process RSS is of another size (the weights mapped, the C library's free lists): own axis.
    m_runsPlot->yAxis2->setVisible(true);
    m_runsPlot->yAxis2->setLabel(tr("process RSS peak, MiB"));
    QCPGraph* rss = m_runsPlot->addGraph(m_runsPlot->xAxis, m_runsPlot->yAxis2);
    rss->setName(tr("process RSS peak (right axis)"));
    rss->setPen(QPen(kRss, 1.5, Qt::DashLine));
    rss->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssDiamond, kRss, 6));
    double yMax = 1e-3, rssMax = 1;
    bool autograd = false;
    auto ticker = QSharedPointer<QCPAxisTickerText>::create();
    for (const Run& run : m_runs) {
        const MemoryReport& m = run.memory;
        const double values[] = {mib(m.weightsBytes), mib(m.activationsPeakBytes), mib(m.kvCacheBytes)};
        for (size_t i = 0; i < bars.size(); ++i)
            bars[i]->addData(run.number, values[i]);
        rss->addData(run.number, mib(m.rssPeakBytes));
        ticker->addTick(run.number, QStringLiteral("#%1").arg(run.number));
        yMax = std::max(yMax, values[0] + values[1] + values[2]);
        rssMax = std::max(rssMax, mib(m.rssPeakBytes));
        autograd = autograd || m.protocol == MemoryProtocol::Autograd;
    }
    m_runsPlot->xAxis->setTicker(ticker);
    m_runsPlot->yAxis2->setRange(0, rssMax * 1.15);
    m_runsPlot->yAxis->setLabel(autograd ? tr("MiB (allocator; some runs autograd)") : tr("MiB (allocator, inference)"));
    m_runsPlot->xAxis->setRange(m_runs.empty() ? 0 : m_runs.front().number - 0.6, m_runs.empty() ? 1 : m_runs.back().number + 0.6);
    m_runsPlot->yAxis->setRange(0, yMax * 1.15);
    m_runsPlot->replot(QCustomPlot::rpQueuedReplot);
}

void MemoryChart::replotLayers()
{
    m_layersPlot->clearPlottables();
    const auto curve = [&](const MemoryReport& m, const QString& name, const QColor& colour, Qt::PenStyle style) {
        QCPGraph* graph = m_layersPlot->addGraph();
        graph->setName(name);
        graph->setPen(QPen(colour, 2, style));
        graph->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, colour, 5));
        double top = 0;
        for (size_t l = 0; l < m.layerActivationPeakBytes.size(); ++l) {
            if (m.layerActivationPeakBytes[l] < 0)
                continue;
            graph->addData(double(l), mib(m.layerActivationPeakBytes[l]));
            top = std::max(top, mib(m.layerActivationPeakBytes[l]));
        }
        return top;
    };
    double yMax = 1e-3;
    int layers = 1;
    if (m_hasReference) {
        yMax = std::max(yMax, curve(m_reference, m_referenceLabel, kReference, Qt::DashLine));
        layers = std::max(layers, int(m_reference.layerActivationPeakBytes.size()));
    }
    if (m_hasCurrent) {
        yMax = std::max(yMax, curve(m_current, m_currentLabel, kCurrent, Qt::SolidLine));
        layers = std::max(layers, int(m_current.layerActivationPeakBytes.size()));
        m_layersPlot->yAxis->setLabel(tr("activation peak, MiB (%1)").arg(protocolText(m_current)));
    }
    m_layersPlot->xAxis->setRange(-0.5, layers - 0.5);
    m_layersPlot->yAxis->setRange(0, yMax * 1.15);
    m_layersPlot->replot(QCustomPlot::rpQueuedReplot);
}

QString MemoryChart::csv() const
{
    QString out = QStringLiteral("run,label,protocol,weights_mib,activations_peak_mib,activations_peak_where,kv_cache_mib,rss_peak_mib\n");
    for (const Run& run : m_runs) {
        const MemoryReport& m = run.memory;
        out += QStringLiteral("%1,\"%2\",%3,%4,%5,\"%6\",%7,%8\n")
                   .arg(run.number).arg(run.label).arg(memoryProtocolName(m.protocol)).arg(mib(m.weightsBytes), 0, 'f', 3)
                   .arg(mib(m.activationsPeakBytes), 0, 'f', 3).arg(QString::fromStdString(m.activationsPeakWhere))
                   .arg(mib(m.kvCacheBytes), 0, 'f', 3).arg(mib(m.rssPeakBytes), 0, 'f', 1);
    }
    if (!m_hasCurrent)
        return out;
    out += QStringLiteral("\nlayer,activation_peak_mib,reference_activation_peak_mib\n");
    for (size_t l = 0; l < m_current.layerActivationPeakBytes.size(); ++l) {
        out += QStringLiteral("%1,%2,").arg(l).arg(mib(m_current.layerActivationPeakBytes[l]), 0, 'f', 3);
        if (m_hasReference && l < m_reference.layerActivationPeakBytes.size())
            out += QString::number(mib(m_reference.layerActivationPeakBytes[l]), 'f', 3);
        out += '\n';
    }
    return out;
}

}  // namespace tokenscope
