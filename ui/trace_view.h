#pragma once

// The one trace view, for every model family and geometry: a row of view options, the canvas
// (a patch grid's overlay or an AnyRes tile board; further pages such as ViLT's compare split can
// be added), the legend and the counts, what a view adds below them (the question's word pieces,
// the partition table) and the layer scrubber over the trace's stage-tagged layers. Its owner
// draws the pictures and answers currentLayerChanged; the view lays them out and steps through the
// layers (←/→ and Space are the owner's shortcuts). GUI thread only.

#include <QWidget>

class QHBoxLayout;
class QLabel;
class QStackedWidget;
class QVBoxLayout;

namespace tokenscope {

class CanvasView;
class LayerScrubber;
struct Trace;

class TraceView : public QWidget {
    Q_OBJECT
public:
    explicit TraceView(QWidget* parent = nullptr);

    CanvasView* canvas() const { return m_canvas; }
    LayerScrubber* scrubber() const { return m_scrubber; }
    QLabel* legend() const { return m_legend; }
    QLabel* counts() const { return m_counts; }
    QStackedWidget* pages() const { return m_pages; }  // page 0 is canvas()

    // A message above the canvas until the next one; an error is drawn as one; empty hides it.
    void showMessage(const QString& message, bool isError);
    QString messageText() const;

    void addOption(QWidget* widget);  // to the row above the canvas (the row shows once it has one)
    void addOptionStretch();
    void addBelow(QWidget* widget);   // between the counts and the scrubber

    // The scrubber steps through these layers (the shown position is clamped). Returns whether they
    // differ (by name) from the layers it had. No currentLayerChanged.
    bool setTrace(const Trace& trace);
    int currentLayer() const;
    void showLayer(int layer);  // clamped; no currentLayerChanged

Q_SIGNALS:
    void currentLayerChanged(int layer);

private:
    QLabel* m_banner = nullptr;
    QWidget* m_optionsRow = nullptr;
    QHBoxLayout* m_options = nullptr;
    QStackedWidget* m_pages = nullptr;
    CanvasView* m_canvas = nullptr;
    QLabel* m_legend = nullptr;
    QLabel* m_counts = nullptr;
    QVBoxLayout* m_below = nullptr;
    LayerScrubber* m_scrubber = nullptr;
};

}  // namespace tokenscope
