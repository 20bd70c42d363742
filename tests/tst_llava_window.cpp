// The window on the bundled tiny LLaVA-NeXT folder (offscreen): the LLaVA view replaces the ViLT
// canvas; Generate (Ctrl+Return) streams the answer in several pieces that add up to the final
// text; the tiles and kept counts shown are the record's; a budget change updates the selection
// without generating; Stop keeps the partial answer; an empty prompt, a broken image and an
// out-of-memory answer are reported without losing what is shown; a ViLT model brings the ViLT
// view back.

#include <QComboBox>
#include <QFile>
#include <QPushButton>
#include <QSignalSpy>
#include <QSlider>
#include <QSpinBox>
#include <QStatusBar>
#include <QTabWidget>
#include <QTemporaryDir>
#include <QTest>

#include <cmath>

#include "common/error.h"
#include "engine/visual_selection.h"
#include "methods/reduction_plan.h"
#include "support/stand_in_backend.h"
#include "ui/answer_panel.h"
#include "ui/canvas_view.h"
#include "ui/charts_panel.h"
#include "ui/controls_panel.h"
#include "ui/generation_charts.h"
#include "ui/inference_controller.h"
#include "ui/layer_scrubber.h"
#include "ui/llava_controls.h"
#include "ui/llava_view.h"
#include "ui/main_window.h"
#include "ui/method_panel.h"
#include "ui/resource_paths.h"
#include "ui/trace_view.h"
#include "viz/image_io.h"
#include "viz/tile_overlay.h"

using namespace tokenscope;

namespace {

constexpr int kTimeoutMs = 120000;

QString joined(const QSignalSpy& pieces)
{
    QString text;
    for (const QList<QVariant>& arguments : pieces)
        text += arguments.at(1).toString();
    return text;
}

// Per region: the original tokens that still have an owner after the trace's last layer.
std::vector<int> keptCounts(const Trace& trace)
{
    std::vector<int> counts;
    const std::vector<int>& owner = trace.layers.back().image.owner;
    for (const TraceRegion& region : trace.image.regions) {
        const int n = region.tokensPerSide * region.tokensPerSide;
        int kept = 0;
        for (int t = region.firstToken; t < region.firstToken + n; ++t)
            kept += owner.at(size_t(t)) >= 0;
        counts.push_back(kept);
    }
    return counts;
}

// A stand-in model: a fixed one-partition selection, and an answer that runs out of memory.
class OutOfMemoryBackend : public test::GeneratingStandIn {
public:
    OutOfMemoryBackend() : GeneratingStandIn("stand-in") {}
    GenerateResult generate(const GenerateRequest&, const GenerateCallback& onToken, const std::atomic<bool>*) override
    {
        onToken("Hel", 10);
        throw Error("out of memory during generation (tried to allocate 20.00 GiB); try a smaller budget");
    }
    GenerateResult selectVisualTokens(const ImageU8& image, const MethodSettings& settings,
                                      const std::atomic<bool>*) override
    {
        VisualSelection record;
        record.imageWidth = image.width;
        record.imageHeight = image.height;
        record.patchGrid = 2;
        record.featureLayer = 1;
        record.reduced = true;
        record.budget.unreducedTokens = 4;
        record.budget.deliveredTokens = 2;
        record.budget.selectedTokens = 2;
        record.budget.total = 2;
        PartitionSelection full;
        full.isFullImage = true;
        full.width = image.width;
        full.height = image.height;
        full.budget = 2;
        full.selected = {0, 3};
        full.kept = {0, 3};
        full.clsAttentionInitial = {0.1f, 0.2f, 0.3f, 0.4f};
        full.clsAttentionFinal = {0.4f, 0.3f, 0.2f, 0.1f};
        record.partitions.push_back(full);
        GenerateResult result;
        result.method = settings;
        result.trace = visualSelectionTrace(record);
        return result;
    }
};

}  // namespace

class TestLlavaWindow : public QObject {
    Q_OBJECT

private:
    std::unique_ptr<MainWindow> m_window;
    ImageU8 m_image;

