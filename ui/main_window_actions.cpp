// MainWindow's menus, shortcuts, settings, sessions and exports (the window's other half).

#include "ui/main_window.h"

#include <QAction>
#include <QCloseEvent>
#include <QDir>
#include <QDockWidget>
#include <QFile>
#include <QFileDialog>
#include <QFileInfo>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLabel>
#include <QMenuBar>
#include <QSettings>
#include <QShortcut>
#include <QSplitter>
#include <QStatusBar>
#include <QTimer>

#include "engine/timeline.h"
#include "common/error.h"
#include "methods/method_registry.h"
#include "ui/answer_changes_view.h"
#include "ui/canvas_view.h"
#include "ui/charts_panel.h"
#include "ui/controls_panel.h"
#include "ui/inference_controller.h"
#include "ui/layer_scrubber.h"
#include "ui/llava_view.h"
#include "ui/trace_view.h"
#include "viz/overlay.h"

#if __has_include("engine/trace_json.h")
#include "engine/trace_json.h"
#define TOKENSCOPE_HAS_TRACE_JSON 1
#endif

namespace tokenscope {

namespace {
constexpr int kRecentModels = 8;
}

void MainWindow::buildMenus()
{
    QMenu* file = menuBar()->addMenu(tr("&File"));
    file->addAction(tr("&Open image…"), QKeySequence::Open, this, &MainWindow::chooseImageFile);
    file->addAction(tr("Paste image"), QKeySequence::Paste, this, &MainWindow::pasteImage);
    file->addAction(tr("Open &model folder…"), this, &MainWindow::chooseModelFolder);
    file->addAction(tr("Load trade-off sweep…"), this, &MainWindow::chooseSweepFile);
    file->addAction(tr("Open evaluation &results…"), QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_R), this, [this] {
        setUpAnswerChanges();
        m_answerChangesDock->show();
        m_answerChangesDock->raise();
        QTimer::singleShot(0, m_answerChanges, &AnswerChangesView::chooseFiles);
    });
    file->addSeparator();
    file->addAction(tr("Open session…"), this, [this] {
        const QString path = QFileDialog::getOpenFileName(this, tr("Open session"), {}, tr("Sessions (*.json)"));
        if (!path.isEmpty())
            openSession(path);
    });
    file->addAction(tr("&Save session…"), QKeySequence::Save, this, [this] {
        const QString path = QFileDialog::getSaveFileName(this, tr("Save session"), "tokenscope-session.json", tr("Sessions (*.json)"));
        if (!path.isEmpty())
            saveSession(path);
    });
    file->addSeparator();
    file->addAction(tr("&Export view as PNG…"), QKeySequence(Qt::CTRL | Qt::Key_E), this, [this] {
        const QString path = QFileDialog::getSaveFileName(this, tr("Export view"), "tokenscope-view.png", tr("PNG (*.png)"));
        if (!path.isEmpty())
            exportViewPng(path);
    });
    file->addAction(tr("Export all layers as PNGs…"), this, [this] {
        const QString folder = QFileDialog::getExistingDirectory(this, tr("Export all layers into"));
        if (!folder.isEmpty())
            exportAllLayers(folder);
    });
    file->addAction(tr("Export trace as JSON…"), this, [this] {
        const QString path = QFileDialog::getSaveFileName(this, tr("Export trace"), "trace.json", tr("JSON (*.json)"));
        if (!path.isEmpty())
            exportTraceJson(path);
    });
    file->addAction(tr("Export timeline (Chrome trace)…"), this, [this] {
        const QString path = QFileDialog::getSaveFileName(this, tr("Export timeline"), "tokenscope-timeline.json",
                                                          tr("Chrome trace JSON (*.json)"));
        if (!path.isEmpty())
            exportTimelineJson(path);
    });
    file->addAction(tr("Export metrics as CSV…"), this, [this] {
        const QString path = QFileDialog::getSaveFileName(this, tr("Export metrics"), "metrics.csv", tr("CSV (*.csv)"));
        if (!path.isEmpty())
            exportMetricsCsv(path);
    });
    file->addSeparator();
    file->addAction(tr("&Quit"), QKeySequence::Quit, this, &QWidget::close);

    QMenu* view = menuBar()->addMenu(tr("&View"));
    view->addAction(tr("Previous layer\t←"), this, [this] { shownScrubber()->stepBy(-1); });
    view->addAction(tr("Next layer\t→"), this, [this] { shownScrubber()->stepBy(1); });
    view->addAction(tr("Play / pause\tSpace"), this, [this] { shownScrubber()->togglePlaying(); });
    view->addAction(tr("Fit image"), this, [this] {
        for (CanvasView* canvas : {m_canvas, m_canvasA, m_canvasB, m_diffCanvas})
            canvas->fitToView();
    });
    view->addAction(tr("Zoom in"), QKeySequence::ZoomIn, this, [this] { m_canvas->zoomBy(1.25); });
    view->addAction(tr("Zoom out"), QKeySequence::ZoomOut, this, [this] { m_canvas->zoomBy(0.8); });
}

