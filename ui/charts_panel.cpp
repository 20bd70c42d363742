#include "ui/charts_panel.h"

#include <QTabWidget>
#include <QToolTip>
#include <QVBoxLayout>

#include <qcustomplot.h>

#include "ui/chart_style.h"
#include "ui/generation_charts.h"

#include <algorithm>
#include <cmath>

#include "ui/memory_chart.h"
#include "ui/trace_labels.h"
#include "ui/tradeoff_chart.h"

namespace tokenscope {

namespace {

constexpr size_t kHistoryLength = 50;
const QColor kMethodColor{0, 114, 178};     // blue: this run
const QColor kBaselineColor{150, 150, 160};  // grey: unreduced
const QColor kTextColor{213, 94, 0};         // vermillion: text tokens
const QColor kReduceColor{230, 159, 0};      // orange: the reducer's own time
const QColor kMlpColor{86, 180, 233};        // sky blue: MLP

QCustomPlot* makePlot(QWidget* parent)
{
    ChartStyle style;
    style.minimumHeight = 150;
    style.legendAlignment = Qt::AlignVCenter | Qt::AlignRight;
    style.legendAlpha = 200;
    style.tightLegendRows = false;
    return makeChart(parent, style);
}

QCPGraph* addStepGraph(QCustomPlot* plot, const QString& name, const QColor& color, Qt::PenStyle style)
{
    QCPGraph* graph = plot->addGraph();
    graph->setName(name);
    graph->setPen(QPen(color, 2, style));
    graph->setLineStyle(QCPGraph::lsLine);
    graph->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, color, 5));
    return graph;
}

}  // namespace

ChartsPanel::ChartsPanel(QWidget* parent) : QWidget(parent)
{
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    m_tabs = new QTabWidget(this);
    m_tokensPlot = makePlot(m_tabs);
    m_latencyPlot = makePlot(m_tabs);
    m_historyPlot = makePlot(m_tabs);
    m_tabs->addTab(m_tokensPlot, tr("Tokens per layer"));
    m_tabs->addTab(m_latencyPlot, tr("Latency per layer"));
    m_memory = new MemoryChart(m_tabs);
    m_tabs->addTab(m_memory, tr("Memory"));
    m_tabs->addTab(m_historyPlot, tr("Runs"));
    m_tradeoff = new TradeoffChart(m_tabs);
    m_tabs->addTab(m_tradeoff, tr("Trade-off"));
    m_tabs->setTabToolTip(0, tr("How many image and text tokens survive after each layer, with the method and without."));
    m_tabs->setTabToolTip(1, tr("How long each layer took in this run, split into attention, the reducer and the MLP, beside the unreduced model."));
    m_tabs->setTabToolTip(2, tr("Memory counted by the allocator: weights, activation peak and KV cache per run (process RSS as a line), and the activation peak of every layer beside the unreduced model."));
    m_tabs->setTabToolTip(3, tr("Total time of the last runs, newest on the right."));
    m_tabs->setTabToolTip(4, tr("Accuracy against speed-up per method (a sweep), with the current configuration marked."));
    layout->addWidget(m_tabs);
    m_generation = new GenerationCharts(this);
    m_generation->setVisible(false);
    layout->addWidget(m_generation);

    m_tokensPlot->xAxis->setLabel(tr("layer"));
    m_tokensPlot->yAxis->setLabel(tr("tokens"));
    m_latencyPlot->xAxis->setLabel(tr("layer"));
    m_latencyPlot->yAxis->setLabel(tr("ms"));
    m_historyPlot->xAxis->setLabel(tr("run"));
    m_historyPlot->yAxis->setLabel(tr("total ms"));

    installHover(m_tokensPlot, [this](double key) -> QString {
        const int i = int(std::lround(key));
        if (!m_hasLast || i < 0 || i >= int(m_last.trace.layers.size()))
            return {};
        const TraceLayer& layer = m_last.trace.layers[size_t(i)];
        QString text = tr("%1: %2 image, %3 text tokens").arg(layerCaption(m_last.trace, i)).arg(layer.image.tokens).arg(layer.text.tokens);
        if (m_hasBaseline && i < int(m_lastBaseline.trace.layers.size())) {
            const TraceLayer& base = m_lastBaseline.trace.layers[size_t(i)];
            text += tr("\nunreduced: %1 image, %2 text").arg(base.image.tokens).arg(base.text.tokens);
        }
        return text;
    });
    installHover(m_latencyPlot, [this](double key) -> QString {
        const int i = int(std::lround(key));
        if (!m_hasLast || i < 0 || i >= int(m_last.trace.layers.size()))
            return {};
        const auto describe = [this, i](const RunResult& run) {
            const auto stages = traceLayerTimes(run.trace, run.timeline);
            const LayerStageTimes& t = stages[size_t(i)];
            if (t.totalMs <= 0)
                return tr("%1 ms").arg(run.trace.layers[size_t(i)].latencyMs, 0, 'f', 2);
            return tr("%1 ms: attention %2, reducer %3, MLP %4, other %5")
                .arg(t.totalMs, 0, 'f', 2).arg(t.attentionMs, 0, 'f', 2).arg(t.reduceMs, 0, 'f', 2).arg(t.mlpMs, 0, 'f', 2)
                .arg(t.otherMs, 0, 'f', 2);
        };
        QString text = tr("%1: %2").arg(layerCaption(m_last.trace, i)).arg(describe(m_last));
        if (m_hasBaseline && i < int(m_lastBaseline.trace.layers.size()))
            text += tr("\nunreduced: %1").arg(describe(m_lastBaseline));
        return text;
    });
    installHover(m_historyPlot, [this](double key) -> QString {
        for (const HistoryEntry& entry : m_history)
            if (entry.runNumber == int(std::lround(key)))
                return tr("run %1 (%2): %3 ms").arg(entry.runNumber).arg(entry.method).arg(entry.totalMs, 0, 'f', 1);
        return {};
    });
}

