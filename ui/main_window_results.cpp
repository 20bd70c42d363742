// MainWindow's display of a run's result: the answers and costs, the layer shown on the canvas (or
// the A / B / diff comparison) with its legend, counts and text strip, a clicked patch's provenance
// and the deltas against the reference.

#include "ui/main_window.h"

#include <QElapsedTimer>
#include <QLabel>
#include <QSplitter>
#include <QStackedWidget>
#include <QStatusBar>

#include <algorithm>
#include <limits>
#include <numeric>

#include "ui/answer_panel.h"
#include "ui/canvas_view.h"
#include "ui/charts_panel.h"
#include "ui/controls_panel.h"
#include "ui/layer_scrubber.h"
#include "ui/trace_labels.h"
#include "ui/trace_view.h"
#include "viz/overlay.h"

namespace tokenscope {

namespace {

QString percentChange(double value, double reference)
{
    if (reference == 0)
        return QString();
    const double change = 100.0 * (value - reference) / reference;
    return QStringLiteral(" (%1%2%)").arg(change > 0 ? "+" : "").arg(change, 0, 'f', 0);
}

QString stateWord(TokenState state)
{
    switch (state) {
    case TokenState::Kept: return QObject::tr("kept");
    case TokenState::Merged: return QObject::tr("merged");
    case TokenState::Pruned: return QObject::tr("pruned");
    }
    return {};
}

}  // namespace

void MainWindow::showResult(const RunOutcome& outcome, const OverlayJob& job, int target, const LayerPictures& pictures)
{
    QElapsedTimer drawTimer;
    drawTimer.start();
    m_outcome = outcome;
    m_overlays->setJob(job);
    if (!pictures.main.isNull())
        m_overlays->insert(target, pictures);
    const Trace& trace = outcome.result->trace;
    m_traceView->setTrace(trace);
    if (target >= 0)
        m_traceView->showLayer(target);
    m_pendingLayer = -1;
    if (m_controls->isCompareEnabled() && m_traceView->pages()->currentIndex() != 1) {
        m_traceView->pages()->setCurrentIndex(1);
        const int height = std::max(200, m_traceView->pages()->height());
        m_compareSplit->setSizes({height / 2, height / 2});
    } else if (!m_controls->isCompareEnabled()) {
        m_traceView->pages()->setCurrentIndex(0);
    }
    const RunResult* reference = referenceResult();
    m_answers->setAnswers(tr("A: %1").arg(QString::fromStdString(describe(outcome.result->method))), outcome.result->answers,
                          referenceName(), reference ? reference->answers : std::vector<ScoredAnswer>{});
    m_answers->setExpectedAnswer(expectedAnswer());
    m_answers->setCost(outcome.result->forwardMs, outcome.result->memory, reference ? reference->forwardMs : 0.0,
                       reference ? &reference->memory : nullptr, referenceName());
    m_charts->addRun(*outcome.result, outcome.baseline.get(), outcome.totalMs);
    updateDeltas();
    showLayer();
    std::vector<int> all(trace.layers.size());
    std::iota(all.begin(), all.end(), 0);
    m_overlays->prefetch(all, m_scrubber->currentIndex());
    if (m_selectedToken >= 0)
        showProvenance(m_selectedToken);
    statusBar()->showMessage(tr("%1: forward %2 ms").arg(QString::fromStdString(describe(outcome.result->method)))
                                 .arg(outcome.result->forwardMs, 0, 'f', 1), 4000);
    m_lastResultDrawMs = double(drawTimer.nsecsElapsed()) / 1e6;
    requestQuickEval();  // after the run the user asked for, on the worker when it is free
    Q_EMIT resultShown();
}

int MainWindow::shownLayerIndex() const { return m_scrubber->currentIndex(); }

bool MainWindow::isCompareShown() const { return m_traceView->pages()->currentIndex() == 1; }

QString MainWindow::countsText() const { return m_counts->text(); }

QString MainWindow::provenanceText() const { return m_provenance->text(); }

void MainWindow::showLayer()
{
    if (!hasResult())
        return;
    const Trace& trace = m_outcome.result->trace;
    const int index = m_scrubber->currentIndex();
    if (index < 0 || index >= int(trace.layers.size()))
        return;
    QElapsedTimer drawTimer;
    drawTimer.start();
    const OverlayStyle style = m_controls->overlayStyle();
    const TraceLayer& layer = trace.layers[size_t(index)];
    try {
        // Pictures come from the cache, drawn off the GUI thread; a layer not drawn yet keeps the
        // previous picture until layerReady brings it here again.
        m_overlays->setJob(overlayJobFor(m_outcome));
        const bool isCompare = m_controls->isCompareEnabled();
        if (m_overlays->request(index, int(trace.layers.size()))) {
            const LayerPictures& pictures = m_overlays->pictures(index);
            CanvasView* main = isCompare ? m_canvasA : m_canvas;
            main->setPicture(pictures.main, &trace, pictures.mainScale);
            main->setTitle(isCompare ? tr("A: %1").arg(QString::fromStdString(describe(m_outcome.result->method))) : QString());
            const RunResult* reference = m_overlays->job().reference.get();
            if (isCompare && reference && !pictures.reference.isNull()) {
                m_canvasB->setPicture(pictures.reference, &reference->trace, pictures.referenceScale);
                // Another model: its layer at the same relative depth, named; no diff (other patches).
                const bool isOtherModel = m_controls->compareModelSource().has_value();
                m_canvasB->setTitle(isOtherModel ? tr("%1 — %2").arg(referenceName(), layerCaption(reference->trace, pictures.referenceIndex))
                                                 : referenceName());
                m_diffCanvas->setVisible(!isOtherModel);
                if (pictures.diffError.isEmpty()) {
                    m_diffCanvas->setPicture(pictures.diff, nullptr, 1);
                    m_diffCanvas->setTitle(tr("Diff: orange only A, blue only B"));
                } else {
                    m_diffCanvas->setPicture({}, nullptr, 1);
                    m_diffCanvas->setTitle(tr("Diff"));
                    m_diffCanvas->setPlaceholder(tr("No diff: %1").arg(pictures.diffError));
                }
            }
        }
        // Scores of this layer for the legend's colour bar.
        float scoreMin = std::numeric_limits<float>::quiet_NaN(), scoreMax = scoreMin;
        if (!layer.image.score.empty()) {
            const auto [low, high] = std::minmax_element(layer.image.score.begin(), layer.image.score.end());
            scoreMin = *low;
            scoreMax = *high;
        }
        const qreal ratio = devicePixelRatioF();
        QImage legend = renderLegend(style, int(std::max(300, m_legend->width()) * ratio), scoreMin, scoreMax);
        legend.setDevicePixelRatio(ratio);
        m_legend->setPixmap(QPixmap::fromImage(legend));
        QImage strip = renderTextStrip(trace, index, int(std::max(300, m_textStrip->width() - 8) * ratio));
        strip.setDevicePixelRatio(ratio);
        m_textStrip->setPixmap(QPixmap::fromImage(strip));
    } catch (const std::exception& error) {
        showError(tr("Cannot draw layer %1: %2").arg(layer.index).arg(QString::fromStdString(error.what())));
        return;
    }
    const int imageTotal = int(trace.image.patchCell.size());
    // A model that pads questions to a fixed length (METER: max_text_len) runs more text tokens than
    // the question has; the count says so rather than reading "21 of 12".
    const int questionTokens = int(trace.text.labels.size());
    const int textTotal = std::max(questionTokens, trace.layers.empty() ? 0 : trace.layers.front().text.tokens);
    int pruned = 0, merged = 0;
    for (TokenState state : imageTokenStates(trace, index)) {
        pruned += state == TokenState::Pruned;
        merged += state == TokenState::Merged;
    }
    const QString textCount = textTotal > questionTokens
        ? tr("%1 of %2 text tokens (the question's %3, then padding)").arg(layer.text.tokens).arg(textTotal).arg(questionTokens)
        : tr("%1 of %2 text tokens").arg(layer.text.tokens).arg(textTotal);
    m_counts->setText(tr("<b>Layer %1</b>: %2 of %3 image tokens left (%4 patches pruned, %5 merged) · %6")
                          .arg(layer.index).arg(layer.image.tokens).arg(imageTotal).arg(pruned).arg(merged).arg(textCount));
    m_charts->setCurrentLayerIndex(index);
    m_lastLayerDrawMs = double(drawTimer.nsecsElapsed()) / 1e6;
}

void MainWindow::showProvenance(int token)
{
    if (!hasResult())
        return;
    const Trace& trace = m_outcome.result->trace;
    const int index = m_scrubber->currentIndex();
    if (token < 0 || token >= int(trace.image.patchCell.size()) || index >= int(trace.layers.size()))
        return;
    m_selectedToken = token;
    const std::vector<int> representatives = imageGroupRepresentatives(trace, index);
    std::vector<int> group;
    const int representative = representatives[size_t(token)];
    for (int t = 0; t < int(representatives.size()); ++t)
        if (representative >= 0 && representatives[size_t(t)] == representative)
            group.push_back(t);
    for (CanvasView* view : {m_canvas, m_canvasA})
        view->setHighlight(group);
    QStringList steps;
    for (int i = 0; i < int(trace.layers.size()); ++i) {
        const std::vector<TokenState> states = imageTokenStates(trace, i);
        const TokenState state = states[size_t(token)];
        QString step = QStringLiteral("L%1 %2").arg(trace.layers[size_t(i)].index).arg(stateWord(state));
        if (state == TokenState::Merged) {
            const int owner = trace.layers[size_t(i)].image.owner[size_t(token)];
            step += QStringLiteral("(%1)").arg(trace.layers[size_t(i)].image.size[size_t(owner)]);
        }
        if (i == index)
            step = "<b>" + step + "</b>";
        steps << step;
        if (state == TokenState::Pruned)
            break;
    }
    const auto cell = trace.image.patchCell[size_t(token)];
    const TraceLayer& layer = trace.layers[size_t(index)];
    QString score;
    if (!layer.image.score.empty())
        score = tr(", score %1").arg(layer.image.score[size_t(token)], 0, 'g', 3);
    m_provenance->setText(tr("<b>Patch row %1, column %2</b> (image token %3)%4<br>group at this layer: %5 patch(es), outlined<br>%6")
                              .arg(cell[0]).arg(cell[1]).arg(token).arg(score).arg(group.size()).arg(steps.join(" → ")));
}

void MainWindow::updateDeltas()
{
    const RunResult* reference = referenceResult();
    if (!hasResult() || !reference || reference->trace.layers.empty() || m_outcome.result->trace.layers.empty()) {
        m_deltas->clear();
        return;
    }
    const RunResult& result = *m_outcome.result;
    auto tokenWork = [](const Trace& trace) {
        double sum = 0;
        for (const TraceLayer& layer : trace.layers)
            sum += layer.image.tokensIn + layer.text.tokensIn;
        return sum;
    };
    const TraceLayer& last = result.trace.layers.back();
    const TraceLayer& referenceLast = reference->trace.layers.back();
    m_deltas->setText(tr("<b>A vs %1</b><br>tokens at the last layer: %2 vs %3%4<br>tokens summed over layers: %5 vs %6%7<br>"
                         "forward: %8 ms vs %9 ms%10<br>activation peak (%11): %12 vs %13 MiB%14")
                          .arg(referenceName().toHtmlEscaped())
                          .arg(last.image.tokens + last.text.tokens).arg(referenceLast.image.tokens + referenceLast.text.tokens)
                          .arg(percentChange(last.image.tokens + last.text.tokens, referenceLast.image.tokens + referenceLast.text.tokens))
                          .arg(tokenWork(result.trace)).arg(tokenWork(reference->trace))
                          .arg(percentChange(tokenWork(result.trace), tokenWork(reference->trace)))
                          .arg(result.forwardMs, 0, 'f', 1).arg(reference->forwardMs, 0, 'f', 1)
                          .arg(percentChange(result.forwardMs, reference->forwardMs))
                          .arg(result.memory.protocol == MemoryProtocol::Autograd ? tr("autograd") : tr("inference, allocator"))
                          .arg(toMiB(result.memory.activationsPeakBytes), 0, 'f', 1).arg(toMiB(reference->memory.activationsPeakBytes), 0, 'f', 1)
                          .arg(percentChange(double(result.memory.activationsPeakBytes), double(reference->memory.activationsPeakBytes))));
}

}  // namespace tokenscope
