#pragma once

// The method form, generated from the method registry (core/methods/method_registry.h) for one
// model family: a method list, then for the chosen method its presets and one control per knob
// (number: slider; integer: slider or spin box; flag: check box; choice: combo box; layer list:
// one chip per layer; other lists: a text field), each with the registry's label and tooltip;
// advanced knobs behind a "More" toggle; the settings in one line at the bottom, as the CLI prints
// them. Every method keeps its own knob values while another is shown. A knob change makes the
// preset "custom". It only reports what the user chose. GUI thread only.

#include <QString>
#include <QWidget>

#include <map>
#include <vector>

#include "methods/method_registry.h"
#include "methods/method_settings.h"

class QCheckBox;
class QComboBox;
class QFormLayout;
class QLabel;
class QLineEdit;
class QSlider;
class QSpinBox;
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

class MethodPanel : public QWidget {
    Q_OBJECT
public:
    explicit MethodPanel(FamilyKind family, QWidget* parent = nullptr);

    // The methods of this family are listed; layer chips follow the model's depth (a preset is
    // mapped onto it again).
    void setFamily(FamilyKind family);
    FamilyKind family() const { return m_family; }
    void setLayerCount(int layerCount);
    int layerCount() const { return m_layerCount; }
    // A method that cannot run on this model stays listed, greyed, with the reason as its tooltip
    // (e.g. DynamicViT without trained predictors). Choosing it is refused.
    void setMethodAvailable(const std::string& method, bool isAvailable, const QString& reason = {});

    // The values a method shows when it is chosen next (a model's trained DynamicViT keep ratio).
    void setMethodDefaults(const MethodSettings& settings);

    MethodSettings settings() const;
    void setSettings(const MethodSettings& settings);  // no settingsChanged
    // Applies a preset of the current method; presets name layers of 12-layer models, so a model of
    // another depth gets them at the same relative depth (lastNote() says so).
    void applyPreset(const QString& name);
    QString lastNote() const { return m_note; }

    // For tests and the window's shortcuts.
    QComboBox* methodCombo() const { return m_method; }
    ValueSlider* slider(const std::string& key) const;  // nullptr when the shown method has no such slider
    QWidget* knobWidget(const std::string& key) const;

Q_SIGNALS:
    void settingsChanged();
    void noteChanged(const QString& note);

private:
    void rebuildMethods();
    void buildKnobs();  // the shown method's form
    void readKnobs();   // widgets -> m_current
    void showSummary();
    void knobEdited();
    const MethodDescriptor& shown() const;

    FamilyKind m_family;
    int m_layerCount = 12;
    QComboBox* m_method = nullptr;
    QComboBox* m_preset = nullptr;
    QLabel* m_methodHint = nullptr;
    QWidget* m_knobBox = nullptr;
    QFormLayout* m_form = nullptr;
    QFormLayout* m_advancedForm = nullptr;
    QToolButton* m_more = nullptr;
    QWidget* m_advancedBox = nullptr;
    QLabel* m_summary = nullptr;
    std::map<std::string, QWidget*> m_knobWidgets;                 // the shown method's, by key
    std::map<std::string, std::vector<QToolButton*>> m_chips;      // layer lists, by key
    std::map<std::string, MethodSettings> m_remembered;            // every method's last settings
    std::map<std::string, std::pair<bool, QString>> m_available;   // method -> (available, reason)
    MethodSettings m_current;
    QString m_note;
    bool m_isUpdating = false;
};

}  // namespace tokenscope
