#include "ui/llava_controls.h"

#include <QComboBox>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QSpinBox>
#include <QVBoxLayout>

#include <algorithm>

#include "ui/method_panel.h"

namespace tokenscope {

namespace {

const char* const kDefaultPrompt = "What is shown in this image?";

}  // namespace

LlavaControls::LlavaControls(MethodPanel* methods, QWidget* parent) : QWidget(parent), m_methods(methods)
{
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(6, 0, 6, 6);

    auto* answer = new QGroupBox(tr("Prompt"), this);
    auto* answerLayout = new QVBoxLayout(answer);
    m_prompt = new QPlainTextEdit(answer);
    m_prompt->setPlainText(tr(kDefaultPrompt));
    m_prompt->setTabChangesFocus(true);
    m_prompt->setFixedHeight(72);
    m_prompt->setToolTip(tr("What to ask about the image; it is put into the model's chat template after the image."));
    auto* lengthRow = new QFormLayout;
    m_maxNewTokens = new QSpinBox(answer);
    m_maxNewTokens->setRange(1, 4096);
    m_maxNewTokens->setValue(48);
    m_maxNewTokens->setToolTip(tr("The longest answer in tokens; generation also stops at the model's end token."));
    lengthRow->addRow(tr("Max new tokens"), m_maxNewTokens);
    auto* buttons = new QHBoxLayout;
    m_generate = new QPushButton(tr("Generate"), answer);
    m_generate->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_Return));
    m_generate->setToolTip(tr("Answer the prompt about the image with these settings, streaming the answer (Ctrl+Return)."));
    m_generate->setDefault(true);
    m_stop = new QPushButton(tr("Stop"), answer);
    m_stop->setToolTip(tr("Stop the answer being generated; what came so far stays."));
    buttons->addWidget(m_generate, 2);
    buttons->addWidget(m_stop, 1);
    answerLayout->addWidget(m_prompt);
    answerLayout->addLayout(lengthRow);
    answerLayout->addLayout(buttons);
    layout->addWidget(answer);

    setGenerating(false);
    connect(m_methods, &MethodPanel::settingsChanged, this, &LlavaControls::settingsChanged);
    connect(m_generate, &QPushButton::clicked, this, &LlavaControls::generateRequested);
    connect(m_stop, &QPushButton::clicked, this, &LlavaControls::stopRequested);
}

MethodSettings LlavaControls::settings() const { return m_methods->settings(); }

void LlavaControls::setSettings(const MethodSettings& settings)
{
    const QSignalBlocker blocker(m_methods);
    m_methods->setSettings(settings);
}

QComboBox* LlavaControls::methodCombo() const { return m_methods->methodCombo(); }

ValueSlider* LlavaControls::budgetSlider() const
{
    ValueSlider* budget = m_methods->slider("budget");
    return budget ? budget : m_methods->slider("keep");
}

ValueSlider* LlavaControls::alphaSlider() const { return m_methods->slider("alpha"); }

QComboBox* LlavaControls::modeCombo() const { return qobject_cast<QComboBox*>(m_methods->knobWidget("mode")); }

QString LlavaControls::prompt() const { return m_prompt->toPlainText(); }

void LlavaControls::setPrompt(const QString& prompt) { m_prompt->setPlainText(prompt); }

int LlavaControls::maxNewTokens() const { return m_maxNewTokens->value(); }

void LlavaControls::setMaxNewTokens(int count) { m_maxNewTokens->setValue(count); }

void LlavaControls::setGenerating(bool isGenerating)
{
    m_isGenerating = isGenerating;
    m_generate->setEnabled(!isGenerating);
    m_generate->setText(isGenerating ? tr("Generating…") : tr("Generate"));
    m_stop->setEnabled(isGenerating);
}

void LlavaControls::setFeatureLayer(int layer)
{
    m_methods->methodCombo()->setToolTip(tr("Which visual tokens of the image and its tiles the language model gets to "
                                            "read. HiRED ranks them by the CLS attention of vision layer %1 (the feature "
                                            "layer).").arg(layer));
}

}  // namespace tokenscope