    LlavaView* view() const { return m_window->llava(); }
    LlavaControls* knobs() const { return m_window->llava()->controls(); }

private Q_SLOTS:
    void initTestCase()
    {
        MainWindowOptions options;
        options.usesSettings = false;
        options.model.folder = resourceDir() + "/models/llava-next-tiny-random";
        options.imagePath = resourceDir() + "/images/photo.png";
        m_window = std::make_unique<MainWindow>(options);
        QSignalSpy shown(m_window->llava(), &LlavaView::selectionShown);
        m_window->resize(1440, 900);
        m_window->show();
        QVERIFY2(shown.wait(kTimeoutMs), qPrintable(m_window->lastError()));
        QVERIFY(m_window->isLlavaShown());
        QVERIFY(view()->hasModel());
        QCOMPARE(view()->controller(), m_window->controller());  // one worker for every family
        // One method panel: the window's, listing LLaVA's methods while a LLaVA model is loaded.
        QCOMPARE(knobs()->methodPanel(), m_window->controls()->methodPanel());
        QVERIFY(m_window->controls()->methodPanel()->isVisible());
        QVERIFY(knobs()->methodCombo()->findData(QStringLiteral("hired")) >= 0);
        QCOMPARE(knobs()->methodCombo()->findData(QStringLiteral("pumer")), -1);
        QVERIFY(knobs()->settings().is("hired"));
        // One answer panel and one charts panel: streamed answers and per-answer charts here.
        QVERIFY(m_window->answers()->isStreamed());
        QVERIFY(m_window->answers()->isVisible());
        QCOMPARE(view()->charts(), m_window->charts()->generation());
        QVERIFY(m_window->charts()->generation()->isVisible());
        QVERIFY(!m_window->charts()->tabs()->isVisible());
        QVERIFY(m_window->controller()->model().capabilities.generates);
        QVERIFY(!m_window->controller()->model().capabilities.answersFromLabels);
        QVERIFY(!m_window->canvas()->isVisible());
        m_image = loadImageFile((resourceDir() + "/images/photo.png").toStdString()).image;
    }
    void cleanupTestCase() { m_window.reset(); }

    void generateStreamsTheAnswer()
    {
        MethodSettings settings("hired");
        settings.set("budget", 0.2).set("alpha", 0.5);
        knobs()->setSettings(settings);
        knobs()->setMaxNewTokens(24);
        QSignalSpy pieces(view()->controller(), &InferenceController::tokenStreamed);
        QSignalSpy answered(view(), &LlavaView::generationShown);
        const size_t runsBefore = view()->charts()->runs().size();
        // Ctrl+Return is Generate's shortcut.
        m_window->activateWindow();
        QVERIFY(QTest::qWaitForWindowActive(m_window.get()));
        QTest::keyClick(m_window.get(), Qt::Key_Return, Qt::ControlModifier);
        QVERIFY2(answered.wait(kTimeoutMs), qPrintable(m_window->lastError()));

        const GenerateResult* result = view()->lastResult();
        QVERIFY(result);
        QVERIFY2(pieces.size() > 1, "the answer arrives token by token");
        QVERIFY(!result->text.empty());
        QCOMPARE(joined(pieces), QString::fromStdString(result->text));
        QCOMPARE(view()->answerText(), QString::fromStdString(result->text));
        QCOMPARE(visualSelectionOf(result->method).method, LlavaMethod::Hired);
        QCOMPARE(visualSelectionOf(result->method).budget, 0.2);

        const Trace& trace = result->trace;
        const size_t regions = trace.image.regions.size();
        QVERIFY(regions > 1);
        QCOMPARE(view()->shownPartitionCount(), int(regions));
        QCOMPARE(int(view()->boardPartitionRects().size()), int(regions));
        QCOMPARE(view()->shownKeptCounts(), keptCounts(trace));
        QVERIFY2(view()->countsText().contains(
                     QStringLiteral("%1 of %2").arg(trace.budget.deliveredTokens).arg(trace.budget.unreducedTokens)),
                 qPrintable(view()->countsText()));
        QVERIFY(view()->metricsText().contains(QStringLiteral("TTFT %1 ms").arg(result->timings.ttftMs, 0, 'f', 1)));
        QCOMPARE(view()->charts()->runs().size(), runsBefore + 1);
        QCOMPARE(view()->charts()->runs().back().tokensKept, trace.budget.deliveredTokens);
        QCOMPARE(view()->charts()->runs().back().ttftMs, result->timings.ttftMs);
        QVERIFY(knobs()->generateButton()->isEnabled());
    }

    void budgetChangeUpdatesKeptCountWithoutGenerating()
    {
        QVERIFY(view()->hasRecord());
        const int keptBefore = view()->shownRecord()->trace.budget.deliveredTokens;
        const QString answerBefore = view()->answerText();
        const size_t runsBefore = view()->charts()->runs().size();
        QSignalSpy generations(view()->controller(), &InferenceController::generationStarted);
        QSignalSpy shown(view(), &LlavaView::selectionShown);
        knobs()->budgetSlider()->slider()->setValue(11);  // 0.05 + 11 · 0.05 = 0.6
        QVERIFY(shown.wait(kTimeoutMs));
        const GenerateResult* record = view()->shownRecord();
        QVERIFY(std::abs(visualSelectionOf(record->method).budget - 0.6) < 1e-9);
        const VisualBudget& budget = record->trace.budget;
        QVERIFY2(budget.deliveredTokens > keptBefore, "a larger budget keeps more visual tokens");
        QCOMPARE(view()->shownKeptCounts(), keptCounts(record->trace));
        QVERIFY(view()->countsText().contains(QStringLiteral("%1 of %2").arg(budget.deliveredTokens).arg(budget.unreducedTokens)));
        QCOMPARE(generations.size(), 0);
        QCOMPARE(view()->answerText(), answerBefore);
        QCOMPARE(view()->charts()->runs().size(), runsBefore);
    }

