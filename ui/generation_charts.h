#pragma once

// The charts ChartsPanel shows for a model that generates: QCustomPlot charts of the answers
// generated in this window, one entry per answer,
// newest on the right: time to first token, decode tokens/s, kept visual tokens over the runs
// (top tabs), the split of the time into preprocess / vision / prefill / decode as stacked bars, and
// the memory by kind per answer with the decoder layers' activation peaks beside the last unreduced
// answer's (MemoryChart, bottom tabs). Hovering shows the values.
// Charts replot with rpQueuedReplot. GUI thread only.

#include <QString>
#include <QWidget>

#include <deque>
#include <functional>

#include "engine/generation.h"

class QCustomPlot;
class QTabWidget;

namespace tokenscope {

class MemoryChart;

class GenerationCharts : public QWidget {
    Q_OBJECT
public:
    struct RunEntry {
        int number = 0;  // 1, 2, ... since the window opened
        QString label;   // "hired 0.2" etc.
        std::string method = "none";  // the registry's method id; "none" for an unreduced answer
        double ttftMs = 0, decodeTokensPerSecond = 0;
        double preprocessMs = 0, visionMs = 0, prefillMs = 0, decodeMs = 0;
        double weightsMiB = 0, activationsMiB = 0, kvCacheMiB = 0;
        int tokensKept = 0, tokensUnreduced = 0;
    };

    explicit GenerationCharts(QWidget* parent = nullptr);

    void addRun(const GenerateResult& result);
    void clear();
    const std::deque<RunEntry>& runs() const { return m_runs; }
    QTabWidget* speedTabs() const { return m_speedTabs; }
    QTabWidget* splitTabs() const { return m_splitTabs; }
    MemoryChart* memory() const { return m_memory; }

private:
    void replot();
    void installHover(QCustomPlot* plot, std::function<QString(const RunEntry&)> describe);

    QTabWidget* m_speedTabs;
    QTabWidget* m_splitTabs;
    QCustomPlot* m_ttftPlot;
    QCustomPlot* m_tokensPerSecondPlot;
    QCustomPlot* m_keptPlot;
    QCustomPlot* m_timePlot;
    MemoryChart* m_memory;
    MemoryReport m_lastFullMemory;  // the newest unreduced answer's, the per-layer reference
    bool m_hasFull = false;
    std::deque<RunEntry> m_runs;
    int m_runCounter = 0;
};

}  // namespace tokenscope
