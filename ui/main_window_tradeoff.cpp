// MainWindow's Trade-off chart: the sweep curve of the loaded model (its folder's sweep.csv, or
// one the user loads) and the current configuration as a point measured by a quick evaluation on
// the worker thread (InferenceController::requestEval: after the interactive run, latest wins, stopped
// by any newer run). Only Shapes VQA models are measured: shapes::isShapesModel, i.e. config.json's
// id2label is the Shapes answers in order.

#include "ui/main_window.h"

#include <QDir>
#include <QFileDialog>
#include <QFileInfo>

#include "engine/trace.h"
#include "tasks/eval/sweep_table.h"
#include "tasks/shapes/shapes_eval.h"
#include "ui/charts_panel.h"
#include "ui/controls_panel.h"
#include "ui/inference_controller.h"
#include "ui/tradeoff_chart.h"

namespace tokenscope {

namespace {

constexpr int kQuickEvalExamples = 96;
constexpr int kQuickEvalBatch = 32;
constexpr int kQuickEvalPasses = 2;  // of each, in turns with the unreduced model

}  // namespace

bool MainWindow::loadSweep(const QString& path)
{
    try {
        const std::vector<SweepRow> rows = readSweepCsv(path.toStdString());
        m_charts->tradeoff()->setSweep(rows, QFileInfo(path).absoluteFilePath());
        m_charts->tradeoff()->setStatus(tr("Curve: %1 (%2 configurations).").arg(path).arg(rows.size()));
        return true;
    } catch (const std::exception& error) {
        showError(tr("Could not load the sweep: %1. The previous curve stays.").arg(QString::fromStdString(error.what())));
        return false;
    }
}

void MainWindow::chooseSweepFile()
{
    const QString start = m_controller->hasModel() ? m_controller->model().source.folder : QString();
    const QString path = QFileDialog::getOpenFileName(this, tr("Load trade-off sweep"), start, tr("Sweep tables (*.csv)"));
    if (!path.isEmpty())
        loadSweep(path);
}

void MainWindow::setUpTradeoff(const ModelInfo& info)
{
    m_evalCache.clear();
    m_requestedEvalKey.clear();
    m_modelGeneration = info.generation;
    m_isShapesModel = shapes::isShapesModel(info.summary.config);
    TradeoffChart* chart = m_charts->tradeoff();
    chart->clearCurrentPoint();
    const QString sweepPath = info.source.folder.isEmpty() ? QString() : QDir(info.source.folder).filePath("sweep.csv");
    if (!sweepPath.isEmpty() && QFileInfo::exists(sweepPath) && loadSweep(sweepPath))
        return;
    chart->clearSweep();
    if (m_isShapesModel)
        chart->setStatus(tr("No sweep.csv next to this model: File → Load trade-off sweep…, or make one with "
                            "tokenscope-cli eval --sweep --model DIR --out DIR."));
    else
        chart->setStatus(tr("The current configuration is measured for Shapes VQA models only (config.json's id2label "
                            "is the Shapes answers); %1 is not one. A sweep can still be loaded (File menu).")
                             .arg(info.source.displayName()));
}

void MainWindow::requestQuickEval()
{
    if (!m_isShapesModel || !m_controller->hasModel())
        return;
    const MethodSettings settings = m_controls->methodSettings();
    const QString key = QString::fromStdString(describe(settings));
    if (m_evalCache.contains(key)) {
        showCurrentTradeoffPoint();
        return;
    }
    if (key == m_requestedEvalKey)
        return;  // already waiting or running
    m_requestedEvalKey = key;
    EvalJob job;
    job.method = settings;
    job.seed = shapes::kTestSeed;
    job.examples = kQuickEvalExamples;
    job.batch = kQuickEvalBatch;
    job.passes = kQuickEvalPasses;
    m_controller->requestEval(job);
    m_charts->tradeoff()->setStatus(tr("Measuring %1 on %2 test scenes (split seed %3)…")
                                        .arg(key).arg(kQuickEvalExamples).arg(shapes::kTestSeed));
}

void MainWindow::showCurrentTradeoffPoint()
{
    if (!m_isShapesModel)
        return;
    TradeoffChart* chart = m_charts->tradeoff();
    const QString key = QString::fromStdString(describe(m_controls->methodSettings()));
    const auto found = m_evalCache.constFind(key);
    if (found == m_evalCache.constEnd()) {
        chart->clearCurrentPoint();
        chart->setStatus(tr("%1 is measured after its run.").arg(key));
        return;
    }
    const EvalOutcome& outcome = *found;
    TradeoffChart::CurrentPoint point;
    point.settings = key;
    point.accuracy = outcome.accuracy;
    point.examplesPerSecond = outcome.examplesPerSecond;
    point.speedup = outcome.unreducedExamplesPerSecond > 0 ? outcome.examplesPerSecond / outcome.unreducedExamplesPerSecond : 1.0;
    point.unreducedAccuracy = outcome.unreducedAccuracy;
    point.agreement = outcome.agreement;
    point.examples = outcome.examples;
    chart->setCurrentPoint(point);
    const QString curve = chart->sourceName().isEmpty() ? tr("no sweep loaded") : tr("curve: %1").arg(chart->sourceName());
    chart->setStatus(tr("Measured here on %1 test scenes (split seed %2) in %3 s; %4.")
                         .arg(outcome.examples).arg(shapes::kTestSeed).arg(outcome.totalMs / 1000.0, 0, 'f', 1).arg(curve));
    Q_EMIT quickEvalShown();
}

void MainWindow::onEvalFailed(quint64, const QString& message)
{
    m_requestedEvalKey.clear();
    m_charts->tradeoff()->setStatus(tr("Could not measure the current configuration: %1").arg(message));
}

void MainWindow::onEvalFinished(const EvalOutcome& outcome)
{
    if (outcome.modelGeneration != m_modelGeneration)
        return;  // measured on a model that has since been replaced
    const QString key = QString::fromStdString(describe(outcome.method));
    m_evalCache.insert(key, outcome);
    if (key == m_requestedEvalKey)
        m_requestedEvalKey.clear();
    if (key == QString::fromStdString(describe(m_controls->methodSettings())))
        showCurrentTradeoffPoint();
}

}  // namespace tokenscope
