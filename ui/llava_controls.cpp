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

#include "ui/controls_panel.h"

namespace tokenscope {

namespace {

const char* const kDefaultPrompt = "What is shown in this image?";

QString methodHint(LlavaMethod method)
{
    switch (method) {
    case LlavaMethod::Full:
        return QObject::tr("Every visual token of the full image and of every tile reaches the language model.");
    case LlavaMethod::Hired:
        return QObject::tr("HiRED: the budget is split between the full image (α) and the tiles (by layer-0 CLS "
                           "attention); each partition keeps the tokens its feature-layer CLS attention ranks highest.");
    case LlavaMethod::Spatial:
        return QObject::tr("Spatial baseline: every g-th token of each partition, at the same budget.");
    case LlavaMethod::Random:
        return QObject::tr("Random baseline: a seeded random share of each partition's tokens, at the same budget.");
    }
    return {};
}

}  // namespace

LlavaControls::LlavaControls(QWidget* parent) : QWidget(parent)
{
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(6, 0, 6, 6);

    auto* tokens = new QGroupBox(tr("Visual tokens (LLaVA-NeXT)"), this);
    auto* tokensLayout = new QVBoxLayout(tokens);
    auto* form = new QFormLayout;
    m_method = new QComboBox(tokens);
    m_method->addItem(tr("Full (unreduced)"), int(LlavaMethod::Full));
    m_method->addItem(tr("HiRED"), int(LlavaMethod::Hired));
    m_method->addItem(tr("Spatial stride"), int(LlavaMethod::Spatial));
    m_method->addItem(tr("Random"), int(LlavaMethod::Random));
    m_method->setToolTip(tr("Which visual tokens of the image and its tiles the language model gets to read."));
    m_budget = new ValueSlider(0.05, 1.0, 0.05, 2, tokens);
    m_budget->setToolTip(tr("Budget: the fraction of the image's visual tokens (full image and tiles together) "
                            "the language model may read; 1 keeps them all."));
    m_alpha = new ValueSlider(0.0, 1.0, 0.05, 2, tokens);
    m_alpha->setToolTip(tr("α: the full image's share of the budget; the tiles share the rest by their attention."));
    m_mode = new QComboBox(tokens);
    m_mode->addItem(tr("paper"), int(HiredMode::Paper));
    m_mode->addItem(tr("reference"), int(HiredMode::Reference));
    m_mode->setToolTip(tr("paper follows the HiRED paper's Algorithm 1; reference reproduces the published "
                          "HiRED code, quirks included (tile budgets from bands, swapped grids)."));
    m_seed = new QSpinBox(tokens);
    m_seed->setRange(0, 1 << 30);
    m_seed->setToolTip(tr("Random baseline: the seed that decides which tokens are kept; same seed, same choice."));
    form->addRow(tr("Method"), m_method);
    form->addRow(tr("Budget"), m_budget);
    form->addRow(tr("α (full image)"), m_alpha);
    form->addRow(tr("Mode"), m_mode);
    form->addRow(tr("Seed"), m_seed);
    tokensLayout->addLayout(form);
    m_methodHint = new QLabel(tokens);
    m_methodHint->setWordWrap(true);
    m_methodHint->setStyleSheet(QStringLiteral("color: palette(mid); font-size: 11px;"));
    tokensLayout->addWidget(m_methodHint);
    layout->addWidget(tokens);

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

    VisualTokenSettings initial;
    initial.method = LlavaMethod::Hired;
    initial.budget = 0.2;
    initial.alpha = 0.5;
    setSettings(initial);
    setGenerating(false);

    connect(m_method, &QComboBox::currentIndexChanged, this, [this] {
        updateEnabled();
        Q_EMIT settingsChanged();
    });
    connect(m_mode, &QComboBox::currentIndexChanged, this, &LlavaControls::settingsChanged);
    connect(m_budget, &ValueSlider::valueChanged, this, &LlavaControls::settingsChanged);
    connect(m_alpha, &ValueSlider::valueChanged, this, &LlavaControls::settingsChanged);
    connect(m_seed, &QSpinBox::valueChanged, this, &LlavaControls::settingsChanged);
    connect(m_generate, &QPushButton::clicked, this, &LlavaControls::generateRequested);
    connect(m_stop, &QPushButton::clicked, this, &LlavaControls::stopRequested);
}

VisualTokenSettings LlavaControls::settings() const
{
    VisualTokenSettings settings;
    settings.method = LlavaMethod(m_method->currentData().toInt());
    settings.budget = m_budget->value();
    settings.alpha = m_alpha->value();
    settings.mode = HiredMode(m_mode->currentData().toInt());
    settings.seed = uint64_t(m_seed->value());
    return settings;
}

void LlavaControls::setSettings(const VisualTokenSettings& settings)
{
    const QSignalBlocker methodBlocker(m_method), modeBlocker(m_mode), seedBlocker(m_seed);
    m_method->setCurrentIndex(std::max(0, m_method->findData(int(settings.method))));
    m_budget->setValue(settings.budget);
    m_alpha->setValue(settings.alpha);
    m_mode->setCurrentIndex(std::max(0, m_mode->findData(int(settings.mode))));
    m_seed->setValue(int(settings.seed));
    updateEnabled();
}

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
    m_method->setToolTip(tr("Which visual tokens of the image and its tiles the language model gets to read. HiRED ranks "
                            "them by the CLS attention of vision layer %1 (the feature layer).").arg(layer));
}

void LlavaControls::updateEnabled()
{
    const LlavaMethod method = LlavaMethod(m_method->currentData().toInt());
    m_budget->setEnabled(method != LlavaMethod::Full);
    m_alpha->setEnabled(method == LlavaMethod::Hired);
    m_mode->setEnabled(method != LlavaMethod::Full);
    m_seed->setEnabled(method == LlavaMethod::Random);
    m_methodHint->setText(methodHint(method));
}

}  // namespace tokenscope
