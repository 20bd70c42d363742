#pragma once

// The layer scrubber under the canvas: one tick per encoder layer, the layers where the method
// reduced tokens marked in colour, a play button that steps through the layers at an adjustable
// speed. GUI thread only.

#include <QWidget>

#include <vector>

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

    // layerNumbers: TraceLayer::layer of each position; reduced: whether that layer reduced tokens.
    void setLayers(const std::vector<int>& layerNumbers, const std::vector<bool>& reduced);
    int layerCount() const;
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
    std::vector<int> m_layerNumbers;
    std::vector<bool> m_reduced;
    int m_current = 0;
};

}  // namespace tokenscope
