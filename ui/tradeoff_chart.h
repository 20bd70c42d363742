#pragma once

// The Trade-off chart (a tab of ChartsPanel): accuracy against speed-up over the unreduced model,
// one series per method from a sweep table (sweep.csv, as `tokenscope-cli eval --sweep` writes it
// and a model folder may carry), with the window's current configuration as a marked point
// measured by a quick evaluation on the worker thread.
//
// The x axis is the speed-up, not examples/s: a shipped sweep was measured on another machine,
// while the speed-up of the current point is measured here against the unreduced model in the
// same evaluation, so the two are comparable. Hovering a point shows its settings and examples/s.
// GUI thread only.

#include <QString>
#include <QWidget>

#include <optional>
#include <string>
#include <vector>

#include "tasks/eval/sweep_table.h"

class QCustomPlot;
class QLabel;

namespace tokenscope {

class TradeoffChart : public QWidget {
    Q_OBJECT
public:
    explicit TradeoffChart(QWidget* parent = nullptr);

    struct CurrentPoint {
        QString settings;  // describe() of the configuration
        double accuracy = 0;  // 0..1
        double speedup = 1;   // examples/s over the unreduced examples/s, measured together
        double examplesPerSecond = 0;
        double unreducedAccuracy = 0;
        double agreement = 1;
        int examples = 0;
    };

    void setSweep(const std::vector<SweepRow>& rows, const QString& sourceName);
    void clearSweep();
    void setCurrentPoint(const CurrentPoint& point);
    void clearCurrentPoint();
    // One line under the chart, e.g. "measuring the current configuration on 96 test scenes…".
    void setStatus(const QString& status);

    // For tests.
    QCustomPlot* plot() const { return m_plot; }
    const std::vector<SweepRow>& sweep() const { return m_rows; }
    std::vector<std::string> seriesMethods() const { return m_seriesMethods; }  // the series drawn, in order
    std::optional<CurrentPoint> currentPoint() const { return m_current; }
    QString status() const;
    QString sourceName() const { return m_sourceName; }

private:
    void rebuild();

    QCustomPlot* m_plot;
    QLabel* m_status;
    QLabel* m_pointLabel;
    std::vector<SweepRow> m_rows;
    std::vector<std::string> m_seriesMethods;
    QString m_sourceName;
    std::optional<CurrentPoint> m_current;
};

}  // namespace tokenscope
