// The window's "Answer changes" dock: a dataset evaluation's questions whose answer the method
// changed, each opened in the per-layer view against the unreduced model.

#include "ui/main_window.h"

#include <QDockWidget>
#include <QStatusBar>

#include "methods/method_registry.h"
#include "ui/answer_changes_view.h"
#include "ui/controls_panel.h"
#include "ui/inference_controller.h"

namespace tokenscope {

void MainWindow::setUpAnswerChanges()
{
    // Made when first asked for: a window that never opens results has no dock.
    if (m_answerChanges)
        return;
    m_answerChanges = new AnswerChangesView;
    m_answerChangesDock = new QDockWidget(tr("Answer changes"), this);
    m_answerChangesDock->setObjectName(QStringLiteral("answerChangesDock"));
    m_answerChangesDock->setWidget(m_answerChanges);
    addDockWidget(Qt::BottomDockWidgetArea, m_answerChangesDock);
    connect(m_answerChanges, &AnswerChangesView::openRequested, this, &MainWindow::openChangedAnswer);
}

bool MainWindow::openEvaluationResults(const QStringList& methodFiles, const QStringList& baselineFiles)
{
    setUpAnswerChanges();
    m_answerChangesDock->show();
    const QString error = m_answerChanges->openResults(methodFiles, baselineFiles);
    if (!error.isEmpty()) {
        showError(tr("Could not open the evaluation results: %1").arg(error));
        return false;
    }
    return true;
}

void MainWindow::openChangedAnswer(const evaluation::AnswerChange& item)
{
    if (item.images.size() != 1) {
        showError(tr("Question %1 has %2 images; the window opens single-image questions (NLVR2 pairs: use "
                     "tokenscope-cli answer with two --image).")
                      .arg(QString::fromStdString(item.id))
                      .arg(item.images.size()));
        return;
    }
    // The method the results were measured with, when it serves the loaded model.
    if (const auto settings = m_answerChanges->methodSettings();
        settings && m_controller->hasModel() &&
        methodDescriptor(settings->method()).serves(m_controller->model().capabilities.family))
        m_controls->setMethodSettings(*settings);
    m_controls->setQuestion(QString::fromStdString(item.question));
    m_controls->compareAgainstUnreduced();
    if (!openImageFile(QString::fromStdString(item.images.front())))
        return;
    statusBar()->showMessage(tr("Question %1: unreduced answered \"%2\", the method \"%3\"")
                                 .arg(QString::fromStdString(item.id), QString::fromStdString(item.baselineAnswer),
                                      QString::fromStdString(item.methodAnswer)),
                             8000);
}

}  // namespace tokenscope
