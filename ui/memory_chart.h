#pragma once

// Memory as the allocator counted it (engine/memory.h), for every model family: per run, stacked
// bars of weights, activation peak and KV cache with the process RSS peak as a line; per layer, the
// activation peak of the current run beside a reference run (the unreduced model), where a reducer's
// effect shows in either protocol. The protocol (inference or autograd) is named in the axis.
// Hovering shows the values. GUI thread only; replots are queued.

#include <QString>
#include <QWidget>

#include <deque>
#include <vector>

#include "engine/memory.h"

class QCustomPlot;

namespace tokenscope {

class MemoryChart : public QWidget {
    Q_OBJECT
public:
    explicit MemoryChart(QWidget* parent = nullptr);

    // Appends a run to the history (the last kHistory runs are drawn).
    void addRun(const QString& label, const MemoryReport& memory);
    // The per-layer curves: the current run and, when given, the reference one.
    void setLayers(const MemoryReport& current, const QString& currentLabel, const MemoryReport* reference,
                   const QString& referenceLabel);
    // run,label,protocol,weights_mib,activations_peak_mib,activations_peak_where,kv_cache_mib,rss_peak_mib
    // then layer,<current>_mib,<reference>_mib.
    QString csv() const;
    int runCount() const { return int(m_runs.size()); }

private:
    struct Run {
        int number = 0;
        QString label;
        MemoryReport memory;
    };
    void replotRuns();
    void replotLayers();

    QCustomPlot* m_runsPlot;
    QCustomPlot* m_layersPlot;
    std::deque<Run> m_runs;
    int m_counter = 0;
    MemoryReport m_current, m_reference;
    QString m_currentLabel, m_referenceLabel;
    bool m_hasCurrent = false, m_hasReference = false;
};

}  // namespace tokenscope
