#include "ui/main_window.h"

#include <QAction>
#include <QApplication>
#include <QClipboard>
#include <QCloseEvent>
#include <QCoreApplication>
#include <QDir>
#include <QDragEnterEvent>
#include <QDropEvent>
#include <QFile>
#include <QFileDialog>
#include <QFileInfo>
#include <QLabel>
#include <QMenuBar>
#include <QMimeData>
#include <QScrollArea>
#include <QSettings>
#include <QShortcut>
#include <QSplitter>
#include <QStackedWidget>
#include <QStatusBar>
#include <QVBoxLayout>

#include <algorithm>
#include <cmath>

#include "common/error.h"
#include "ui/answer_panel.h"
#include "ui/canvas_view.h"
#include "ui/charts_panel.h"
#include "ui/controls_panel.h"
#include "ui/inference_controller.h"
#include "ui/layer_scrubber.h"
#include "ui/llava_controls.h"
#include "ui/llava_view.h"
#include "ui/sample_scenes.h"
#include "ui/trace_view.h"
#include "viz/image_io.h"
#include "viz/overlay.h"

namespace tokenscope {

namespace {

constexpr int kTopK = 5;
const char* const kDefaultQuestion = "What is in the picture?";

}  // namespace

MainWindow::MainWindow(const MainWindowOptions& options, QWidget* parent) : QMainWindow(parent), m_options(options)
{
    setWindowTitle(tr("TokenScope"));
    setAcceptDrops(true);
    m_controller = new InferenceController(options.loader, this);
    m_overlays = new OverlayCache(this);
    connect(m_overlays, &OverlayCache::layerReady, this, [this](int index) {
        if (index == m_scrubber->currentIndex())
            showLayer();
    });
    connect(m_overlays, &OverlayCache::layerFailed, this, [this](int index, const QString& message) {
        if (index == m_scrubber->currentIndex())
            showError(tr("Cannot draw this layer: %1").arg(message));
    });

    // Left: controls.
    m_controls = new ControlsPanel;
    auto* controlsScroll = new QScrollArea;
    auto* leftColumn = new QWidget;
    auto* leftLayout = new QVBoxLayout(leftColumn);
    leftLayout->setContentsMargins(0, 0, 0, 0);
    leftLayout->setSpacing(0);
    leftLayout->addWidget(m_controls);
    controlsScroll->setWidget(leftColumn);
    controlsScroll->setWidgetResizable(true);
    controlsScroll->setHorizontalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
    controlsScroll->setMinimumWidth(m_controls->sizeHint().width() + 20);

    // Middle: the trace view (canvas or compare split, legend, counts, text strip, scrubber).
    m_traceView = new TraceView;
    m_canvas = m_traceView->canvas();
    m_scrubber = m_traceView->scrubber();
    m_legend = m_traceView->legend();
    m_counts = m_traceView->counts();
    m_canvas->setPlaceholder(tr("Loading the model…"));
    // Compare: A beside B on top, their diff below at full width.
    auto* compareSplit = new QSplitter(Qt::Vertical);
    auto* pairSplit = new QSplitter(Qt::Horizontal);
    m_canvasA = new CanvasView;
    m_canvasB = new CanvasView;
    m_diffCanvas = new CanvasView;
    m_diffCanvas->setToolTip(tr("Orange: patches only configuration A still has; blue: only B; unchanged: both; dark: neither."));
    pairSplit->addWidget(m_canvasA);
    pairSplit->addWidget(m_canvasB);
    compareSplit->addWidget(pairSplit);
    compareSplit->addWidget(m_diffCanvas);
    m_compareSplit = compareSplit;
    m_traceView->pages()->addWidget(compareSplit);
    QFont countsFont = m_counts->font();
    countsFont.setPointSizeF(countsFont.pointSizeF() * 1.15);
    m_counts->setFont(countsFont);
    m_textStrip = new QLabel;
    m_textStrip->setAlignment(Qt::AlignCenter);
    m_textStrip->setMinimumHeight(28);
    m_textStrip->setToolTip(tr("The question's word pieces at this layer: same colour = merged together, "
                               "struck through = pruned (with the layer it happened in)."));
    m_traceView->addBelow(m_textStrip);

    // Right: answers, deltas, provenance, charts.
    auto* right = new QWidget;
    auto* rightLayout = new QVBoxLayout(right);
    rightLayout->setContentsMargins(4, 4, 4, 4);
    m_answers = new AnswerPanel;
    m_deltas = new QLabel;
    m_deltas->setWordWrap(true);
    m_deltas->setToolTip(tr("How this configuration differs from the reference in tokens, time and memory."));
    m_provenance = new QLabel(tr("Click a patch to see what happened to it, layer by layer."));
    m_provenance->setWordWrap(true);
    m_provenance->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_charts = new ChartsPanel;
    rightLayout->addWidget(m_answers);
    rightLayout->addWidget(m_deltas);
    rightLayout->addWidget(m_provenance);
    rightLayout->addWidget(m_charts, 1);

    m_splitter = new QSplitter(Qt::Horizontal);
    m_splitter->addWidget(controlsScroll);
    m_splitter->addWidget(m_traceView);
    m_splitter->addWidget(right);
    m_splitter->setStretchFactor(0, 0);
    m_splitter->setStretchFactor(1, 3);
    m_splitter->setStretchFactor(2, 2);
    m_splitter->setSizes({300, 760, 480});
    setCentralWidget(m_splitter);
    m_runState = new QLabel;
    statusBar()->addPermanentWidget(m_runState);
    // The LLaVA-NeXT view takes the place of the patch-grid trace view while a model that selects
    // visual tokens is loaded; its prompt goes below the shared model, image and method controls.
    // It runs its jobs on the same controller and shows its answers and figures in the same answer
    // and charts panels.
    m_llava = new LlavaView(m_controller, m_controls->methodPanel(), m_answers, m_charts);
    m_llava->setVisible(false);
    m_llava->controls()->setVisible(false);
    leftLayout->addWidget(m_llava->controls());
    leftLayout->addStretch(1);
    m_splitter->insertWidget(2, m_llava);
    m_splitter->setStretchFactor(2, 3);
    buildMenus();
    buildShortcuts();

    // Wiring: every connect has this (or a child) as its context.
    connect(m_controller, &InferenceController::loadStarted, this, [this] { m_controls->setLoading(true, 0); });
    connect(m_controller, &InferenceController::loadProgress, this, [this](double fraction) { m_controls->setLoading(true, fraction); });
    connect(m_controller, &InferenceController::modelLoaded, this, &MainWindow::onModelLoaded);
    connect(m_controller, &InferenceController::modelLoadFailed, this, [this](const QString& message, bool isCancelled) {
        m_controls->setLoading(m_controller->isLoading());
        const QString keeps = m_controller->hasModel() ? tr(" The previous model (%1) stays loaded.")
                                                              .arg(m_controller->model().source.displayName())
                                                        : QString();
        if (isCancelled)
            showNote(tr("Loading cancelled.") + keeps);
        else
            showError(tr("Could not load the model: %1.%2").arg(message, keeps));
    });
    connect(m_controller, &InferenceController::runFinished, this, &MainWindow::onRunFinished);
    connect(m_controller, &InferenceController::runFailed, this, [this](quint64, const QString& message) {
        showError(tr("The run failed: %1").arg(message));
    });
    connect(m_controller, &InferenceController::evalFinished, this, &MainWindow::onEvalFinished);
    connect(m_controller, &InferenceController::evalFailed, this, &MainWindow::onEvalFailed);
    connect(m_controller, &InferenceController::busyChanged, this, [this](bool isBusy) {
        m_runState->setText(isBusy ? tr("running…") : tr("ready"));
    });

    connect(m_controls, &ControlsPanel::loadModelRequested, this, &MainWindow::loadModel);
    connect(m_controls, &ControlsPanel::openModelFolderRequested, this, &MainWindow::chooseModelFolder);
    connect(m_controls, &ControlsPanel::cancelLoadRequested, m_controller, &InferenceController::cancelLoad);
    connect(m_llava, &LlavaView::errorOccurred, this, &MainWindow::showError);
    connect(m_llava, &LlavaView::statusMessage, this,
            [this](const QString& message, int timeoutMs) { statusBar()->showMessage(message, timeoutMs); });
    connect(this, &MainWindow::errorShown, m_llava, [this](const QString& message) {
        if (isLlavaShown())
            m_llava->showBanner(message);
    });
    connect(m_controls, &ControlsPanel::openImageRequested, this, &MainWindow::chooseImageFile);
    connect(m_controls, &ControlsPanel::pasteImageRequested, this, &MainWindow::pasteImage);
    connect(m_controls, &ControlsPanel::sampleImageChosen, this, [this](const QString& path) {
        // A bundled scene brings its question along.
        if (const SampleScene* scene = findSampleScene(m_samples, path); scene && !scene->question.isEmpty()) {
            m_controls->setQuestion(scene->question);
            ++m_inputId;
        }
        openImageFile(path);
    });
    connect(m_controls, &ControlsPanel::questionChanged, this, [this] {
        ++m_inputId;
        requestRun(true);
    });
    connect(m_controls, &ControlsPanel::settingsChanged, this, [this] {
        requestRun(true);
        showCurrentTradeoffPoint();
    });
    connect(m_controls, &ControlsPanel::compareChanged, this, [this] { requestRun(false); });
    connect(m_controls, &ControlsPanel::modelSettingsChanged, this, [this] { requestRun(false); });
    connect(m_controls, &ControlsPanel::overlayStyleChanged, this, &MainWindow::showLayer);
    connect(m_controls, &ControlsPanel::noteChanged, this, [this](const QString& note) {
        if (!note.isEmpty())
            statusBar()->showMessage(note, 8000);
    });
    connect(m_traceView, &TraceView::currentLayerChanged, this, [this] {
        showLayer();
        if (m_selectedToken >= 0)
            showProvenance(m_selectedToken);
    });
    for (CanvasView* view : {m_canvas, m_canvasA, m_canvasB})
        connect(view, &CanvasView::tokenClicked, this, &MainWindow::showProvenance);

    // Samples, then the first input and model. A first start (no settings, no options) opens the
    // bundled trained model on the default scene with its question.
    m_samples = loadSampleScenes(resourceDir() + "/images");
    m_controls->setSampleImages(m_samples.scenes);
    if (!m_samples.error.isEmpty())
        showNote(m_samples.error);
    m_controls->setQuestion(QString());  // filled below: given, restored, the scene's, or the preset
    if (options.usesSettings)
        restoreSettings();
    QString imagePath = m_options.imagePath;
    if (imagePath.isEmpty() && !m_samples.scenes.isEmpty())
        imagePath = m_samples.scenes.front().path;
    const SampleScene* scene = findSampleScene(m_samples, imagePath);
    if (!options.question.isEmpty())
        m_controls->setQuestion(options.question);
    else if (m_controls->question().isEmpty())
        m_controls->setQuestion(scene && !scene->question.isEmpty() ? scene->question : tr(kDefaultQuestion));
    if (options.method)
        m_controls->setMethodSettings(*options.method);
    m_pendingLayer = options.layer;

    if (!imagePath.isEmpty())
        openImageFile(imagePath);

    ModelSource source = options.model;
    if (source.folder.isEmpty() && source.builtinName.isEmpty())
        source.folder = defaultModelFolder();
    loadModel(source);
    resize(1540, 940);
}

MainWindow::~MainWindow() = default;

// ---------------------------------------------------------------------------------------- inputs

bool MainWindow::openImageFile(const QString& path)
{
    try {
        LoadedImage loaded = loadImageFile(path.toStdString());
        setImage(loaded.image, QFileInfo(path).fileName(), path);
        if (!loaded.note.empty())
            showNote(QString::fromStdString(loaded.note));
        return true;
    } catch (const std::exception& error) {
        showError(tr("Could not open the image: %1. The previous image stays.").arg(QString::fromStdString(error.what())));
        return false;
    }
}

void MainWindow::setImage(const ImageU8& image, const QString& name, const QString& path)
{
    m_image = image;
    m_imageName = name;
    m_imagePath = path;
    ++m_inputId;
    ++m_imageId;
    m_selectedToken = -1;
    statusBar()->showMessage(tr("Image: %1 (%2×%3)").arg(name).arg(image.width).arg(image.height), 5000);
    m_llava->setImage(image, name);
    requestRun(false);
}

void MainWindow::loadModel(const ModelSource& source) { m_controller->loadModel(source); }

void MainWindow::chooseImageFile()
{
    const QString path = QFileDialog::getOpenFileName(this, tr("Open image"), QFileInfo(m_imagePath).absolutePath(),
                                                      tr("Images (*.png *.jpg *.jpeg *.bmp *.webp);;All files (*)"));
    if (!path.isEmpty())
        openImageFile(path);
}

void MainWindow::chooseModelFolder()
{
    const QString folder = QFileDialog::getExistingDirectory(this, tr("Open model folder"), resourceDir() + "/models");
    if (folder.isEmpty())
        return;
    ModelSource source = m_controls->selectedModelSource();
    source.folder = folder;
    source.builtinName.clear();
    loadModel(source);
}

void MainWindow::pasteImage()
{
    const QImage image = QApplication::clipboard()->image();
    if (image.isNull()) {
        showError(tr("The clipboard holds no image."));
        return;
    }
    setImage(fromQImage(image), tr("pasted image"));
}

void MainWindow::dragEnterEvent(QDragEnterEvent* event)
{
    if (event->mimeData()->hasUrls() || event->mimeData()->hasImage())
        event->acceptProposedAction();
}

void MainWindow::dropEvent(QDropEvent* event)
{
    const QMimeData* data = event->mimeData();
    if (data->hasUrls() && data->urls().front().isLocalFile()) {
        openImageFile(data->urls().front().toLocalFile());
    } else if (data->hasImage()) {
        setImage(fromQImage(qvariant_cast<QImage>(data->imageData())), tr("dropped image"));
    }
    event->acceptProposedAction();
}

// ---------------------------------------------------------------------------------------- runs

void MainWindow::requestRun(bool isDebounced)
{
    if (m_image.pixels.empty() || !m_controller->hasModel() || !m_controller->model().capabilities.answersFromLabels)
        return;
    RunJob job;
    job.inputId = m_inputId;
    job.request.image = m_image;
    job.request.question = m_controls->question().toStdString();
    job.request.method = m_controls->methodSettings();
    job.modelSettings = m_controls->modelSettings();
    job.request.topK = kTopK;
    job.request.trace = true;
    job.wantsBaseline = true;
    const MethodSettings compare = m_controls->compareSettings();
    if (m_controls->isCompareEnabled())
        job.compareModel = m_controls->compareModelSource();
    job.hasCompare = m_controls->isCompareEnabled() && (!compare.is("none") || job.compareModel);
    job.compare = compare;
    if (isDebounced)
        m_controller->requestRunDebounced(std::move(job));
    else
        m_controller->requestRun(std::move(job));
}

bool MainWindow::isLlavaShown() const { return m_llava && m_llava->isVisibleTo(this); }

void MainWindow::showLlavaView(bool isShown)
{
    if (isShown == isLlavaShown())
        return;
    if (isShown)
        m_scrubber->setPlaying(false);
    // Splitter: controls, the patch-grid trace view, the LLaVA view, the answers and charts.
    const QList<int> sizes = m_splitter->sizes();
    m_traceView->setVisible(!isShown);
    m_llava->setVisible(isShown);
    m_llava->controls()->setVisible(isShown);
    m_controls->setViltControlsVisible(!isShown);
    m_deltas->setVisible(!isShown);
    m_provenance->setVisible(!isShown);
    const int middle = std::max(400, sizes.value(1) + sizes.value(2));
    m_splitter->setSizes({sizes.value(0, 300), isShown ? 0 : middle, isShown ? middle : 0, sizes.value(3, 480)});
}

void MainWindow::onModelLoaded(const ModelInfo& info)
{
    m_controls->setLoading(m_controller->isLoading());
    m_controls->setModelInfo(info);
    if (!info.source.folder.isEmpty())
        rememberModel(info.source);
    for (const std::string& warning : info.summary.warnings)
        showNote(QString::fromStdString(warning));
    m_traceView->showMessage({}, false);
    m_llava->showBanner({});
    // The views follow what the model does: ranked labels over a patch grid, or a visual-token
    // selection and a streamed answer over AnyRes tiles.
    const bool selects = info.capabilities.selectsVisualTokens;
    showLlavaView(selects);
    m_answers->setStreamed(info.capabilities.generates);
    m_charts->setCapabilities(info.capabilities);
    m_llava->showModel(info);
    m_runState->setText(m_controller->isBusy() ? tr("running…") : tr("ready"));
    statusBar()->showMessage(tr("Loaded %1%2 in %3 ms")
                                 .arg(info.source.displayName(), selects ? tr(" (LLaVA-NeXT)") : QString())
                                 .arg(info.summary.loadMs, 0, 'f', 0),
                             5000);
    setUpTradeoff(info);
    if (selects)
        return;
    m_controls->setLayerCount(info.layerCount);
    m_canvas->setPlaceholder(tr("Running…"));
    requestRun(false);
}

const RunResult* MainWindow::referenceResult() const
{
    if (m_controls->isCompareEnabled() && m_outcome.compare)
        return m_outcome.compare.get();
    return m_outcome.baseline.get();
}

QString MainWindow::referenceName() const
{
    return m_controls->isCompareEnabled() ? tr("B: %1").arg(m_controls->compareName()) : tr("Unreduced");
}

OverlayJob MainWindow::overlayJobFor(const RunOutcome& outcome) const
{
    OverlayJob job;
    job.image = m_image;
    job.imageId = m_imageId;
    job.result = outcome.result;
    if (m_controls->isCompareEnabled())
        job.reference = outcome.compare ? outcome.compare : outcome.baseline;
    job.style = m_controls->overlayStyle();
    return job;
}

void MainWindow::onRunFinished(const RunOutcome& outcome)
{
    // The layer to show first: asked for (command line, session), the first after the first
    // reduction for a new user, else the one shown now.
    const std::vector<TraceLayer>& layers = outcome.result->trace.layers;
    const int last = int(layers.size()) - 1;
    int target = std::clamp(m_scrubber->currentIndex(), 0, std::max(0, last));
    if (m_pendingLayer >= 0) {
        const auto found = std::find_if(layers.begin(), layers.end(), [this](const TraceLayer& layer) { return layer.index == m_pendingLayer; });
        target = found == layers.end() ? last : int(found - layers.begin());
    } else if (!hasResult()) {
        const auto first = std::find_if(layers.begin(), layers.end(), [](const TraceLayer& layer) { return layer.reduced; });
        target = first == layers.end() ? last : std::min(int(first - layers.begin()) + 1, last);
    }
    // Draw that layer off the GUI thread, then show the result with it (a newer result wins).
    const quint64 generation = ++m_renderGeneration;
    const OverlayJob job = overlayJobFor(outcome);
    OverlayCache::renderAsync(job, std::max(0, target), this, [this, generation, outcome, job, target](const LayerPictures& pictures) {
        if (generation == m_renderGeneration)
            showResult(outcome, job, target, pictures);
    });
}

QString MainWindow::expectedAnswer() const
{
    const SampleScene* scene = findSampleScene(m_samples, m_imagePath);
    if (!scene || scene->question.isEmpty())
        return {};
    return m_controls->question().trimmed().compare(scene->question, Qt::CaseInsensitive) == 0 ? scene->answer : QString();
}

QString MainWindow::defaultModelFolder()
{
    const QString trained = resourceDir() + "/models/shapes-vilt";
    return QFileInfo::exists(trained + "/model.safetensors") ? trained : resourceDir() + "/models/vilt-tiny-random";
}

// ---------------------------------------------------------------------------------------- messages

void MainWindow::showError(const QString& message)
{
    m_lastError = message;
    m_traceView->showMessage(message, true);
    statusBar()->showMessage(message, 10000);
    Q_EMIT errorShown(message);
}

void MainWindow::showNote(const QString& message)
{
    m_traceView->showMessage(message, false);
    statusBar()->showMessage(message, 8000);
}

}  // namespace tokenscope
