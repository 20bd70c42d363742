#pragma once

// The layer scrubber under the canvas: one tick per layer of a trace (any stage), the layers where
// the method reduced tokens marked in colour, a play button that steps through the layers at an
// adjustable speed. GUI thread only.

#include <QString>
#include <QWidget>

#include <vector>

#include "engine/trace.h"

class QComboBox;
class QLabel;
class QTimer;
class QToolButton;

namespace tokenscope {

class ScrubberTrack;

class LayerScrubber : public QWidget {
    Q_OBJECT
public:
    explicit LayerScrubber(QWidget* parent = nullptr);

    // One position per layer of the trace, whatever its stage: the tick shows the layer's index in
    // its stage (or its label, "select"), the caption its name ("Layer 5", "Vision 2", "Unpad");
    // layers that reduced tokens are marked. The current position is clamped, not reset.
    void setTrace(const Trace& trace);
    int layerCount() const;
    QString layerName(int index) const;  // Trace::layerName of that position; empty outside
    int currentIndex() const { return m_current; }
    void setCurrentIndex(int index);  // clamped; emits currentIndexChanged when it changes
    void stepBy(int delta);
    bool isPlaying() const;
    void setPlaying(bool isPlaying);
    void togglePlaying() { setPlaying(!isPlaying()); }

Q_SIGNALS:
    void currentIndexChanged(int index);

private:
    void updateLabel();

    ScrubberTrack* m_track = nullptr;
    QToolButton* m_playButton = nullptr;
    QComboBox* m_speed = nullptr;
    QLabel* m_label = nullptr;
    QTimer* m_playTimer = nullptr;
    std::vector<QString> m_names;
    std::vector<QString> m_captions;
    std::vector<bool> m_reduced;
    int m_current = 0;
};

}  // namespace tokenscope
