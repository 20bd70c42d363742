// MainWindow's LLaVA-NeXT half: a LLaVA-NeXT folder loads into LlavaView's own worker (not the
// ViLT RunController), and while it is loaded the view takes the place of the ViLT canvas and
// panels; the model and image controls on the left stay shared. Loading a ViLT model again
// brings the ViLT view back and frees the LLaVA-NeXT model.

#include "ui/main_window.h"

#include <QLabel>
#include <QSplitter>
#include <QStatusBar>
#include <QVBoxLayout>

#include <algorithm>
#include <numeric>

#include "ui/controls_panel.h"
#include "ui/layer_scrubber.h"
#include "ui/llava_controller.h"
#include "ui/llava_controls.h"
#include "ui/llava_view.h"
#include "ui/run_controller.h"

namespace tokenscope {

void MainWindow::setUpLlava(QVBoxLayout* leftColumn)
{
    m_llava = new LlavaView;
    m_llava->setVisible(false);
    m_llava->controls()->setVisible(false);
    leftColumn->addWidget(m_llava->controls());
    leftColumn->addStretch(1);
    m_splitter->addWidget(m_llava);
    m_splitter->setStretchFactor(m_splitter->indexOf(m_llava), 5);

    LlavaController* llava = m_llava->controller();
    connect(llava, &LlavaController::loadStarted, this, [this] { m_controls->setLoading(true, 0); });
    connect(llava, &LlavaController::loadProgress, this, [this](double fraction) { m_controls->setLoading(true, fraction); });
    connect(llava, &LlavaController::modelLoaded, this, &MainWindow::onLlavaModelLoaded);
    connect(llava, &LlavaController::modelLoadFailed, this, [this](const QString& message, bool isCancelled) {
        m_controls->setLoading(m_controller->isLoading() || m_llava->controller()->isLoading());
        QString keeps;
        if (isLlavaShown() && m_llava->controller()->hasModel())
            keeps = tr(" The previous model (%1) stays loaded.").arg(m_llava->controller()->model().source.displayName());
        else if (m_controller->hasModel())
            keeps = tr(" The previous model (%1) stays loaded.").arg(m_controller->model().source.displayName());
        if (isCancelled)
            showNote(tr("Loading cancelled.") + keeps);
        else
            showError(tr("Could not load the model: %1.%2").arg(message, keeps));
    });
    connect(llava, &LlavaController::busyChanged, this, [this](bool isBusy) {
        if (isLlavaShown())
            m_runState->setText(isBusy ? tr("running…") : tr("ready"));
    });
    connect(m_controls, &ControlsPanel::cancelLoadRequested, llava, &LlavaController::cancelLoad);
    connect(m_llava, &LlavaView::errorOccurred, this, &MainWindow::showError);
    connect(m_llava, &LlavaView::statusMessage, this, [this](const QString& message, int timeoutMs) {
        statusBar()->showMessage(message, timeoutMs);
    });
    connect(this, &MainWindow::errorShown, m_llava, [this](const QString& message) {
        if (isLlavaShown())
            m_llava->showBanner(message);
    });
}

bool MainWindow::isLlavaShown() const { return m_llava && m_llava->isVisibleTo(this); }

void MainWindow::showLlavaView(bool isShown)
{
    if (isShown == isLlavaShown())
        return;
    QList<int> sizes = m_splitter->sizes();
    const int total = std::accumulate(sizes.begin(), sizes.end(), 0);
    const int left = sizes.isEmpty() ? 300 : sizes.front();
    if (isShown)
        m_scrubber->setPlaying(false);
    // The ViLT middle and right columns are the splitter's widgets 1 and 2.
    m_splitter->widget(1)->setVisible(!isShown);
    m_splitter->widget(2)->setVisible(!isShown);
    m_llava->setVisible(isShown);
    m_llava->controls()->setVisible(isShown);
    m_controls->setViltControlsVisible(!isShown);
    const int rest = std::max(400, total - left);
    if (isShown)
        m_splitter->setSizes({left, 0, 0, rest});
    else
        m_splitter->setSizes({left, rest * 3 / 5, rest - rest * 3 / 5, 0});
    m_runState->setText(tr("ready"));
}

void MainWindow::onLlavaModelLoaded(const ModelInfo& info)
{
    m_controls->setLoading(m_controller->isLoading() || m_llava->controller()->isLoading());
    if (!info.source.folder.isEmpty())
        rememberModel(info.source);
    m_controls->setModelInfo(info);
    showLlavaView(true);
    m_banner->setVisible(false);
    m_llava->showBanner({});
    for (const std::string& warning : info.summary.warnings)
        showNote(QString::fromStdString(warning));
    statusBar()->showMessage(tr("Loaded %1 (LLaVA-NeXT) in %2 ms").arg(info.source.displayName()).arg(info.summary.loadMs, 0, 'f', 0),
                             5000);
}

}  // namespace tokenscope