    void heatmapShowsTheRecordsAttention()
    {
        QSignalSpy shown(view(), &LlavaView::boardShown);
        QSignalSpy records(view(), &LlavaView::selectionShown);
        view()->shadingCombo()->setCurrentIndex(view()->shadingCombo()->findData(int(TileShading::AttentionFinal)));
        QVERIFY(shown.wait(kTimeoutMs));
        QCOMPARE(records.size(), 0);  // the same record, drawn another way
        TileBoardStyle style = view()->boardStyle();
        QCOMPARE(style.shading, TileShading::AttentionFinal);
        const QImage expected = renderTileBoard(m_image, view()->shownRecord()->trace, style).picture;
        QCOMPARE(view()->canvas()->picture(), expected);
        style.shading = TileShading::Tokens;
        QVERIFY2(renderTileBoard(m_image, view()->shownRecord()->trace, style).picture != expected, "the heatmap differs from the kept view");
        view()->shadingCombo()->setCurrentIndex(0);
        QVERIFY(shown.wait(kTimeoutMs));
    }

    // The board steps through the trace's layers on the same trace view (canvas + scrubber) as
    // ViLT's: the vision layers HiRED reads (every token still there), its selection, the removal of
    // padding; the last is shown by default.
    void layerScrubberShowsEachStepOfTheSelection()
    {
        const Trace& trace = view()->shownRecord()->trace;
        LayerScrubber* scrubber = view()->traceView()->scrubber();
        QCOMPARE(scrubber->layerCount(), int(trace.layers.size()));
        bool hasSelect = false;
        for (int layer = 0; layer < scrubber->layerCount(); ++layer) {
            QCOMPARE(scrubber->layerName(layer), QString::fromStdString(trace.layerName(layer)));
            hasSelect = hasSelect || scrubber->layerName(layer) == QStringLiteral("select");
        }
        QVERIFY(hasSelect);
        QCOMPARE(scrubber->currentIndex(), scrubber->layerCount() - 1);
        QSignalSpy shown(view(), &LlavaView::boardShown);
        scrubber->setCurrentIndex(0);
        QVERIFY(shown.wait(kTimeoutMs));
        TileBoardStyle style = view()->boardStyle();
        QCOMPARE(style.layer, 0);
        const QImage first = renderTileBoard(m_image, trace, style).picture;
        QCOMPARE(view()->canvas()->picture(), first);
        style.layer = scrubber->layerCount() - 1;
        QVERIFY2(renderTileBoard(m_image, trace, style).picture != first, "the method drops tokens after the vision layers");
        // → steps the shown view's scrubber (the window's shortcut).
        m_window->activateWindow();
        QVERIFY(QTest::qWaitForWindowActive(m_window.get()));
        QTest::keyClick(m_window.get(), Qt::Key_Right);
        QCOMPARE(scrubber->currentIndex(), 1);
        scrubber->setCurrentIndex(scrubber->layerCount() - 1);
        QTRY_COMPARE_WITH_TIMEOUT(view()->canvas()->picture(), renderTileBoard(m_image, trace, style).picture, kTimeoutMs);
    }

    void stopKeepsThePartialAnswer()
    {
        knobs()->setMaxNewTokens(4000);
        QSignalSpy pieces(view()->controller(), &InferenceController::tokenStreamed);
        QSignalSpy failed(view()->controller(), &InferenceController::generationFailed);
        QSignalSpy finished(view()->controller(), &InferenceController::generationFinished);
        QSignalSpy errors(m_window.get(), &MainWindow::errorShown);
        QVERIFY(view()->generate());
        QVERIFY(!knobs()->generateButton()->isEnabled());
        QVERIFY(pieces.wait(kTimeoutMs));
        QTest::mouseClick(knobs()->stopButton(), Qt::LeftButton);
        QTRY_VERIFY_WITH_TIMEOUT(failed.size() + finished.size() > 0, kTimeoutMs);
        QCOMPARE(finished.size(), 0);
        QCOMPARE(failed.size(), 1);
        QVERIFY(failed.front().at(2).toBool());  // cancelled
        QVERIFY2(view()->answerStatusText().contains("stopped"), qPrintable(view()->answerStatusText()));
        QVERIFY(!view()->answerText().isEmpty());
        QCOMPARE(view()->answerText(), joined(pieces));
        QCOMPARE(errors.size(), 0);
        QVERIFY(knobs()->generateButton()->isEnabled());
        knobs()->setMaxNewTokens(24);
    }