void ChartsPanel::installHover(QCustomPlot* plot, std::function<QString(double)> describeKey)
{
    plot->setMouseTracking(true);
    connect(plot, &QCustomPlot::mouseMove, this, [plot, describeKey](QMouseEvent* event) {
        const double key = plot->xAxis->pixelToCoord(event->position().x());
        const QString text = describeKey(key);
        if (text.isEmpty())
            QToolTip::hideText();
        else
            QToolTip::showText(event->globalPosition().toPoint(), text, plot);
    });
}

void ChartsPanel::setCapabilities(const FamilyCapabilities& capabilities)
{
    m_tabs->setVisible(!capabilities.generates);
    m_generation->setVisible(capabilities.generates);
}

void ChartsPanel::addAnswer(const GenerateResult& result) { m_generation->addRun(result); }

void ChartsPanel::addRun(const RunResult& result, const RunResult* baseline, double totalMs)
{
    m_last = result;
    m_hasLast = true;
    m_hasBaseline = baseline != nullptr;
    if (baseline)
        m_lastBaseline = *baseline;
    HistoryEntry entry;
    entry.runNumber = ++m_runCounter;
    entry.method = QString::fromStdString(result.method.method());
    entry.totalMs = totalMs > 0 ? totalMs : result.preprocessMs + result.forwardMs;
    m_history.push_back(entry);
    m_memory->addRun(QString::fromStdString(describe(result.method)), result.memory);
    m_memory->setLayers(result.memory, tr("this run"), baseline ? &baseline->memory : nullptr, tr("unreduced"));
    while (m_history.size() > kHistoryLength)
        m_history.pop_front();
    updateLayerCharts();
    updateHistoryChart();
}

void ChartsPanel::setCurrentLayerIndex(int index)
{
    m_currentLayer = index;
    updateLayerCharts();
}

