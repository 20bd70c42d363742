#include "ui/controls_panel.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDir>
#include <QFileInfo>
#include <QFormLayout>
#include <QGridLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QListWidget>
#include <QProgressBar>
#include <QPushButton>
#include <QSlider>
#include <QSpinBox>
#include <QStackedWidget>
#include <QStandardItemModel>
#include <QToolButton>
#include <QVBoxLayout>

#include <algorithm>
#include <cmath>
#include <set>

#include "common/error.h"

namespace tokenscope {

namespace {

const char* const kBuiltinPrefix = "builtin:";

enum Page { PageNone, PagePumer, PageTome, PageKeep, PageDynamicVit };

Page pageOf(Method method)
{
    switch (method) {
    case Method::Pumer: return PagePumer;
    case Method::Tome: return PageTome;
    case Method::RandomDrop:
    case Method::UniformDrop:
    case Method::SmallerResolution: return PageKeep;
    case Method::DynamicVit: return PageDynamicVit;
    case Method::None: break;
    }
    return PageNone;
}

QLabel* hint(const QString& text)
{
    auto* label = new QLabel(text);
    label->setWordWrap(true);
    label->setStyleSheet(QStringLiteral("color: palette(mid); font-size: 11px;"));
    return label;
}

}  // namespace

ValueSlider::ValueSlider(double minimum, double maximum, double step, int decimals, QWidget* parent)
    : QWidget(parent), m_minimum(minimum), m_step(step), m_decimals(decimals)
{
    auto* layout = new QHBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    m_slider = new QSlider(Qt::Horizontal, this);
    m_slider->setRange(0, int(std::lround((maximum - minimum) / step)));
    m_label = new QLabel(this);
    m_label->setMinimumWidth(38);
    m_label->setAlignment(Qt::AlignRight | Qt::AlignVCenter);
    layout->addWidget(m_slider, 1);
    layout->addWidget(m_label);
    connect(m_slider, &QSlider::valueChanged, this, [this] {
        m_label->setText(QString::number(value(), 'f', m_decimals));
        Q_EMIT valueChanged(value());
    });
    m_label->setText(QString::number(value(), 'f', m_decimals));
}

double ValueSlider::value() const { return m_minimum + m_slider->value() * m_step; }

void ValueSlider::setValue(double value)
{
    const QSignalBlocker blocker(m_slider);
    m_slider->setValue(int(std::lround((value - m_minimum) / m_step)));
    m_label->setText(QString::number(this->value(), 'f', m_decimals));
}

ControlsPanel::ControlsPanel(QWidget* parent) : QWidget(parent)
{
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(6, 6, 6, 6);
    layout->addWidget(buildModelGroup());
    layout->addWidget(buildInputGroup());
    for (QWidget* group : {buildMethodGroup(), buildViewGroup(), buildCompareGroup()}) {
        layout->addWidget(group);
        m_viltOnly.push_back(group);
    }
    layout->addStretch(1);
    setLayerCount(12);
    updateMethodPage();
}

// ---------------------------------------------------------------------------------------- model

QWidget* ControlsPanel::buildModelGroup()
{
    auto* group = new QGroupBox(tr("Model"), this);
    auto* layout = new QGridLayout(group);
    m_model = new QComboBox(group);
    m_model->setToolTip(tr("The model to run: a Hugging Face ViLT or LLaVA-NeXT folder you opened before, or a "
                           "built-in architecture with random weights."));
    m_model->setSizeAdjustPolicy(QComboBox::AdjustToMinimumContentsLengthWithIcon);
    m_model->setMinimumContentsLength(14);
    auto* openButton = new QToolButton(group);
    openButton->setText(tr("Open…"));
    openButton->setToolTip(tr("Choose a model folder (config.json and weights) from disk."));
    m_device = new QComboBox(group);
    m_device->addItem(tr("CPU"), int(DeviceKind::Cpu));
    if (cudaAvailable())
        m_device->addItem(tr("CUDA GPU"), int(DeviceKind::Cuda));
    m_device->setToolTip(tr("Where the model runs: the processor, or a CUDA graphics card when one is present."));
    m_precision = new QComboBox(group);
    for (Precision precision : {Precision::Fp32, Precision::Bf16, Precision::Fp16})
        m_precision->addItem(QString::fromStdString(precisionName(precision)), int(precision));
    m_precision->setToolTip(tr("Number format of the weights: fp32 is exact, bf16/fp16 halve memory "
                               "and can be faster on a GPU at a small cost in accuracy."));
    m_loadButton = new QPushButton(tr("Load"), group);
    m_loadButton->setToolTip(tr("Load the chosen model with this device and number format."));
    m_cancelLoadButton = new QPushButton(tr("Cancel"), group);
    m_cancelLoadButton->setToolTip(tr("Stop loading; the model loaded before stays in use."));
    m_cancelLoadButton->setVisible(false);
    m_loadProgress = new QProgressBar(group);
    m_loadProgress->setRange(0, 1000);
    m_loadProgress->setTextVisible(true);
    m_loadProgress->setVisible(false);
    m_modelInfo = new QLabel(tr("no model loaded"), group);
    m_modelInfo->setWordWrap(true);
    layout->addWidget(m_model, 0, 0, 1, 3);
    layout->addWidget(openButton, 0, 3);
    layout->addWidget(m_device, 1, 0);
    layout->addWidget(m_precision, 1, 1);
    layout->addWidget(m_loadButton, 1, 2, 1, 2);
    layout->addWidget(m_loadProgress, 2, 0, 1, 3);
    layout->addWidget(m_cancelLoadButton, 2, 3);
    layout->addWidget(m_modelInfo, 3, 0, 1, 4);
    layout->setColumnStretch(0, 1);
    layout->setColumnStretch(1, 1);

    connect(openButton, &QToolButton::clicked, this, &ControlsPanel::openModelFolderRequested);
    connect(m_loadButton, &QPushButton::clicked, this, [this] { Q_EMIT loadModelRequested(selectedModelSource()); });
    connect(m_cancelLoadButton, &QPushButton::clicked, this, &ControlsPanel::cancelLoadRequested);
    setRecentModels({});
    return group;
}

void ControlsPanel::setRecentModels(const QStringList& folders)
{
    m_recent = folders;
    const QSignalBlocker blocker(m_model);
    m_model->clear();
    for (const QString& folder : folders)
        m_model->addItem(QDir(folder).dirName(), folder);
    m_model->addItem(tr("vilt-b32 (random weights, 12 layers)"), QString(kBuiltinPrefix) + "vilt-b32");
    for (int i = 0; i < m_model->count(); ++i)
        m_model->setItemData(i, m_model->itemData(i).toString(), Qt::ToolTipRole);
}

ModelSource ControlsPanel::selectedModelSource() const
{
    ModelSource source;
    const QString data = m_model->currentData().toString();
    if (data.startsWith(kBuiltinPrefix))
        source.builtinName = data.mid(int(strlen(kBuiltinPrefix)));
    else
        source.folder = data;
    source.device = DeviceKind(m_device->currentData().toInt());
    source.precision = Precision(m_precision->currentData().toInt());
    return source;
}

void ControlsPanel::setLoading(bool isLoading, double fraction)
{
    m_loadProgress->setVisible(isLoading);
    m_cancelLoadButton->setVisible(isLoading);
    m_loadButton->setEnabled(!isLoading);
    m_loadProgress->setValue(int(fraction * 1000));
    m_loadProgress->setFormat(tr("loading %p%"));
}

void ControlsPanel::setViltControlsVisible(bool isVisible)
{
    for (QWidget* widget : m_viltOnly)
        widget->setVisible(isVisible);
}

void ControlsPanel::setModelInfo(const ModelInfo& info)
{
    const ModelSummary& summary = info.summary;
    const ViltConfig& vilt = summary.config.vilt;
    if (summary.config.family == ModelFamily::LlavaNext) {
        const LlavaNextConfig& llava = summary.config.llavaNext;
        m_modelInfo->setText(tr("<b>%1</b><br>LLaVA-NeXT · vision %2 layers, %3 px tiles · %4 %5 layers, hidden %6 · %7 M "
                                "parameters%8")
                                 .arg(info.source.displayName().toHtmlEscaped())
                                 .arg(llava.vision.numHiddenLayers)
                                 .arg(llava.vision.imageSize)
                                 .arg(QString::fromStdString(llava.text.modelType))
                                 .arg(llava.text.numHiddenLayers)
                                 .arg(llava.text.hiddenSize)
                                 .arg(double(summary.parameterCount) / 1e6, 0, 'f', 2)
                                 .arg(summary.randomWeights ? tr("<br><i>random weights: answers are meaningless</i>")
                                                            : QString()));
    } else {
        m_modelInfo->setText(tr("<b>%1</b><br>%2 layers · hidden %3 · %4 answers · %5 M parameters%6")
                             .arg(info.source.displayName().toHtmlEscaped())
                             .arg(info.layerCount)
                             .arg(vilt.hiddenSize)
                             .arg(vilt.id2label.size())
                             .arg(double(summary.parameterCount) / 1e6, 0, 'f', 2)
                             .arg(summary.randomWeights ? tr("<br><i>random weights: answers are meaningless</i>")
                                                        : QString()));
    }
    m_modelInfo->setToolTip(QString::fromStdString(summary.source));
    // DynamicViT only where the checkpoint carries trained predictors.
    const auto& dynamicVit = vilt.dynamicVit;
    if (auto* items = qobject_cast<QStandardItemModel*>(m_method->model())) {
        if (QStandardItem* item = items->item(m_method->findData(int(Method::DynamicVit)))) {
            item->setEnabled(dynamicVit.has_value());
            item->setToolTip(dynamicVit ? tr("DynamicViT: learned predictors drop the least useful patches in stages.")
                                        : tr("This model has no DynamicViT predictor weights; train them with "
                                             "tokenscope-cli train --method dynamicvit --train-predictor-only."));
        }
    }
    if (dynamicVit) {
        QStringList trained;
        for (int l : dynamicVit->pruneLocations)
            trained << QString::number(l);
        m_pruneLocations->setPlaceholderText(tr("trained: %1").arg(trained.join(',')));
        const bool wasUpdating = m_isUpdating;
        m_isUpdating = true;
        m_dynamicVitKeepRatio->setValue(dynamicVit->keepRatio);
        m_isUpdating = wasUpdating;
    }
    // Select the loaded model in the list.
    const QString key = info.source.folder.isEmpty() ? QString(kBuiltinPrefix) + info.source.builtinName
                                                     : info.source.folder;
    const int index = m_model->findData(key);
    if (index >= 0) {
        const QSignalBlocker blocker(m_model);
        m_model->setCurrentIndex(index);
    }
}

// ---------------------------------------------------------------------------------------- input

QWidget* ControlsPanel::buildInputGroup()
{
    auto* group = new QGroupBox(tr("Input"), this);
    auto* layout = new QVBoxLayout(group);
    m_gallery = new QListWidget(group);
    m_gallery->setViewMode(QListView::IconMode);
    m_gallery->setIconSize(QSize(56, 56));
    m_gallery->setFlow(QListView::LeftToRight);
    m_gallery->setWrapping(false);
    m_gallery->setFixedHeight(78);
    m_gallery->setToolTip(tr("Bundled sample images: click one to use it. You can also drop an image "
                             "file on the window or paste one with Ctrl+V."));
    auto* buttons = new QHBoxLayout;
    auto* openButton = new QPushButton(tr("Open image…"), group);
    openButton->setToolTip(tr("Choose an image file (PNG, JPEG, BMP, WebP) to ask about (Ctrl+O)."));
    auto* pasteButton = new QPushButton(tr("Paste"), group);
    pasteButton->setToolTip(tr("Use the image on the clipboard (Ctrl+V)."));
    buttons->addWidget(openButton);
    buttons->addWidget(pasteButton);
    m_question = new QComboBox(group);
    m_question->setEditable(true);
    m_question->addItems({tr("What is in the picture?"), tr("How many animals are there?"),
                          tr("What color is the sky?"), tr("Is there a person in the image?"),
                          tr("Where was this photo taken?")});
    m_question->setInsertPolicy(QComboBox::NoInsert);
    m_question->setToolTip(tr("The question the model answers about the image; its words become the text tokens."));
    layout->addWidget(m_gallery);
    layout->addLayout(buttons);
    auto* questionLabel = new QLabel(tr("Question"), group);
    layout->addWidget(questionLabel);
    layout->addWidget(m_question);
    m_viltOnly.push_back(questionLabel);
    m_viltOnly.push_back(m_question);

    connect(openButton, &QPushButton::clicked, this, &ControlsPanel::openImageRequested);
    connect(pasteButton, &QPushButton::clicked, this, &ControlsPanel::pasteImageRequested);
    connect(m_gallery, &QListWidget::itemClicked, this,
            [this](QListWidgetItem* item) { Q_EMIT sampleImageChosen(item->data(Qt::UserRole).toString()); });
    connect(m_question, &QComboBox::currentTextChanged, this, [this](const QString& text) { Q_EMIT questionChanged(text); });
    return group;
}

void ControlsPanel::setSampleImages(const QList<SampleScene>& samples)
{
    m_gallery->clear();
    for (const SampleScene& sample : samples) {
        QImage thumbnail(sample.path);
        auto* item = new QListWidgetItem(QIcon(QPixmap::fromImage(thumbnail.scaled(112, 112, Qt::KeepAspectRatio,
                                                                                     Qt::SmoothTransformation))),
                                         QString(), m_gallery);
        item->setData(Qt::UserRole, sample.path);
        QString tip = QFileInfo(sample.path).fileName();
        if (!sample.question.isEmpty()) {
            tip += tr("\nQuestion: %1").arg(sample.question);
            if (!sample.answer.isEmpty())
                tip += tr("\nRight answer: %1").arg(sample.answer);
            if (m_question->findText(sample.question) < 0) {
                const QSignalBlocker blocker(m_question);
                const QString current = m_question->currentText();
                m_question->insertItem(0, sample.question);
                m_question->setCurrentText(current);
            }
        }
        item->setToolTip(tip);
    }
}

QString ControlsPanel::question() const { return m_question->currentText(); }

void ControlsPanel::setQuestion(const QString& question)
{
    const QSignalBlocker blocker(m_question);
    m_question->setCurrentText(question);
}

// ---------------------------------------------------------------------------------------- method

QWidget* ControlsPanel::buildMethodGroup()
{
    auto* group = new QGroupBox(tr("Token reduction"), this);
    auto* layout = new QVBoxLayout(group);
    auto* form = new QFormLayout;
    m_method = new QComboBox(group);
    m_method->addItem(tr("None (unreduced)"), int(Method::None));
    m_method->addItem(tr("PuMer (prune + merge)"), int(Method::Pumer));
    m_method->addItem(tr("ToMe (token merging)"), int(Method::Tome));
    m_method->addItem(tr("Random drop"), int(Method::RandomDrop));
    m_method->addItem(tr("Uniform drop"), int(Method::UniformDrop));
    m_method->addItem(tr("Smaller resolution"), int(Method::SmallerResolution));
    m_method->addItem(tr("DynamicViT (learned pruning)"), int(Method::DynamicVit));
    m_method->setToolTip(tr("How the model saves work: by removing (pruning) or combining (merging) "
                            "tokens as they pass through the layers."));
    form->addRow(tr("Method"), m_method);
    layout->addLayout(form);

    m_pages = new QStackedWidget(group);
    // None
    m_pages->addWidget(hint(tr("Every token goes through every layer: the reference the other methods are compared with.")));

    // PuMer
    auto* pumer = new QWidget;
    auto* pumerForm = new QFormLayout(pumer);
    pumerForm->setContentsMargins(0, 0, 0, 0);
    m_preset = new QComboBox(pumer);
    m_preset->addItem(tr("VQAv2 (paper)"), "vqav2");
    m_preset->addItem(tr("NLVR2 (paper)"), "nlvr2");
    m_preset->addItem(tr("SNLI-VE (paper)"), "snli-ve");
    m_preset->addItem(tr("custom"), QString());
    m_preset->setToolTip(tr("Settings of the released PuMer checkpoints for each task; moving a knob makes them custom."));
    m_mode = new QComboBox(pumer);
    m_mode->addItem(tr("reference"), "reference");
    m_mode->addItem(tr("fixed"), "fixed");
    m_mode->setToolTip(tr("reference reproduces the published PuMer code including its quirks; fixed corrects them."));
    m_pruneRatio = new ValueSlider(0.0, 0.9, 0.05, 2, pumer);
    m_pruneRatio->setToolTip(tr("Prune ratio p: the share of image tokens thrown away at each reduction "
                                "layer, those the text pays least attention to."));
    m_imageMergeRatio = new ValueSlider(0.0, 0.9, 0.05, 2, pumer);
    m_imageMergeRatio->setToolTip(tr("Image merge ratio r: the share of the remaining image tokens "
                                     "averaged into their most similar neighbour at each reduction layer."));
    m_textMergeRatio = new ValueSlider(0.0, 0.9, 0.05, 2, pumer);
    m_textMergeRatio->setToolTip(tr("Text merge ratio t: the share of question tokens merged into similar "
                                    "ones at each reduction layer."));
    m_score = new QComboBox(pumer);
    for (const char* name : {"mean-head", "first-head", "key", "qk"})
        m_score->addItem(QString::fromLatin1(name), QString::fromLatin1(name));
    m_score->setToolTip(tr("How an image token's importance is measured from the text-to-image "
                           "attention (reference mode)."));
    m_mergeStyle = new QComboBox(pumer);
    for (const char* name : {"tome", "tip", "diff"})
        m_mergeStyle->addItem(QString::fromLatin1(name), QString::fromLatin1(name));
    m_mergeStyle->setToolTip(tr("How similar image tokens are paired up for merging (reference mode)."));
    m_chipBox = new QWidget(pumer);
    m_chipLayout = new QGridLayout(m_chipBox);
    m_chipLayout->setContentsMargins(0, 0, 0, 0);
    m_chipLayout->setSpacing(2);
    m_chipBox->setToolTip(tr("Reduction layers: the encoder layers after whose attention PuMer prunes and merges."));
    pumerForm->addRow(tr("Preset"), m_preset);
    pumerForm->addRow(tr("Mode"), m_mode);
    pumerForm->addRow(tr("Prune p"), m_pruneRatio);
    pumerForm->addRow(tr("Merge image r"), m_imageMergeRatio);
    pumerForm->addRow(tr("Merge text t"), m_textMergeRatio);
    pumerForm->addRow(tr("Layers"), m_chipBox);
    pumerForm->addRow(tr("Score"), m_score);
    pumerForm->addRow(tr("Merge style"), m_mergeStyle);
    m_pages->addWidget(pumer);

    // ToMe
    auto* tome = new QWidget;
    auto* tomeForm = new QFormLayout(tome);
    tomeForm->setContentsMargins(0, 0, 0, 0);
    m_tomeR = new ValueSlider(0, 64, 1, 0, tome);
    m_tomeR->setToolTip(tr("ToMe r: how many pairs of the most similar image tokens are merged in every layer."));
    m_tomeInflect = new ValueSlider(-1.0, 1.0, 0.1, 1, tome);
    m_tomeInflect->setToolTip(tr("Schedule shape: 0 merges the same r in every layer, positive merges more "
                                 "early, negative more late."));
    m_tomeSchedule = new QLineEdit(tome);
    m_tomeSchedule->setPlaceholderText(tr("e.g. 16,16,8,8 (empty: use r)"));
    m_tomeSchedule->setToolTip(tr("An explicit r for each layer, separated by commas; it overrides r and the shape."));
    m_tomeJoint = new QCheckBox(tr("merge text with image"), tome);
    m_tomeJoint->setToolTip(tr("Off: only image tokens are merged; on: the whole text+image sequence is."));
    tomeForm->addRow(tr("r per layer"), m_tomeR);
    tomeForm->addRow(tr("Shape"), m_tomeInflect);
    tomeForm->addRow(tr("Schedule"), m_tomeSchedule);
    tomeForm->addRow(QString(), m_tomeJoint);
    m_pages->addWidget(tome);

    // Keep-ratio baselines
    auto* keep = new QWidget;
    auto* keepForm = new QFormLayout(keep);
    keepForm->setContentsMargins(0, 0, 0, 0);
    m_keepRatio = new ValueSlider(0.05, 1.0, 0.01, 2, keep);
    m_keepRatio->setToolTip(tr("Keep ratio: the fraction of image patches that enter the model (the token budget)."));
    m_shortestEdge = new QSpinBox(keep);
    m_shortestEdge->setRange(0, 1024);
    m_shortestEdge->setSingleStep(32);
    m_shortestEdge->setSpecialValueText(tr("from keep ratio"));
    m_shortestEdge->setToolTip(tr("Smaller resolution: the image's short side in pixels (0 derives it from the keep ratio)."));
    m_seed = new QSpinBox(keep);
    m_seed->setRange(0, 1 << 30);
    m_seed->setToolTip(tr("Random drop: the seed that decides which patches are dropped; same seed, same choice."));
    keepForm->addRow(tr("Keep ratio"), m_keepRatio);
    keepForm->addRow(tr("Short side px"), m_shortestEdge);
    keepForm->addRow(tr("Seed"), m_seed);
    m_pages->addWidget(keep);

    // DynamicViT
    auto* dynamicVit = new QWidget;
    auto* dynamicVitForm = new QFormLayout(dynamicVit);
    dynamicVitForm->setContentsMargins(0, 0, 0, 0);
    m_dynamicVitKeepRatio = new ValueSlider(0.3, 1.0, 0.05, 2, dynamicVit);
    m_dynamicVitKeepRatio->setToolTip(tr("Keep ratio ρ: after the i-th pruning step ρ^i of the patches are left "
                                         "(0.7: 70%, 49%, 34%)."));
    m_pruneLocations = new QLineEdit(dynamicVit);
    m_pruneLocations->setToolTip(tr("The layers that see each pruning step's fewer patches, e.g. 3,6,9; empty: "
                                    "the layers the predictors were trained at."));
    dynamicVitForm->addRow(tr("Keep ratio ρ"), m_dynamicVitKeepRatio);
    dynamicVitForm->addRow(tr("Prune before"), m_pruneLocations);
    dynamicVitForm->addRow(hint(tr("A small trained network scores every patch; the lowest-scored are dropped "
                                   "before the listed layers.")));
    m_pages->addWidget(dynamicVit);

    layout->addWidget(m_pages);
    m_methodSummary = new QLabel(group);
    m_methodSummary->setWordWrap(true);
    m_methodSummary->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_methodSummary->setStyleSheet(QStringLiteral("font-family: monospace; font-size: 11px;"));
    m_methodSummary->setToolTip(tr("The settings in one line, as tokenscope-cli --method prints them."));
    layout->addWidget(m_methodSummary);

    MethodSettings initial = pumerPreset("vqav2");
    initial.method = Method::Pumer;
    setMethodSettings(initial);
    m_preset->setCurrentIndex(0);

    connect(m_method, &QComboBox::currentIndexChanged, this, [this] {
        updateMethodPage();
        emitSettingsChanged();
    });
    connect(m_preset, &QComboBox::currentIndexChanged, this, [this] {
        if (m_isUpdating)
            return;
        const QString name = m_preset->currentData().toString();
        if (!name.isEmpty())
            applyPumerPreset(name);
    });
    auto makesCustom = [this] {
        if (m_isUpdating)
            return;
        const QSignalBlocker blocker(m_preset);
        m_preset->setCurrentIndex(m_preset->count() - 1);
        emitSettingsChanged();
    };
    for (ValueSlider* slider : {m_pruneRatio, m_imageMergeRatio, m_textMergeRatio})
        connect(slider, &ValueSlider::valueChanged, this, makesCustom);
    for (QComboBox* combo : {m_mode, m_score, m_mergeStyle})
        connect(combo, &QComboBox::currentIndexChanged, this, makesCustom);
    for (ValueSlider* slider : {m_tomeR, m_tomeInflect, m_keepRatio, m_dynamicVitKeepRatio})
        connect(slider, &ValueSlider::valueChanged, this, &ControlsPanel::emitSettingsChanged);
    connect(m_tomeSchedule, &QLineEdit::editingFinished, this, &ControlsPanel::emitSettingsChanged);
    connect(m_pruneLocations, &QLineEdit::editingFinished, this, &ControlsPanel::emitSettingsChanged);
    connect(m_tomeJoint, &QCheckBox::toggled, this, &ControlsPanel::emitSettingsChanged);
    connect(m_shortestEdge, &QSpinBox::valueChanged, this, &ControlsPanel::emitSettingsChanged);
    connect(m_seed, &QSpinBox::valueChanged, this, &ControlsPanel::emitSettingsChanged);
    return group;
}

void ControlsPanel::updateMethodPage()
{
    const auto method = Method(m_method->currentData().toInt());
    m_pages->setCurrentIndex(pageOf(method));
    const bool isSmres = method == Method::SmallerResolution;
    m_shortestEdge->setEnabled(isSmres);
    m_seed->setEnabled(method == Method::RandomDrop);
}

void ControlsPanel::emitSettingsChanged()
{
    if (m_isUpdating)
        return;
    m_methodSummary->setText(QString::fromStdString(describe(methodSettings())));
    Q_EMIT settingsChanged();
}

void ControlsPanel::setLayerCount(int layerCount)
{
    layerCount = std::max(1, layerCount);
    const std::vector<int> previous = checkedLayers();
    for (QToolButton* chip : m_chips)
        delete chip;
    m_chips.clear();
    m_layerCount = layerCount;
    const int columns = std::min(layerCount, 6);
    for (int layer = 0; layer < layerCount; ++layer) {
        auto* chip = new QToolButton(m_chipBox);
        chip->setText(QString::number(layer));
        chip->setCheckable(true);
        chip->setMinimumWidth(26);
        chip->setToolTip(tr("Reduce tokens after the attention of layer %1.").arg(layer));
        chip->setStyleSheet(QStringLiteral("QToolButton:checked { background: #e69f00; color: black; font-weight: bold; }"));
        connect(chip, &QToolButton::toggled, this, [this] {
            if (m_isUpdating)
                return;
            const QSignalBlocker blocker(m_preset);
            m_preset->setCurrentIndex(m_preset->count() - 1);
            emitSettingsChanged();
        });
        m_chipLayout->addWidget(chip, layer / columns, layer % columns);
        m_chips.push_back(chip);
    }
    const QString preset = m_preset->currentData().toString();
    if (!preset.isEmpty()) {
        applyPumerPreset(preset);
    } else {
        m_isUpdating = true;
        setCheckedLayers(previous);
        m_isUpdating = false;
    }
}

void ControlsPanel::applyPumerPreset(const QString& name)
{
    MethodSettings preset = pumerPreset(name.toStdString());
    constexpr int kPresetDepth = 12;  // the presets name layers of 12-layer ViLT-B/32
    m_note.clear();
    if (m_layerCount < kPresetDepth) {
        QStringList original, scaled;
        for (int layer : preset.layers)
            original << QString::number(layer);
        preset.layers = presetLayersAtDepth(preset.layers, m_layerCount);
        for (int layer : preset.layers)
            scaled << QString::number(layer);
        m_note = tr("Preset layers %1 are for 12 layers; on this %2-layer model they sit at the same depth: %3.")
                     .arg(original.join(','))
                     .arg(m_layerCount)
                     .arg(scaled.join(','));
    }
    MethodSettings settings = methodSettings();
    settings.mode = preset.mode;
    settings.layers = preset.layers;
    settings.pruneRatio = preset.pruneRatio;
    settings.imageMergeRatio = preset.imageMergeRatio;
    settings.textMergeRatio = preset.textMergeRatio;
    settings.score = preset.score;
    settings.mergeStyle = preset.mergeStyle;
    setMethodSettings(settings);
    {
        const QSignalBlocker blocker(m_preset);
        m_preset->setCurrentIndex(m_preset->findData(name));
    }
    Q_EMIT noteChanged(m_note);
    emitSettingsChanged();
}

std::vector<int> ControlsPanel::checkedLayers() const
{
    std::vector<int> layers;
    for (int i = 0; i < int(m_chips.size()); ++i)
        if (m_chips[size_t(i)]->isChecked())
            layers.push_back(i);
    return layers;
}

void ControlsPanel::setCheckedLayers(const std::vector<int>& layers)
{
    for (int i = 0; i < int(m_chips.size()); ++i)
        m_chips[size_t(i)]->setChecked(std::find(layers.begin(), layers.end(), i) != layers.end());
}

MethodSettings ControlsPanel::methodSettings() const
{
    MethodSettings settings;
    settings.method = Method(m_method->currentData().toInt());
    settings.mode = m_mode->currentData().toString().toStdString();
    settings.layers = checkedLayers();
    settings.pruneRatio = m_pruneRatio->value();
    settings.imageMergeRatio = m_imageMergeRatio->value();
    settings.textMergeRatio = m_textMergeRatio->value();
    settings.score = m_score->currentData().toString().toStdString();
    settings.mergeStyle = m_mergeStyle->currentData().toString().toStdString();
    settings.tomeR = int(m_tomeR->value());
    settings.tomeInflect = m_tomeInflect->value();
    settings.tomeSchedule.clear();
    for (const QString& part : m_tomeSchedule->text().split(',', Qt::SkipEmptyParts)) {
        bool isNumber = false;
        const int r = part.trimmed().toInt(&isNumber);
        if (isNumber)
            settings.tomeSchedule.push_back(r);
    }
    settings.tomeJoint = m_tomeJoint->isChecked();
    settings.keepRatio = m_keepRatio->value();
    settings.shortestEdge = m_shortestEdge->value();
    settings.seed = uint64_t(m_seed->value());
    settings.dynamicVitKeepRatio = m_dynamicVitKeepRatio->value();
    for (const QString& part : m_pruneLocations->text().split(',', Qt::SkipEmptyParts)) {
        bool isNumber = false;
        const int l = part.trimmed().toInt(&isNumber);
        if (isNumber)
            settings.dynamicVitLocations.push_back(l);
    }
    return settings;
}

void ControlsPanel::setMethodSettings(const MethodSettings& settings)
{
    m_isUpdating = true;
    m_method->setCurrentIndex(std::max(0, m_method->findData(int(settings.method))));
    m_mode->setCurrentIndex(std::max(0, m_mode->findData(QString::fromStdString(settings.mode))));
    setCheckedLayers(settings.layers);
    m_pruneRatio->setValue(settings.pruneRatio);
    m_imageMergeRatio->setValue(settings.imageMergeRatio);
    m_textMergeRatio->setValue(settings.textMergeRatio);
    m_score->setCurrentIndex(std::max(0, m_score->findData(QString::fromStdString(settings.score))));
    m_mergeStyle->setCurrentIndex(std::max(0, m_mergeStyle->findData(QString::fromStdString(settings.mergeStyle))));
    m_tomeR->setValue(settings.tomeR);
    m_tomeInflect->setValue(settings.tomeInflect);
    QStringList schedule;
    for (int r : settings.tomeSchedule)
        schedule << QString::number(r);
    m_tomeSchedule->setText(schedule.join(','));
    m_tomeJoint->setChecked(settings.tomeJoint);
    m_keepRatio->setValue(settings.keepRatio);
    m_shortestEdge->setValue(settings.shortestEdge);
    m_seed->setValue(int(settings.seed));
    m_dynamicVitKeepRatio->setValue(settings.dynamicVitKeepRatio);
    QStringList locations;
    for (int l : settings.dynamicVitLocations)
        locations << QString::number(l);
    m_pruneLocations->setText(locations.join(','));
    {
        // Explicit settings are custom until applyPumerPreset says otherwise.
        const QSignalBlocker blocker(m_preset);
        m_preset->setCurrentIndex(m_preset->count() - 1);
    }
    m_isUpdating = false;
    updateMethodPage();
    m_methodSummary->setText(QString::fromStdString(describe(methodSettings())));
}

// ---------------------------------------------------------------------------------------- view

QWidget* ControlsPanel::buildViewGroup()
{
    auto* group = new QGroupBox(tr("Show"), this);
    auto* layout = new QGridLayout(group);
    m_showPruned = new QCheckBox(tr("pruned"), group);
    m_showPruned->setToolTip(tr("Darken and hatch the patches the method threw away, labelled with the layer it happened in."));
    m_showMerged = new QCheckBox(tr("merged"), group);
    m_showMerged->setToolTip(tr("Tint patches that were averaged together in one colour per group, with the group's outline."));
    m_showHeatmap = new QCheckBox(tr("score heatmap"), group);
    m_showHeatmap->setToolTip(tr("Colour each patch by the importance score the reducer gave it in this layer."));
    m_showGrid = new QCheckBox(tr("patch grid"), group);
    m_showGrid->setToolTip(tr("Draw the borders of the 32×32-pixel patches that become image tokens."));
    m_showDropLabels = new QCheckBox(tr("drop labels"), group);
    m_showDropLabels->setToolTip(tr("Write on each pruned patch the layer it was dropped in (\"L5\")."));
    const OverlayStyle defaults;
    m_showPruned->setChecked(defaults.showPruned);
    m_showMerged->setChecked(defaults.showMerged);
    m_showHeatmap->setChecked(defaults.showHeatmap);
    m_showGrid->setChecked(defaults.showGrid);
    m_showDropLabels->setChecked(defaults.showDropLabels);
    layout->addWidget(m_showPruned, 0, 0);
    layout->addWidget(m_showMerged, 0, 1);
    layout->addWidget(m_showHeatmap, 1, 0);
    layout->addWidget(m_showGrid, 1, 1);
    layout->addWidget(m_showDropLabels, 2, 0);
    for (QCheckBox* box : {m_showPruned, m_showMerged, m_showHeatmap, m_showGrid, m_showDropLabels})
        connect(box, &QCheckBox::toggled, this, &ControlsPanel::overlayStyleChanged);
    return group;
}

OverlayStyle ControlsPanel::overlayStyle() const
{
    OverlayStyle style;
    style.showPruned = m_showPruned->isChecked();
    style.showMerged = m_showMerged->isChecked();
    style.showHeatmap = m_showHeatmap->isChecked();
    style.showGrid = m_showGrid->isChecked();
    style.showDropLabels = m_showDropLabels->isChecked();
    return style;
}

// ---------------------------------------------------------------------------------------- compare

QWidget* ControlsPanel::buildCompareGroup()
{
    auto* group = new QGroupBox(tr("Compare"), this);
    auto* layout = new QGridLayout(group);
    m_compare = new QCheckBox(tr("split view"), group);
    m_compare->setToolTip(tr("Show this configuration beside a second one on the same input, with the "
                             "patches only one of them kept coloured."));
    m_compareWith = new QComboBox(group);
    m_compareWith->addItem(tr("against unreduced"));
    m_compareWith->setToolTip(tr("The second configuration: the unreduced model, or settings you pinned."));
    auto* pinButton = new QPushButton(tr("Pin current as B"), group);
    pinButton->setToolTip(tr("Remember the current method and knobs as configuration B, then change the knobs to compare."));
    layout->addWidget(m_compare, 0, 0);
    layout->addWidget(m_compareWith, 0, 1);
    layout->addWidget(pinButton, 1, 0, 1, 2);
    connect(m_compare, &QCheckBox::toggled, this, &ControlsPanel::compareChanged);
    connect(m_compareWith, &QComboBox::currentIndexChanged, this, &ControlsPanel::compareChanged);
    connect(pinButton, &QPushButton::clicked, this, [this] {
        m_pinned = methodSettings();
        m_hasPinned = true;
        const QString label = tr("against pinned: %1").arg(QString::fromStdString(describe(m_pinned)));
        if (m_compareWith->count() < 2)
            m_compareWith->addItem(label);
        else
            m_compareWith->setItemText(1, label);
        m_compareWith->setItemData(1, label, Qt::ToolTipRole);
        m_compareWith->setCurrentIndex(1);
        m_compare->setChecked(true);
        Q_EMIT compareChanged();
    });
    return group;
}

bool ControlsPanel::isCompareEnabled() const { return m_compare->isChecked(); }

void ControlsPanel::setCompareEnabled(bool isEnabled) { m_compare->setChecked(isEnabled); }

MethodSettings ControlsPanel::compareSettings() const
{
    if (m_hasPinned && m_compareWith->currentIndex() == 1)
        return m_pinned;
    return MethodSettings{};
}

QString ControlsPanel::compareName() const
{
    const MethodSettings settings = compareSettings();
    return settings.method == Method::None ? tr("unreduced") : QString::fromStdString(describe(settings));
}

}  // namespace tokenscope
