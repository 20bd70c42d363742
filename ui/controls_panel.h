#pragma once

// The left-hand controls: model (folder, recent, device, dtype, load progress and cancel), input
// (sample gallery, open, paste, question), method and every knob of it (presets, reference/fixed
// mode), view toggles and compare mode. Each control carries a one-sentence tooltip for students.
// It only reports what the user chose; the window decides what to run. GUI thread only.

#include <QString>
#include <QStringList>
#include <QWidget>

#include <vector>

#include "engine/trace.h"
#include "ui/run_types.h"
#include "ui/sample_scenes.h"
#include "viz/overlay.h"

class QAbstractButton;
class QCheckBox;
class QComboBox;
class QDoubleSpinBox;
class QGridLayout;
class QLabel;
class QLineEdit;
class QListWidget;
class QProgressBar;
class QPushButton;
class QSlider;
class QSpinBox;
class QStackedWidget;
class QToolButton;

namespace tokenscope {

// A slider over [minimum, maximum] in `step`s with its value printed beside it.
class ValueSlider : public QWidget {
    Q_OBJECT
public:
    ValueSlider(double minimum, double maximum, double step, int decimals, QWidget* parent = nullptr);
    double value() const;
    void setValue(double value);  // no signal
    QSlider* slider() const { return m_slider; }
Q_SIGNALS:
    void valueChanged(double value);

private:
    QSlider* m_slider;
    QLabel* m_label;
    double m_minimum, m_step;
    int m_decimals;
};

class ControlsPanel : public QWidget {
    Q_OBJECT
public:
    explicit ControlsPanel(QWidget* parent = nullptr);

    // Model
    void setRecentModels(const QStringList& folders);
    QStringList recentModels() const { return m_recent; }
    ModelSource selectedModelSource() const;
    void setLoading(bool isLoading, double fraction = 0);
    void setModelInfo(const ModelInfo& info);
    // Off while a LLaVA-NeXT model is shown: only the model and the image stay (the question,
    // method, view and compare groups are ViLT's).
    void setViltControlsVisible(bool isVisible);

    // Input
    // The gallery; a scene's question also joins the question suggestions.
    void setSampleImages(const QList<SampleScene>& samples);
    QString question() const;
    void setQuestion(const QString& question);

    // Method: the settings the knobs describe, and the reverse (no settingsChanged).
    MethodSettings methodSettings() const;
    void setMethodSettings(const MethodSettings& settings);
    // Rebuilds the layer chips for a model of this depth and maps the preset onto it.
    void setLayerCount(int layerCount);
    // A paper preset ("vqav2", "nlvr2", "snli-ve") for the current model depth; presets name layers
    // of 12-layer ViLT, so a shallower model gets them at the same relative depth.
    void applyPumerPreset(const QString& name);
    // For tests and the window's shortcuts.
    ValueSlider* pruneRatioSlider() const { return m_pruneRatio; }
    ValueSlider* imageMergeRatioSlider() const { return m_imageMergeRatio; }
    QComboBox* methodCombo() const { return m_method; }

    OverlayStyle overlayStyle() const;

    bool isCompareEnabled() const;
    void setCompareEnabled(bool isEnabled);
    // The configuration B of compare mode: None (unreduced) or the pinned settings.
    MethodSettings compareSettings() const;
    QString compareName() const;

    QString lastNote() const { return m_note; }

Q_SIGNALS:
    void loadModelRequested(const tokenscope::ModelSource& source);
    void openModelFolderRequested();
    void cancelLoadRequested();
    void openImageRequested();
    void pasteImageRequested();
    void sampleImageChosen(const QString& path);
    void questionChanged(const QString& question);
    void settingsChanged();  // method or a knob changed
    void overlayStyleChanged();
    void compareChanged();
    void noteChanged(const QString& note);

private:
    QWidget* buildModelGroup();
    QWidget* buildInputGroup();
    QWidget* buildMethodGroup();
    QWidget* buildViewGroup();
    QWidget* buildCompareGroup();
    void updateMethodPage();
    void emitSettingsChanged();
    std::vector<int> checkedLayers() const;
    void setCheckedLayers(const std::vector<int>& layers);

    // Model
    QComboBox* m_model = nullptr;
    QComboBox* m_device = nullptr;
    QComboBox* m_precision = nullptr;
    QPushButton* m_loadButton = nullptr;
    QPushButton* m_cancelLoadButton = nullptr;
    QProgressBar* m_loadProgress = nullptr;
    QLabel* m_modelInfo = nullptr;
    QStringList m_recent;
    // Input
    QListWidget* m_gallery = nullptr;
    QComboBox* m_question = nullptr;
    // Method
    QComboBox* m_method = nullptr;
    QStackedWidget* m_pages = nullptr;
    QComboBox* m_preset = nullptr;
    QComboBox* m_mode = nullptr;
    ValueSlider* m_pruneRatio = nullptr;
    ValueSlider* m_imageMergeRatio = nullptr;
    ValueSlider* m_textMergeRatio = nullptr;
    QComboBox* m_score = nullptr;
    QComboBox* m_mergeStyle = nullptr;
    QWidget* m_chipBox = nullptr;
    QGridLayout* m_chipLayout = nullptr;
    std::vector<QToolButton*> m_chips;
    ValueSlider* m_tomeR = nullptr;
    ValueSlider* m_tomeInflect = nullptr;
    QLineEdit* m_tomeSchedule = nullptr;
    QCheckBox* m_tomeJoint = nullptr;
    ValueSlider* m_keepRatio = nullptr;
    QSpinBox* m_shortestEdge = nullptr;
    QSpinBox* m_seed = nullptr;
    ValueSlider* m_dynamicVitKeepRatio = nullptr;
    QLineEdit* m_pruneLocations = nullptr;
    QLabel* m_methodSummary = nullptr;
    int m_layerCount = 12;
    bool m_isUpdating = false;
    // View
    QCheckBox* m_showPruned = nullptr;
    QCheckBox* m_showMerged = nullptr;
    QCheckBox* m_showHeatmap = nullptr;
    QCheckBox* m_showGrid = nullptr;
    QCheckBox* m_showDropLabels = nullptr;
    // Compare
    QCheckBox* m_compare = nullptr;
    QComboBox* m_compareWith = nullptr;
    MethodSettings m_pinned;
    bool m_hasPinned = false;
    QString m_note;
    // Hidden in the LLaVA-NeXT view.
    std::vector<QWidget*> m_viltOnly;
};

}  // namespace tokenscope