void ChartsPanel::updateLayerCharts()
{
    m_tokensPlot->clearPlottables();
    m_tokensPlot->clearItems();
    m_latencyPlot->clearPlottables();
    m_latencyPlot->clearItems();
    if (!m_hasLast)
        return;
    const auto& layers = m_last.trace.layers;
    QVector<double> keys, image, text, latency, baseImage, baseText, baseLatency;
    QVector<QString> labels;
    for (size_t i = 0; i < layers.size(); ++i) {
        keys << double(i);
        labels << layerTick(m_last.trace, int(i));
        image << layers[i].image.tokens;
        text << layers[i].text.tokens;
        latency << layers[i].latencyMs;
    }
    const bool hasBaseline = m_hasBaseline && m_lastBaseline.trace.layers.size() == layers.size();
    if (hasBaseline) {
        for (const TraceLayer& layer : m_lastBaseline.trace.layers) {
            baseImage << layer.image.tokens;
            baseText << layer.text.tokens;
            baseLatency << layer.latencyMs;
        }
    }
    auto ticker = QSharedPointer<QCPAxisTickerText>::create();
    ticker->setTicks(keys, labels);
    auto ticker2 = QSharedPointer<QCPAxisTickerText>::create();
    ticker2->setTicks(keys, labels);

    // Tokens: survival timeline.
    if (hasBaseline) {
        addStepGraph(m_tokensPlot, tr("image, unreduced"), kBaselineColor, Qt::DashLine)->setData(keys, baseImage);
        addStepGraph(m_tokensPlot, tr("text, unreduced"), kBaselineColor.lighter(115), Qt::DotLine)->setData(keys, baseText);
    }
    addStepGraph(m_tokensPlot, tr("image tokens"), kMethodColor, Qt::SolidLine)->setData(keys, image);
    addStepGraph(m_tokensPlot, tr("text tokens"), kTextColor, Qt::SolidLine)->setData(keys, text);
    m_tokensPlot->xAxis->setTicker(ticker);
    m_tokensPlot->rescaleAxes();
    m_tokensPlot->xAxis->setRange(-0.5, keys.size() - 0.5);
    m_tokensPlot->yAxis->setRangeLower(0);
    m_tokensPlot->yAxis->setRangeUpper(m_tokensPlot->yAxis->range().upper * 1.12 + 1);

    // Latency: per layer, stacked attention / reducer / MLP / other, this run beside the unreduced one.
    const auto stageBars = [&](const RunResult& run, double shift, double width, bool faded, bool named) {
        const auto stages = traceLayerTimes(run.trace, run.timeline);
        const bool hasStages = std::any_of(stages.begin(), stages.end(), [](const LayerStageTimes& t) { return t.totalMs > 0; });
        const std::vector<std::pair<QString, QColor>> parts{
            {tr("attention"), kMethodColor}, {tr("reducer"), kReduceColor}, {tr("MLP"), kMlpColor}, {tr("other"), kBaselineColor}};
        std::vector<QCPBars*> bars;
        for (size_t p = 0; p < (hasStages ? parts.size() : 1); ++p) {
            auto* series = new QCPBars(m_latencyPlot->xAxis, m_latencyPlot->yAxis);
            const QColor colour = hasStages ? parts[p].second : kMethodColor;
            series->setName(hasStages ? parts[p].first : tr("this run"));
            // The unreduced run in the same colours, half-toned, so stages compare across the pair.
            series->setBrush(faded ? QBrush(colour, Qt::Dense4Pattern) : QBrush(colour));
            series->setPen(QPen(colour.darker(120), 0.5));
            series->setWidth(width);
            if (!bars.empty())
                series->moveAbove(bars.back());
            if (!named)
                m_latencyPlot->legend->removeItem(m_latencyPlot->legend->itemCount() - 1);
            bars.push_back(series);
        }
        for (size_t i = 0; i < run.trace.layers.size(); ++i) {
            const double key = double(i) + shift;
            if (!hasStages) {
                bars[0]->addData(key, run.trace.layers[i].latencyMs);
                continue;
            }
            const LayerStageTimes& t = stages[i];
            const double values[] = {t.attentionMs, t.reduceMs, t.mlpMs, t.otherMs};
            for (size_t p = 0; p < bars.size(); ++p)
                bars[p]->addData(key, values[p]);
        }
    };
    const double width = hasBaseline ? 0.38 : 0.7;
    if (hasBaseline)
        stageBars(m_lastBaseline, -0.2, width, true, false);
    stageBars(m_last, hasBaseline ? 0.2 : 0.0, width, false, true);
    if (hasBaseline) {
        auto* note = new QCPItemText(m_latencyPlot);
        note->setPositionAlignment(Qt::AlignTop | Qt::AlignLeft);
        note->position->setType(QCPItemPosition::ptAxisRectRatio);
        note->position->setCoords(0.01, 0.02);
        note->setText(tr("pairs: unreduced (half-toned) | this run"));
        note->setColor(QColor(90, 90, 100));
    }
    m_latencyPlot->xAxis->setTicker(ticker2);
    m_latencyPlot->rescaleAxes();
    m_latencyPlot->xAxis->setRange(-0.6, keys.size() - 0.4);
    m_latencyPlot->yAxis->setRangeLower(0);
    m_latencyPlot->yAxis->setRangeUpper(m_latencyPlot->yAxis->range().upper * 1.15 + 1e-3);

    // The shown layer.
    for (QCustomPlot* plot : {m_tokensPlot, m_latencyPlot}) {
        auto* marker = new QCPItemStraightLine(plot);
        marker->point1->setCoords(m_currentLayer, 0);
        marker->point2->setCoords(m_currentLayer, 1);
        marker->setPen(QPen(QColor(230, 159, 0), 1.5, Qt::DashLine));
    }
    m_tokensPlot->replot(QCustomPlot::rpQueuedReplot);
    m_latencyPlot->replot(QCustomPlot::rpQueuedReplot);
}

