#pragma once

// The left-hand controls: model (folder, recent, device, dtype, load progress and cancel), input
// (sample gallery, open, paste, question), method and every knob of it (presets, reference/fixed
// mode), view toggles and compare mode. Each control carries a one-sentence tooltip for students.
// It only reports what the user chose; the window decides what to run. GUI thread only.

#include <QString>
#include <QStringList>
#include <QWidget>

#include <map>
#include <optional>
#include <vector>

#include "engine/trace.h"
#include "ui/method_panel.h"
#include "ui/run_types.h"
#include "ui/sample_scenes.h"
#include "viz/overlay.h"

class QAbstractButton;
class QCheckBox;
class QComboBox;
class QDoubleSpinBox;
class QFormLayout;
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
    // The loaded model's own settings as chosen (key -> value; METER: fusion-order, head).
    std::map<std::string, std::string> modelSettings() const;
    QComboBox* modelSettingCombo(const std::string& key) const;  // null when the model lacks it
    // Off while a LLaVA-NeXT model is shown: the model, the image and the method stay (the
    // question, view and compare groups are ViLT's).
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
    // A PuMer paper preset ("vqav2", "nlvr2", "snli-ve") for the current model depth; presets name
    // layers of 12-layer ViLT, so a shallower model gets them at the same relative depth.
    void applyPumerPreset(const QString& name);
    MethodPanel* methodPanel() const { return m_methods; }
    // The one method panel lists this family's methods (setModelInfo calls it); each family's last
    // settings come back when its model does (no settingsChanged).
    void setMethodFamily(FamilyKind family);
    // The settings a family's model starts with (now, when the panel shows that family).
    void setMethodSettingsFor(FamilyKind family, const MethodSettings& settings);
    // For tests and the window's shortcuts (the shown method's knobs; null when it has none).
    ValueSlider* pruneRatioSlider() const;
    ValueSlider* imageMergeRatioSlider() const;
    QComboBox* methodCombo() const;

    OverlayStyle overlayStyle() const;

    bool isCompareEnabled() const;
    void setCompareEnabled(bool isEnabled);
    // Compare mode on, configuration B the unreduced model (a pinned B stays pinned for later).
    void compareAgainstUnreduced();
    // The configuration B of compare mode: None (unreduced) or the pinned settings.
    MethodSettings compareSettings() const;
    QString compareName() const;
    // The model B runs on when it is not the loaded one (the model list's entries); unset: this one.
    std::optional<ModelSource> compareModelSource() const;
    bool setCompareModel(const QString& folder);  // false when the list lacks it

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
    void modelSettingsChanged();
    void overlayStyleChanged();
    void compareChanged();
    void noteChanged(const QString& note);

private:
    QWidget* buildModelGroup();
    QWidget* buildInputGroup();
    QWidget* buildMethodGroup();
    QWidget* buildViewGroup();
    QWidget* buildCompareGroup();
    void showModelSettings(const std::vector<ModelOption>& options);
    void fillCompareModels();  // the model list, as B's choices

    // Model
    QComboBox* m_model = nullptr;
    QComboBox* m_device = nullptr;
    QComboBox* m_precision = nullptr;
    QPushButton* m_loadButton = nullptr;
    QPushButton* m_cancelLoadButton = nullptr;
    QProgressBar* m_loadProgress = nullptr;
    QLabel* m_modelInfo = nullptr;
    QWidget* m_modelSettings = nullptr;
    QFormLayout* m_modelSettingsForm = nullptr;
    std::vector<std::pair<std::string, QComboBox*>> m_modelSettingCombos;
    QStringList m_recent;
    // Input
    QListWidget* m_gallery = nullptr;
    QComboBox* m_question = nullptr;
    // Method
    MethodPanel* m_methods = nullptr;
    QString m_methodTip;
    std::map<FamilyKind, MethodSettings> m_familySettings;
    // View
    QCheckBox* m_showPruned = nullptr;
    QCheckBox* m_showMerged = nullptr;
    QCheckBox* m_showHeatmap = nullptr;
    QCheckBox* m_showGrid = nullptr;
    QCheckBox* m_showDropLabels = nullptr;
    // Compare
    QCheckBox* m_compare = nullptr;
    QComboBox* m_compareWith = nullptr;
    QComboBox* m_compareModel = nullptr;
    MethodSettings m_pinned;
    bool m_hasPinned = false;
    QString m_note;
    // Hidden in the LLaVA-NeXT view.
    std::vector<QWidget*> m_viltOnly;
};

}  // namespace tokenscope
