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
#include "ui/resource_paths.h"

namespace tokenscope {

namespace {

const char* const kBuiltinPrefix = "builtin:";



}  // namespace

ControlsPanel::ControlsPanel(QWidget* parent) : QWidget(parent)
{
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(6, 6, 6, 6);
    layout->addWidget(buildModelGroup());
    layout->addWidget(buildInputGroup());
    layout->addWidget(buildMethodGroup());
    for (QWidget* group : {buildViewGroup(), buildCompareGroup()}) {
        layout->addWidget(group);
        m_viltOnly.push_back(group);
    }
    layout->addStretch(1);
    setLayerCount(12);
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
    // The loaded model's own settings (METER's fusion order and head), one combo box each.
    m_modelSettings = new QWidget(group);
    m_modelSettingsForm = new QFormLayout(m_modelSettings);
    m_modelSettingsForm->setContentsMargins(0, 0, 0, 0);
    m_modelSettings->setVisible(false);
    layout->addWidget(m_modelSettings, 4, 0, 1, 4);
    layout->setColumnStretch(0, 1);
    layout->setColumnStretch(1, 1);

    connect(openButton, &QToolButton::clicked, this, &ControlsPanel::openModelFolderRequested);
    connect(m_loadButton, &QPushButton::clicked, this, [this] { Q_EMIT loadModelRequested(selectedModelSource()); });
    connect(m_cancelLoadButton, &QPushButton::clicked, this, &ControlsPanel::cancelLoadRequested);
    setRecentModels({});
    return group;
}

void ControlsPanel::showModelSettings(const std::vector<ModelOption>& options)
{
    while (m_modelSettingsForm->rowCount() > 0)
        m_modelSettingsForm->removeRow(0);
    m_modelSettingCombos.clear();
    for (const ModelOption& option : options) {
        auto* combo = new QComboBox(m_modelSettings);
        for (const auto& choice : option.choices)
            combo->addItem(QString::fromStdString(choice));
        combo->setCurrentText(QString::fromStdString(option.value));
        combo->setToolTip(QString::fromStdString(option.help));
        combo->setObjectName(QStringLiteral("modelSetting_") + QString::fromStdString(option.key));
        connect(combo, &QComboBox::currentTextChanged, this, [this] { Q_EMIT modelSettingsChanged(); });
        m_modelSettingsForm->addRow(QString::fromStdString(option.label), combo);
        m_modelSettingCombos.emplace_back(option.key, combo);
    }
    m_modelSettings->setVisible(!options.empty());
}

std::map<std::string, std::string> ControlsPanel::modelSettings() const
{
    std::map<std::string, std::string> settings;
    for (const auto& [key, combo] : m_modelSettingCombos)
        settings[key] = combo->currentText().toStdString();
    return settings;
}

QComboBox* ControlsPanel::modelSettingCombo(const std::string& key) const
{
    for (const auto& [name, combo] : m_modelSettingCombos)
        if (name == key)
            return combo;
    return nullptr;
}

void ControlsPanel::setRecentModels(const QStringList& folders)
{
    m_recent = folders;
    const QSignalBlocker blocker(m_model);
    m_model->clear();
    for (const QString& folder : folders)
        m_model->addItem(QDir(folder).dirName(), folder);
    // The models that ship with TokenScope (one per family), offline on a fresh machine.
    const QDir bundled(resourceDir() + "/models");
    for (const QString& name : bundled.entryList(QDir::Dirs | QDir::NoDotAndDotDot, QDir::Name)) {
        const QString folder = bundled.absoluteFilePath(name);
        if (m_model->findData(folder) < 0 && !folders.contains(bundled.filePath(name)))
            m_model->addItem(tr("%1 (bundled)").arg(name), folder);
    }
    m_model->addItem(tr("vilt-b32 (random weights, 12 layers)"), QString(kBuiltinPrefix) + "vilt-b32");
    for (int i = 0; i < m_model->count(); ++i)
        m_model->setItemData(i, m_model->itemData(i).toString(), Qt::ToolTipRole);
    fillCompareModels();
}

void ControlsPanel::fillCompareModels()
{
    if (!m_compareModel || !m_model)
        return;
    const QString current = m_compareModel->currentData().toString();
    const QSignalBlocker blocker(m_compareModel);
    m_compareModel->clear();
    m_compareModel->addItem(tr("B on this model"), QString());
    for (int i = 0; i < m_model->count(); ++i)
        m_compareModel->addItem(tr("B on %1").arg(m_model->itemText(i)), m_model->itemData(i));
    m_compareModel->setCurrentIndex(std::max(0, m_compareModel->findData(current)));
}

std::optional<ModelSource> ControlsPanel::compareModelSource() const
{
    const QString data = m_compareModel ? m_compareModel->currentData().toString() : QString();
    if (data.isEmpty())
        return std::nullopt;
    ModelSource source = selectedModelSource();
    source.folder.clear();
    source.builtinName.clear();
    if (data.startsWith(kBuiltinPrefix))
        source.builtinName = data.mid(int(strlen(kBuiltinPrefix)));
    else
        source.folder = data;
    return source;
}

bool ControlsPanel::setCompareModel(const QString& folder)
{
    const int index = m_compareModel->findData(folder);
    if (index < 0)
        return false;
    m_compareModel->setCurrentIndex(index);
    return true;
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
    setMethodFamily(info.capabilities.family);
    showModelSettings(info.options);
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
    } else if (summary.config.family == ModelFamily::Meter) {
        const MeterConfig& meter = summary.config.meter;
        m_modelInfo->setText(tr("<b>%1</b><br>METER · text %2 layers · image %3 blocks, %4 px · %5 co-attention layers "
                                "(checkpoint: %6 order) · %7 M parameters%8")
                                 .arg(info.source.displayName().toHtmlEscaped())
                                 .arg(meter.text.numHiddenLayers)
                                 .arg(meter.vision.blocks)
                                 .arg(meter.vision.imageSize)
                                 .arg(meter.numTopLayer)
                                 .arg(QString::fromLatin1(meterStreamOrderName(meter.streamOrder)))
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
    m_methods->setMethodAvailable("dynamicvit", dynamicVit.has_value(),
                                  tr("This model has no DynamicViT predictor weights; train them with "
                                     "tokenscope-cli train --method dynamicvit --train-predictor-only."));
    if (dynamicVit) {
        MethodSettings trained("dynamicvit");
        trained.set("keep-ratio", dynamicVit->keepRatio);
        m_methods->setMethodDefaults(trained);
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
    m_question->setObjectName(QStringLiteral("question"));
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
    // A question longer than the box shows its start (setting the text leaves the cursor at the end).
    if (QLineEdit* edit = m_question->lineEdit()) edit->setCursorPosition(0);
}

// ---------------------------------------------------------------------------------------- method

QWidget* ControlsPanel::buildMethodGroup()
{
    auto* group = new QGroupBox(tr("Token reduction"), this);
    auto* layout = new QVBoxLayout(group);
    m_methods = new MethodPanel(FamilyKind::Vilt, group);
    layout->addWidget(m_methods);
    MethodSettings initial = presetSettings("pumer", "vqav2");
    m_methods->setSettings(initial);
    m_methods->applyPreset(QStringLiteral("vqav2"));
    m_methodTip = m_methods->methodCombo()->toolTip();
    connect(m_methods, &MethodPanel::settingsChanged, this, &ControlsPanel::settingsChanged);
    connect(m_methods, &MethodPanel::noteChanged, this, [this](const QString& note) {
        m_note = note;
        Q_EMIT noteChanged(note);
    });
    return group;
}

void ControlsPanel::setMethodFamily(FamilyKind family)
{
    const FamilyKind previous = m_methods->family();
    if (family == previous)
        return;
    const QSignalBlocker blocker(m_methods);
    m_familySettings[previous] = m_methods->settings();
    m_methods->setFamily(family);
    m_methods->methodCombo()->setToolTip(m_methodTip);
    if (family == FamilyKind::Llava) {
        // LLaVA's baselines at HiRED's default budget (the HiRED repository's 0.2).
        for (const char* baseline : {"random", "uniform"}) {
            MethodSettings settings(baseline);
            settings.set("keep", 0.2);
            m_methods->setMethodDefaults(settings);
        }
    }
    const auto remembered = m_familySettings.find(family);
    if (remembered != m_familySettings.end())
        m_methods->setSettings(remembered->second);
    else if (family == FamilyKind::Llava)
        m_methods->setSettings(MethodSettings("hired"));
    else if (family == FamilyKind::Vilt || family == FamilyKind::Meter)
        applyPumerPreset(QStringLiteral("vqav2"));  // the paper's for ViLT, the released one for METER
}

void ControlsPanel::setMethodSettingsFor(FamilyKind family, const MethodSettings& settings)
{
    if (family == m_methods->family())
        setMethodSettings(settings);
    else
        m_familySettings[family] = settings;
}

void ControlsPanel::setLayerCount(int layerCount)
{
    m_methods->setLayerCount(layerCount);
}

void ControlsPanel::applyPumerPreset(const QString& name)
{
    if (!m_methods->settings().is("pumer"))
        m_methods->setSettings(MethodSettings("pumer"));
    m_methods->applyPreset(name);
}

MethodSettings ControlsPanel::methodSettings() const { return m_methods->settings(); }

void ControlsPanel::setMethodSettings(const MethodSettings& settings) { m_methods->setSettings(settings); }

ValueSlider* ControlsPanel::pruneRatioSlider() const { return m_methods->slider("prune"); }
ValueSlider* ControlsPanel::imageMergeRatioSlider() const { return m_methods->slider("merge"); }
QComboBox* ControlsPanel::methodCombo() const { return m_methods->methodCombo(); }

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
    m_compareModel = new QComboBox(group);
    m_compareModel->setToolTip(tr("The model B runs on: this one, or another (METER beside ViLT: dual-stream against "
                                  "single-stream on the same image and question). Another model runs B's method when "
                                  "it serves that model, else unreduced; it loads on first use."));
    fillCompareModels();
    layout->addWidget(m_compare, 0, 0);
    layout->addWidget(m_compareWith, 0, 1);
    layout->addWidget(m_compareModel, 1, 0, 1, 2);
    layout->addWidget(pinButton, 2, 0, 1, 2);
    connect(m_compare, &QCheckBox::toggled, this, &ControlsPanel::compareChanged);
    connect(m_compareModel, &QComboBox::currentIndexChanged, this, &ControlsPanel::compareChanged);
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

void ControlsPanel::compareAgainstUnreduced()
{
    m_compareWith->setCurrentIndex(0);
    m_compareModel->setCurrentIndex(0);
    m_compare->setChecked(true);
}

MethodSettings ControlsPanel::compareSettings() const
{
    if (m_hasPinned && m_compareWith->currentIndex() == 1)
        return m_pinned;
    return MethodSettings{};
}

QString ControlsPanel::compareName() const
{
    const MethodSettings settings = compareSettings();
    const QString method = settings.is("none") ? tr("unreduced") : QString::fromStdString(describe(settings));
    if (const auto other = compareModelSource())
        return QStringLiteral("%1 · %2").arg(other->displayName(), method);
    return method;
}

}  // namespace tokenscope
