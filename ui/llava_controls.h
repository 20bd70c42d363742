#pragma once

// The left-hand controls of the LLaVA-NeXT view: the prompt, the answer length, Generate
// (Ctrl+Return) and Stop. The visual-token method and its knobs are the window's one method panel
// (the registry's form for LLaVA: none, HiRED with budget, α and mode, uniform, random), which this
// widget reads and reports but does not own. Every control carries a one-sentence tooltip. It only
// reports what the user chose; LlavaView decides what to run. GUI thread only.

#include <QString>
#include <QWidget>

#include "engine/generation.h"

class QComboBox;
class QLabel;
class QPlainTextEdit;
class QPushButton;
class QSpinBox;

namespace tokenscope {

class MethodPanel;
class ValueSlider;

class LlavaControls : public QWidget {
    Q_OBJECT
public:
    // methods: the window's method panel (it outlives this widget).
    explicit LlavaControls(MethodPanel* methods, QWidget* parent = nullptr);

    // The settings the knobs describe, and the reverse (no settingsChanged).
    MethodSettings settings() const;
    void setSettings(const MethodSettings& settings);
    QString prompt() const;
    void setPrompt(const QString& prompt);
    int maxNewTokens() const;
    void setMaxNewTokens(int count);
    // While an answer is generated: Generate off, Stop on.
    void setGenerating(bool isGenerating);
    // The vision tower's feature layer (for the tooltips), e.g. 22 for CLIP ViT-L/336 at -2.
    void setFeatureLayer(int layer);

    // For tests and the window (the shown method's knobs; null when it has none).
    MethodPanel* methodPanel() const { return m_methods; }
    QComboBox* methodCombo() const;
    ValueSlider* budgetSlider() const;  // HiRED's budget, or random's / uniform's kept fraction
    ValueSlider* alphaSlider() const;
    QComboBox* modeCombo() const;
    QSpinBox* maxNewTokensBox() const { return m_maxNewTokens; }
    QPlainTextEdit* promptEdit() const { return m_prompt; }
    QPushButton* generateButton() const { return m_generate; }
    QPushButton* stopButton() const { return m_stop; }

Q_SIGNALS:
    void settingsChanged();  // method or a knob changed
    void generateRequested();
    void stopRequested();

private:
    MethodPanel* m_methods = nullptr;
    QPlainTextEdit* m_prompt = nullptr;
    QSpinBox* m_maxNewTokens = nullptr;
    QPushButton* m_generate = nullptr;
    QPushButton* m_stop = nullptr;
    bool m_isGenerating = false;
};

}  // namespace tokenscope