void MainWindow::buildShortcuts()
{
    // Window-wide; a focused text field keeps its own arrows and space (ShortcutOverride).
    auto* left = new QShortcut(QKeySequence(Qt::Key_Left), this);
    connect(left, &QShortcut::activated, this, [this] { shownScrubber()->stepBy(-1); });
    auto* right = new QShortcut(QKeySequence(Qt::Key_Right), this);
    connect(right, &QShortcut::activated, this, [this] { shownScrubber()->stepBy(1); });
    auto* space = new QShortcut(QKeySequence(Qt::Key_Space), this);
    connect(space, &QShortcut::activated, this, [this] { shownScrubber()->togglePlaying(); });
}

LayerScrubber* MainWindow::shownScrubber() const
{
    return isLlavaShown() ? m_llava->traceView()->scrubber() : m_scrubber;
}

// ---------------------------------------------------------------------------------------- settings

void MainWindow::restoreSettings()
{
    QSettings settings;
    restoreGeometry(settings.value("window/geometry").toByteArray());
    restoreState(settings.value("window/state").toByteArray());
    m_splitter->restoreState(settings.value("window/splitter2").toByteArray());
    m_controls->setRecentModels(settings.value("models/recent").toStringList());
    const QString question = settings.value("input/question").toString();
    if (!question.isEmpty())
        m_controls->setQuestion(question);
    const QByteArray method = settings.value("method/settings").toByteArray();
    if (!method.isEmpty()) {
        try {
            m_controls->setMethodSettings(methodSettingsFromQJson(QJsonDocument::fromJson(method).object()));
        } catch (const std::exception&) {
            // Settings of an older version: keep the defaults.
        }
    }
    const QString image = settings.value("input/image").toString();
    if (m_options.imagePath.isEmpty() && !image.isEmpty() && QFileInfo::exists(image))
        m_options.imagePath = image;
}

void MainWindow::saveSettings()
{
    if (!m_options.usesSettings)
        return;
    QSettings settings;
    settings.setValue("window/geometry", saveGeometry());
    settings.setValue("window/state", saveState());
    settings.setValue("window/splitter2", m_splitter->saveState());
    settings.setValue("models/recent", m_controls->recentModels());
    settings.setValue("input/question", m_controls->question());
    settings.setValue("input/image", m_imagePath);
    settings.setValue("method/settings", QJsonDocument(methodSettingsToQJson(m_controls->methodSettings())).toJson(QJsonDocument::Compact));
}

void MainWindow::rememberModel(const ModelSource& source)
{
    QStringList recent = m_controls->recentModels();
    const QString folder = QDir(source.folder).absolutePath();
    recent.removeAll(folder);
    recent.prepend(folder);
    while (recent.size() > kRecentModels)
        recent.removeLast();
    m_controls->setRecentModels(recent);
    if (m_controller->hasModel())
        m_controls->setModelInfo(m_controller->model());
}

void MainWindow::closeEvent(QCloseEvent* event)
{
    saveSettings();
    m_scrubber->setPlaying(false);
    event->accept();
}

// ---------------------------------------------------------------------------------------- sessions

bool MainWindow::saveSession(const QString& path)
{
    Session session;
    session.model = m_controller->hasModel() ? m_controller->model().source : m_controls->selectedModelSource();
    session.imagePath = m_imagePath.isEmpty() ? QString() : QFileInfo(m_imagePath).absoluteFilePath();
    session.question = m_controls->question();
    session.method = m_controls->methodSettings();
    if (hasResult() && shownLayerIndex() < int(m_outcome.result->trace.layers.size()))
        session.layer = m_outcome.result->trace.layers[size_t(shownLayerIndex())].index;
    session.isCompareEnabled = m_controls->isCompareEnabled();
    try {
        writeSessionFile(path, session);
        statusBar()->showMessage(tr("Session saved to %1").arg(path), 5000);
        return true;
    } catch (const std::exception& error) {
        showError(QString::fromStdString(error.what()));
        return false;
    }
}