    void emptyPromptIsReportedAndKeepsState()
    {
        const auto record = view()->shownRecord();
        const QString answer = view()->answerText();
        const QString prompt = knobs()->prompt();
        QSignalSpy generations(view()->controller(), &InferenceController::generationStarted);
        knobs()->setPrompt(QStringLiteral("   "));
        QVERIFY(!view()->generate());
        QVERIFY2(m_window->lastError().contains("prompt is empty"), qPrintable(m_window->lastError()));
        QVERIFY(m_window->statusBar()->currentMessage().contains("prompt is empty"));
        QVERIFY(view()->bannerText().contains("prompt is empty"));
        QCOMPARE(generations.size(), 0);
        QCOMPARE(view()->shownRecord(), record);
        QCOMPARE(view()->answerText(), answer);
        knobs()->setPrompt(prompt);
    }

    void brokenImageIsReportedAndKeepsState()
    {
        QTemporaryDir folder;
        const QString path = folder.filePath("broken.png");
        QFile file(path);
        QVERIFY(file.open(QIODevice::WriteOnly));
        file.write("not a png");
        file.close();
        const auto record = view()->shownRecord();
        QVERIFY(!m_window->openImageFile(path));
        QVERIFY(m_window->lastError().contains("Could not open the image"));
        QVERIFY(m_window->statusBar()->currentMessage().contains("Could not open the image"));
        QVERIFY(m_window->isLlavaShown());
        QCOMPARE(view()->shownRecord(), record);
        QTest::qWait(300);  // nothing was asked of the worker
        QCOMPARE(view()->shownRecord(), record);
    }

    void outOfMemoryIsReportedAndKeepsState()
    {
        InferenceController controller(
            [](const ModelSource&, const EngineOptions&) { return std::make_unique<OutOfMemoryBackend>(); });
        MethodPanel methods(FamilyKind::Llava);
        methods.setSettings(MethodSettings("hired"));
        AnswerPanel answers;
        ChartsPanel charts;
        LlavaView standIn(&controller, &methods, &answers, &charts);
        QSignalSpy loaded(&controller, &InferenceController::modelLoaded);
        connect(&controller, &InferenceController::modelLoaded, &standIn, &LlavaView::showModel);
        QSignalSpy shown(&standIn, &LlavaView::selectionShown);
        standIn.controller()->loadModel(ModelSource{QStringLiteral("stand-in"), {}, DeviceKind::Cpu, Precision::Fp32});
        QVERIFY(loaded.wait(kTimeoutMs));
        standIn.setImage(m_image, QStringLiteral("photo.png"));
        QVERIFY(shown.wait(kTimeoutMs));
        QCOMPARE(standIn.shownKeptCounts(), std::vector<int>{2});
        QSignalSpy errors(&standIn, &LlavaView::errorOccurred);
        QVERIFY(standIn.generate());
        QVERIFY(errors.wait(kTimeoutMs));
        QVERIFY2(errors.front().at(0).toString().contains("out of memory"), qPrintable(errors.front().at(0).toString()));
        QVERIFY(standIn.hasRecord());
        QCOMPARE(standIn.shownKeptCounts(), std::vector<int>{2});
        QCOMPARE(standIn.answerText(), QStringLiteral("Hel"));
        QVERIFY(standIn.controls()->generateButton()->isEnabled());
    }

    void viltModelBringsTheViltViewBack()
    {
        QSignalSpy resultShown(m_window.get(), &MainWindow::resultShown);
        m_window->loadModel(ModelSource{resourceDir() + "/models/vilt-tiny-random", {}, DeviceKind::Cpu, Precision::Fp32});
        QVERIFY2(resultShown.wait(kTimeoutMs), qPrintable(m_window->lastError()));
        QVERIFY(!m_window->isLlavaShown());
        QVERIFY(m_window->canvas()->isVisible());
        QVERIFY(!view()->hasModel());  // the ViLT model replaced the LLaVA-NeXT one on the one worker
        QVERIFY(!m_window->answers()->isStreamed());  // ranked labels again
        QVERIFY(m_window->charts()->tabs()->isVisible());
        QVERIFY(!m_window->charts()->generation()->isVisible());
        // The method panel lists ViLT's methods again, with ViLT's settings as they were.
        QVERIFY(m_window->controls()->methodSettings().is("pumer"));
        QVERIFY(m_window->controls()->methodCombo()->findData(QStringLiteral("pumer")) >= 0);
        QCOMPARE(m_window->controls()->methodCombo()->findData(QStringLiteral("hired")), -1);
        QVERIFY(m_window->controller()->model().capabilities.answersFromLabels);
    }
};

QTEST_MAIN(TestLlavaWindow)
#include "tst_llava_window.moc"
