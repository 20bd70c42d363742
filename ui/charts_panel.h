#pragma once

// QCustomPlot charts of the runs: latency per layer split into attention, reducer and MLP (this run
// beside the unreduced one), memory by kind per run and the activation peak per layer
// (MemoryChart), total latency over the last runs, tokens per layer as a survival timeline (image
// and text, this run beside the unreduced one), and the accuracy/speed trade-off (TradeoffChart).
// Hovering a chart shows the values under the mouse.
// A model that generates gets per-answer charts instead (GenerationCharts: time to first token,
// decode speed, kept visual tokens, the time and memory splits): the series follow the model's
// capabilities. Charts replot with rpQueuedReplot, so bursts of updates cost one repaint.
// GUI thread only.

#include <QString>
#include <QWidget>

#include <deque>
#include <functional>
#include <vector>

#include "engine/engine.h"
#include "engine/generation.h"

class QCustomPlot;
class QTabWidget;

namespace tokenscope {

class GenerationCharts;
class MemoryChart;
class TradeoffChart;

class ChartsPanel : public QWidget {
    Q_OBJECT
public:
    explicit ChartsPanel(QWidget* parent = nullptr);

    // Which charts show: the per-layer ones for a model that answers from labels, the per-answer
    // ones for a model that generates.
    void setCapabilities(const FamilyCapabilities& capabilities);
    // A finished answer of a generating model (appends to its charts).
    void addAnswer(const GenerateResult& result);
    GenerationCharts* generation() const { return m_generation; }
    // A finished run; baseline may be null. Appends to the history of runs.
    void addRun(const RunResult& result, const RunResult* baseline, double totalMs);
    void setCurrentLayerIndex(int index);  // a marker on the per-layer charts
    int historySize() const { return int(m_history.size()); }
    // metrics as CSV: one row per layer of the last run (and the history below it).
    QString metricsCsv() const;
    QTabWidget* tabs() const { return m_tabs; }
    TradeoffChart* tradeoff() const { return m_tradeoff; }
    MemoryChart* memory() const { return m_memory; }

private:
    struct HistoryEntry {
        int runNumber = 0;
        QString method;
        double totalMs = 0;
    };
    void installHover(QCustomPlot* plot, std::function<QString(double key)> describeKey);
    void updateLayerCharts();
    void updateHistoryChart();

    QTabWidget* m_tabs;
    GenerationCharts* m_generation;
    QCustomPlot* m_latencyPlot;
    QCustomPlot* m_historyPlot;
    QCustomPlot* m_tokensPlot;
    MemoryChart* m_memory;
    TradeoffChart* m_tradeoff;
    RunResult m_last;
    RunResult m_lastBaseline;
    bool m_hasLast = false;
    bool m_hasBaseline = false;
    int m_currentLayer = 0;
    int m_runCounter = 0;
    std::deque<HistoryEntry> m_history;  // the last kHistoryLength runs
};

}  // namespace tokenscope