void ChartsPanel::updateHistoryChart()
{
    m_historyPlot->clearPlottables();
    QVector<double> keys, total;
    for (const HistoryEntry& entry : m_history) {
        keys << entry.runNumber;
        total << entry.totalMs;
    }
    QCPGraph* totalGraph = addStepGraph(m_historyPlot, tr("total latency (ms)"), kMethodColor, Qt::SolidLine);
    totalGraph->setData(keys, total);
    m_historyPlot->rescaleAxes();
    m_historyPlot->xAxis->setRange(keys.isEmpty() ? 0 : keys.front() - 0.5, keys.isEmpty() ? 1 : keys.back() + 0.5);
    m_historyPlot->yAxis->setRangeLower(0);
    m_historyPlot->yAxis->setRangeUpper(m_historyPlot->yAxis->range().upper * 1.15 + 1e-3);
    m_historyPlot->replot(QCustomPlot::rpQueuedReplot);
}

QString ChartsPanel::metricsCsv() const
{
    QString csv = QStringLiteral("layer,reduced,image_tokens_in,text_tokens_in,image_tokens,text_tokens,latency_ms,"
                                 "attention_ms,reducer_ms,mlp_ms,activation_peak_mib,"
                                 "baseline_image_tokens,baseline_text_tokens,baseline_latency_ms\n");
    if (m_hasLast) {
        const auto stages = traceLayerTimes(m_last.trace, m_last.timeline);
        const auto& peaks = m_last.memory.layerActivationPeakBytes;  // of the fusion layers
        for (size_t i = 0; i < m_last.trace.layers.size(); ++i) {
            const TraceLayer& layer = m_last.trace.layers[i];
            const size_t peak = layer.stage == Stage::Fusion ? size_t(layer.index) : peaks.size();
            csv += QStringLiteral("%1,%2,%3,%4,%5,%6,%7,%8,%9,%10,%11")
                       .arg(layerTick(m_last.trace, int(i))).arg(layer.reduced ? 1 : 0).arg(layer.image.tokensIn).arg(layer.text.tokensIn)
                       .arg(layer.image.tokens).arg(layer.text.tokens).arg(layer.latencyMs, 0, 'f', 4)
                       .arg(stages[i].attentionMs, 0, 'f', 4).arg(stages[i].reduceMs, 0, 'f', 4).arg(stages[i].mlpMs, 0, 'f', 4)
                       .arg(peak < peaks.size() ? toMiB(std::max<int64_t>(peaks[peak], 0)) : 0.0, 0, 'f', 3);
            if (m_hasBaseline && i < m_lastBaseline.trace.layers.size()) {
                const TraceLayer& base = m_lastBaseline.trace.layers[i];
                csv += QStringLiteral(",%1,%2,%3").arg(base.image.tokens).arg(base.text.tokens).arg(base.latencyMs, 0, 'f', 4);
            } else {
                csv += QStringLiteral(",,,");
            }
            csv += '\n';
        }
    }
    csv += QStringLiteral("\nrun,method,total_ms\n");
    for (const HistoryEntry& entry : m_history)
        csv += QStringLiteral("%1,%2,%3\n").arg(entry.runNumber).arg(entry.method).arg(entry.totalMs, 0, 'f', 3);
    csv += QStringLiteral("\n") + m_memory->csv();
    return csv;
}

}  // namespace tokenscope
