#include "ui/generation_charts.h"

#include <QTabWidget>
#include <QToolTip>
#include <QVBoxLayout>

#include <qcustomplot.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <utility>
#include <vector>

#include "methods/method_registry.h"
#include "methods/reduction_plan.h"
#include "ui/chart_style.h"
#include "ui/memory_chart.h"

namespace tokenscope {

namespace {

constexpr size_t kHistoryLength = 24;
constexpr double kMiB = 1024.0 * 1024.0;

// Okabe-Ito, colour-blind safe.
const QColor kGrey{150, 150, 160};
const QColor kBlue{0, 114, 178};
const QColor kOrange{230, 159, 0};
const QColor kGreen{0, 158, 115};
const QColor kPurple{204, 121, 167};

// The unreduced answers grey; the registry's methods in a fixed order of the palette.
QColor methodColor(const std::string& method)
{
    if (method == "none")
        return kGrey;
    const std::vector<const MethodDescriptor*> methods = methodsFor(FamilyKind::Llava);
    const QColor palette[] = {kBlue, kGreen, kOrange, kPurple};
    int index = 0;
    for (const MethodDescriptor* descriptor : methods) {
        if (descriptor->id == method)
            break;
        index += descriptor->id != "none";
    }
    return palette[index % 4];
}

QString methodLegendName(const std::string& method)
{
    return method == "none" ? QObject::tr("full") : QString::fromStdString(methodDescriptor(method).name);
}

QCustomPlot* makePlot(QWidget* parent, const QString& yLabel)
{
    ChartStyle style;
    style.xLabel = QObject::tr("answer");
    style.yLabel = yLabel;
    return makeChart(parent, style);
}

QCPBars* addBars(QCustomPlot* plot, const QString& name, const QColor& colour, double width)
{
    auto* bars = new QCPBars(plot->xAxis, plot->yAxis);
    bars->setName(name);
    bars->setPen(QPen(colour.darker(130), 1));
    bars->setBrush(colour);
    bars->setWidth(width);
    return bars;
}

}  // namespace

GenerationCharts::GenerationCharts(QWidget* parent) : QWidget(parent)
{
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    m_speedTabs = new QTabWidget(this);
    m_splitTabs = new QTabWidget(this);
    m_ttftPlot = makePlot(m_speedTabs, tr("ms"));
    m_tokensPerSecondPlot = makePlot(m_speedTabs, tr("tokens/s"));
    m_keptPlot = makePlot(m_speedTabs, tr("visual tokens"));
    m_timePlot = makePlot(m_splitTabs, tr("ms"));
    m_memory = new MemoryChart(m_splitTabs);
    m_speedTabs->addTab(m_ttftPlot, tr("Time to first token"));
    m_speedTabs->addTab(m_tokensPerSecondPlot, tr("Decode tokens/s"));
    m_speedTabs->addTab(m_keptPlot, tr("Kept tokens"));
    m_splitTabs->addTab(m_timePlot, tr("Time split"));
    m_splitTabs->addTab(m_memory, tr("Memory split"));
    m_speedTabs->setTabToolTip(0, tr("Time from the request to the first answer token (preprocess + vision + prefill), per answer."));
    m_speedTabs->setTabToolTip(1, tr("Answer tokens per second after the first one (the cached decode steps), per answer."));
    m_speedTabs->setTabToolTip(2, tr("Visual tokens the language model received per answer, beside the unreduced model's count."));
    m_splitTabs->setTabToolTip(0, tr("Where each answer's time went: preprocess, vision tower and token selection, prefill, decode."));
    m_splitTabs->setTabToolTip(1, tr("Memory of each answer as the allocator counted it: the weights, the activation peak and the KV cache (process RSS as a line), and the peak inside every decoder layer beside the last unreduced answer."));
    layout->addWidget(m_speedTabs, 1);
    layout->addWidget(m_splitTabs, 1);

    const auto describeRun = [](const RunEntry& run) { return tr("#%1 %2").arg(run.number).arg(run.label); };
    installHover(m_ttftPlot, [=](const RunEntry& run) {
        return tr("%1\nTTFT %2 ms").arg(describeRun(run)).arg(run.ttftMs, 0, 'f', 1);
    });
    installHover(m_tokensPerSecondPlot, [=](const RunEntry& run) {
        return tr("%1\n%2 tokens/s").arg(describeRun(run)).arg(run.decodeTokensPerSecond, 0, 'f', 1);
    });
    installHover(m_keptPlot, [=](const RunEntry& run) {
        return tr("%1\n%2 of %3 visual tokens").arg(describeRun(run)).arg(run.tokensKept).arg(run.tokensUnreduced);
    });
    installHover(m_timePlot, [=](const RunEntry& run) {
        return tr("%1\npreprocess %2 ms, vision %3 ms, prefill %4 ms, decode %5 ms")
            .arg(describeRun(run)).arg(run.preprocessMs, 0, 'f', 1).arg(run.visionMs, 0, 'f', 1)
            .arg(run.prefillMs, 0, 'f', 1).arg(run.decodeMs, 0, 'f', 1);
    });
    replot();
}

void GenerationCharts::installHover(QCustomPlot* plot, std::function<QString(const RunEntry&)> describe)
{
    plot->setMouseTracking(true);
    connect(plot, &QCustomPlot::mouseMove, this, [this, plot, describe](QMouseEvent* event) {
        const int number = int(std::lround(plot->xAxis->pixelToCoord(event->position().x())));
        const auto found = std::find_if(m_runs.begin(), m_runs.end(), [number](const RunEntry& run) { return run.number == number; });
        if (found == m_runs.end())
            QToolTip::hideText();
        else
            QToolTip::showText(event->globalPosition().toPoint(), describe(*found), plot);
    });
}

void GenerationCharts::addRun(const GenerateResult& result)
{
    RunEntry run;
    run.number = ++m_runCounter;
    const VisualTokenSettings settings = visualSelectionOf(result.method);
    const bool isFull = result.method.is("none");
    run.method = isFull ? std::string("none") : result.method.method();
    run.label = isFull ? QStringLiteral("full")
                       : QStringLiteral("%1 %2").arg(QString::fromStdString(run.method)).arg(settings.budget, 0, 'g', 3);
    const GenerateTimings& t = result.timings;
    run.ttftMs = t.ttftMs;
    run.decodeTokensPerSecond = t.decodeTokensPerSecond;
    run.preprocessMs = t.preprocessMs;
    run.visionMs = t.visionMs;
    run.prefillMs = t.prefillMs;
    run.decodeMs = t.decodeMs;
    run.weightsMiB = double(result.memory.weightsBytes) / kMiB;
    run.activationsMiB = double(std::max<int64_t>(0, result.memory.activationsPeakBytes)) / kMiB;
    run.kvCacheMiB = double(result.memory.kvCacheBytes) / kMiB;
    run.tokensKept = result.trace.budget.deliveredTokens;
    run.tokensUnreduced = result.trace.budget.unreducedTokens;
    m_runs.push_back(run);
    while (m_runs.size() > kHistoryLength)
        m_runs.pop_front();
    m_memory->addRun(run.label, result.memory);
    m_memory->setLayers(result.memory, run.label, m_hasFull ? &m_lastFullMemory : nullptr, tr("last full answer"));
    if (isFull) {
        m_lastFullMemory = result.memory;
        m_hasFull = true;
    }
    replot();
}

void GenerationCharts::clear()
{
    m_runs.clear();
    replot();
}

void GenerationCharts::replot()
{
    auto ticker = QSharedPointer<QCPAxisTickerText>::create();
    for (const RunEntry& run : m_runs)
        ticker->addTick(run.number, QStringLiteral("#%1").arg(run.number));
    const double low = m_runs.empty() ? 0.3 : m_runs.front().number - 0.7;
    const double high = m_runs.empty() ? 1.7 : m_runs.back().number + 0.7;
    const auto finish = [&](QCustomPlot* plot, double yMax, bool hasData) {
        plot->clearItems();
        if (!hasData) {
            auto* note = new QCPItemText(plot);
            note->setPositionAlignment(Qt::AlignCenter);
            note->position->setType(QCPItemPosition::ptAxisRectRatio);
            note->position->setCoords(0.5, 0.45);
            note->setText(tr("No answers yet: press Generate"));
            note->setColor(kGrey.darker(130));
        }
        plot->xAxis->setTicker(ticker);
        plot->xAxis->setRange(low, high);
        plot->yAxis->setRange(0, yMax > 0 ? yMax * 1.18 : 1.0);
        plot->legend->setVisible(hasData);
        plot->replot(QCustomPlot::rpQueuedReplot);
    };

    // TTFT and decode tokens/s: one bar series per method, so the legend names the methods.
    for (QCustomPlot* plot : {m_ttftPlot, m_tokensPerSecondPlot}) {
        plot->clearPlottables();
        const bool isTtft = plot == m_ttftPlot;
        std::map<std::string, QCPBars*> seriesOf;
        double yMax = 0;
        for (const RunEntry& run : m_runs) {
            QCPBars*& bars = seriesOf[run.method];
            if (!bars)
                bars = addBars(plot, methodLegendName(run.method), methodColor(run.method), 0.6);
            const double value = isTtft ? run.ttftMs : run.decodeTokensPerSecond;
            bars->addData(run.number, value);
            yMax = std::max(yMax, value);
        }
        finish(plot, yMax, !m_runs.empty());
    }

    // Kept visual tokens per answer, beside the unreduced count.
    m_keptPlot->clearPlottables();
    {
        QCPGraph* unreduced = m_keptPlot->addGraph();
        unreduced->setName(tr("unreduced"));
        unreduced->setPen(QPen(kGrey, 2, Qt::DashLine));
        QCPGraph* kept = m_keptPlot->addGraph();
        kept->setName(tr("kept"));
        kept->setPen(QPen(kBlue, 2));
        kept->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, kBlue, 6));
        double yMax = 0;
        for (const RunEntry& run : m_runs) {
            unreduced->addData(run.number, run.tokensUnreduced);
            kept->addData(run.number, run.tokensKept);
            yMax = std::max<double>({yMax, double(run.tokensKept), double(run.tokensUnreduced)});
        }
        finish(m_keptPlot, yMax, !m_runs.empty());
    }

    // Stacked splits: each part sits on the one before it.
    const auto stacked = [&](QCustomPlot* plot, const std::vector<std::pair<QString, QColor>>& parts,
                             const std::function<std::vector<double>(const RunEntry&)>& valuesOf) {
        plot->clearPlottables();
        std::vector<QCPBars*> bars;
        for (const auto& [name, colour] : parts) {
            QCPBars* series = addBars(plot, name, colour, 0.6);
            if (!bars.empty())
                series->moveAbove(bars.back());
            bars.push_back(series);
        }
        double yMax = 0;
        for (const RunEntry& run : m_runs) {
            const std::vector<double> values = valuesOf(run);
            double total = 0;
            for (size_t i = 0; i < bars.size(); ++i) {
                bars[i]->addData(run.number, values[i]);
                total += values[i];
            }
            yMax = std::max(yMax, total);
        }
        finish(plot, yMax, !m_runs.empty());
    };
    stacked(m_timePlot, {{tr("preprocess"), kPurple}, {tr("vision"), kBlue}, {tr("prefill"), kOrange}, {tr("decode"), kGreen}},
            [](const RunEntry& run) { return std::vector<double>{run.preprocessMs, run.visionMs, run.prefillMs, run.decodeMs}; });

}

}  // namespace tokenscope