bool MainWindow::openSession(const QString& path)
{
    try {
        const Session session = readSessionFile(path);
        m_controls->setQuestion(session.question);
        m_controls->setCompareEnabled(session.isCompareEnabled);
        m_pendingLayer = session.layer;
        const ModelSource current = m_controller->model().source;
        if (!m_controller->hasModel() || current.folder != session.model.folder ||
            current.builtinName != session.model.builtinName || current.device != session.model.device ||
            current.precision != session.model.precision)
            loadModel(session.model);
        if (!session.imagePath.isEmpty())
            openImageFile(session.imagePath);
        // The session's method settings for every family its method serves: the method panel shows
        // them now, or when the session's model (maybe of another family) has loaded.
        const MethodDescriptor& method = methodDescriptor(session.method.method());
        for (FamilyKind family : {FamilyKind::Vilt, FamilyKind::Llava, FamilyKind::Meter})
            if (method.serves(family))
                m_controls->setMethodSettingsFor(family, session.method);
        requestRun(false);
        statusBar()->showMessage(tr("Session opened from %1").arg(path), 5000);
        return true;
    } catch (const std::exception& error) {
        showError(tr("Could not open the session: %1").arg(QString::fromStdString(error.what())));
        return false;
    }
}

// ---------------------------------------------------------------------------------------- exports

bool MainWindow::exportViewPng(const QString& path)
{
    const QImage picture = isCompareShown() ? m_splitter->widget(1)->grab().toImage() : m_canvas->picture();
    if (picture.isNull() || !picture.save(path, "PNG")) {
        showError(tr("Could not write %1").arg(path));
        return false;
    }
    statusBar()->showMessage(tr("Saved %1").arg(path), 5000);
    return true;
}

bool MainWindow::exportAllLayers(const QString& folder)
{
    if (!hasResult())
        return false;
    const Trace& trace = m_outcome.result->trace;
    const QString title = QStringLiteral("%1 · %2 · \"%3\"")
                              .arg(QString::fromStdString(describe(m_outcome.result->method)), m_imageName, m_controls->question());
    try {
        for (int i = 0; i < int(trace.layers.size()); ++i) {
            const QImage page = renderLayerPage(m_image, trace, i, title, m_controls->overlayStyle());
            const QString path = QDir(folder).filePath(QStringLiteral("layer_%1.png").arg(trace.layers[size_t(i)].index, 2, 10, QChar('0')));
            if (!page.save(path, "PNG"))
                throw Error(path.toStdString() + ": cannot write");
        }
    } catch (const std::exception& error) {
        showError(tr("Export failed: %1").arg(QString::fromStdString(error.what())));
        return false;
    }
    statusBar()->showMessage(tr("Saved %1 layer pictures in %2").arg(trace.layers.size()).arg(folder), 5000);
    return true;
}

bool MainWindow::exportTraceJson(const QString& path)
{
    if (!hasResult())
        return false;
    try {
#ifdef TOKENSCOPE_HAS_TRACE_JSON
        writeTraceJson(path.toStdString(), m_controller->model().source.displayName().toStdString(),
                       m_controls->question().toStdString(), *m_outcome.result, m_outcome.baseline.get());
#else
        throw Error("this build has no trace writer");
#endif
    } catch (const std::exception& error) {
        showError(tr("Export failed: %1").arg(QString::fromStdString(error.what())));
        return false;
    }
    statusBar()->showMessage(tr("Saved %1").arg(path), 5000);
    return true;
}

bool MainWindow::exportTimelineJson(const QString& path)
{
    if (!hasResult())
        return false;
    std::vector<std::pair<std::string, std::vector<TimelineSpan>>> runs{
        {"A: " + describe(m_outcome.result->method), m_outcome.result->timeline}};
    if (const RunResult* reference = referenceResult())
        runs.push_back({referenceName().toStdString() + ": " + describe(reference->method), reference->timeline});
    QFile file(path);
    if (!file.open(QIODevice::WriteOnly | QIODevice::Truncate | QIODevice::Text)) {
        showError(tr("Could not write %1: %2").arg(path, file.errorString()));
        return false;
    }
    file.write(QByteArray::fromStdString(chromeTraceJson(runs)));
    statusBar()->showMessage(tr("Saved %1 (open it in ui.perfetto.dev or chrome://tracing)").arg(path), 5000);
    return true;
}

bool MainWindow::exportMetricsCsv(const QString& path)
{
    QFile file(path);
    if (!file.open(QIODevice::WriteOnly | QIODevice::Truncate | QIODevice::Text)) {
        showError(tr("Could not write %1: %2").arg(path, file.errorString()));
        return false;
    }
    file.write(m_charts->metricsCsv().toUtf8());
    statusBar()->showMessage(tr("Saved %1").arg(path), 5000);
    return true;
}

}  // namespace tokenscope
