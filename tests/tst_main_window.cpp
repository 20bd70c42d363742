// The window on the bundled tiny model (offscreen): a knob starts a run and the overlay and counts
// follow the trace, the scrubber changes the shown layer, compare mode shows the diff, a click
// shows a token's provenance, and a corrupt checkpoint is reported while the old model keeps working.
// The bundled scenes list (images/scenes.json) and a first start: the trained Shapes model on the
// default scene answers its question right.

#include <QComboBox>
#include <QLineEdit>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QSignalSpy>
#include <QSlider>
#include <QTemporaryDir>
#include <QTest>

#include <algorithm>
#include <cmath>

#include "ui/answer_changes_view.h"
#include "ui/answer_panel.h"
#include "ui/canvas_view.h"
#include "ui/controls_panel.h"
#include "ui/inference_controller.h"
#include "ui/layer_scrubber.h"
#include "ui/main_window.h"
#include "ui/sample_scenes.h"
#include "viz/image_io.h"
#include "viz/overlay.h"

using namespace tokenscope;

class TestMainWindow : public QObject {
    Q_OBJECT

private:
    std::unique_ptr<MainWindow> m_window;
    ImageU8 m_image;

    bool waitForResult(QSignalSpy& spy, int timeoutMs = 60000)
    {
        return spy.size() > 0 || spy.wait(timeoutMs);
    }
    const Trace& trace() const { return m_window->outcome().result->trace; }

private Q_SLOTS:
    void initTestCase()
    {
        MainWindowOptions options;
        options.usesSettings = false;
        options.model.folder = resourceDir() + "/models/vilt-tiny-random";
        options.imagePath = resourceDir() + "/images/photo.png";
        m_window = std::make_unique<MainWindow>(options);
        QSignalSpy shown(m_window.get(), &MainWindow::resultShown);
        m_window->resize(1400, 900);
        m_window->show();
        QVERIFY2(waitForResult(shown), qPrintable(m_window->lastError()));
        m_image = loadImageFile((resourceDir() + "/images/photo.png").toStdString()).image;
        QVERIFY(m_window->controller()->hasModel());
        QCOMPARE(m_window->scrubber()->layerCount(), int(trace().layers.size()));
    }
    void cleanupTestCase() { m_window.reset(); }

    void knobStartsRunAndOverlayFollowsTrace()
    {
        QSignalSpy started(m_window->controller(), &InferenceController::runStarted);
        QSignalSpy shown(m_window.get(), &MainWindow::resultShown);
        const int before = trace().layers.back().image.tokens;
        m_window->controls()->pruneRatioSlider()->slider()->setValue(12);  // p = 0.6
        QVERIFY(waitForResult(shown));
        QVERIFY(started.size() >= 1);
        QCOMPARE(m_window->outcome().result->method.number("prune"), 0.6);
        const int index = m_window->shownLayerIndex();
        const TraceLayer& layer = trace().layers[size_t(index)];
        QVERIFY2(trace().layers.back().image.tokens < before, "a larger prune ratio keeps fewer image tokens");
        QVERIFY(m_window->countsText().contains(QStringLiteral("%1 of %2 image tokens").arg(layer.image.tokens).arg(trace().image.patchCell.size())));
        const QImage expected = renderLayerOverlay(m_image, trace(), index, m_window->controls()->overlayStyle());
        QCOMPARE(m_window->canvas()->picture(), expected);
    }

    void scrubberChangesShownLayer()
    {
        LayerScrubber* scrubber = m_window->scrubber();
        QVERIFY(scrubber->layerCount() >= 2);
        scrubber->setCurrentIndex(0);
        // A layer not drawn yet arrives from the overlay cache's background render.
        const OverlayStyle style = m_window->controls()->overlayStyle();
        QTRY_COMPARE_WITH_TIMEOUT(m_window->canvas()->picture(), renderLayerOverlay(m_image, trace(), 0, style), 10000);
        const QImage first = m_window->canvas()->picture();
        QVERIFY(m_window->countsText().contains(QStringLiteral("Layer %1").arg(trace().layers[0].index)));
        scrubber->setCurrentIndex(scrubber->layerCount() - 1);
        QCOMPARE(m_window->shownLayerIndex(), scrubber->layerCount() - 1);
        QVERIFY(m_window->countsText().contains(QStringLiteral("Layer %1").arg(trace().layers.back().index)));
        QTRY_COMPARE_WITH_TIMEOUT(m_window->canvas()->picture(), renderLayerOverlay(m_image, trace(), scrubber->layerCount() - 1, style), 10000);
        const QImage last = m_window->canvas()->picture();
        QVERIFY2(first != last, "the reduction at the last layer changes the overlay");
        QTest::keyClick(m_window.get(), Qt::Key_Left);
        QCOMPARE(m_window->shownLayerIndex(), scrubber->layerCount() - 2);
    }

    void clickShowsProvenance()
    {
        CanvasView* canvas = m_window->canvas();
        const QPointF point = canvas->widgetPointOf(5);
        QCOMPARE(canvas->tokenAt(point), 5);
        QTest::mouseClick(canvas, Qt::LeftButton, {}, point.toPoint());
        QVERIFY2(m_window->provenanceText().contains("image token 5"), qPrintable(m_window->provenanceText()));
    }

    void compareModeShowsDiff()
    {
        QSignalSpy shown(m_window.get(), &MainWindow::resultShown);
        m_window->controls()->setCompareEnabled(true);
        QVERIFY(waitForResult(shown));
        QVERIFY(m_window->isCompareShown());
        const RunOutcome& outcome = m_window->outcome();
        QVERIFY(outcome.baseline);
        const int index = m_window->shownLayerIndex();
        QCOMPARE(m_window->diffCanvas()->picture(), renderComparisonDiff(m_image, outcome.result->trace, outcome.baseline->trace, index));
        QVERIFY(!m_window->compareCanvas()->picture().isNull());
        shown.clear();
        m_window->controls()->setCompareEnabled(false);
        QVERIFY(waitForResult(shown));
        QVERIFY(!m_window->isCompareShown());
    }

    void corruptCheckpointKeepsPreviousModel()
    {
        QTemporaryDir folder;
        QVERIFY(folder.isValid());
        const QDir bundled(resourceDir() + "/models/vilt-tiny-random");
        for (const QString& name : bundled.entryList(QDir::Files))
            QVERIFY(QFile::copy(bundled.filePath(name), folder.filePath(name)));
        QFile weights(folder.filePath("model.safetensors"));
        QVERIFY(weights.open(QIODevice::ReadWrite));
        QVERIFY(weights.resize(weights.size() / 3));
        weights.close();

        const quint64 generation = m_window->controller()->model().generation;
        QSignalSpy errors(m_window.get(), &MainWindow::errorShown);
        m_window->loadModel(ModelSource{folder.path(), {}, DeviceKind::Cpu, Precision::Fp32});
        QVERIFY(errors.wait(30000));
        QVERIFY2(m_window->lastError().contains("Could not load the model"), qPrintable(m_window->lastError()));
        QVERIFY(m_window->lastError().contains("stays loaded"));
        QCOMPARE(m_window->controller()->model().generation, generation);

        QSignalSpy shown(m_window.get(), &MainWindow::resultShown);
        m_window->controls()->pruneRatioSlider()->slider()->setValue(4);
        QVERIFY(waitForResult(shown));
        QCOMPARE(m_window->outcome().modelGeneration, generation);
    }

    void unreadableImageKeepsPreviousImage()
    {
        QTemporaryDir folder;
        const QString path = folder.filePath("broken.png");
        QFile file(path);
        QVERIFY(file.open(QIODevice::WriteOnly));
        file.write("not a png");
        file.close();
        QVERIFY(!m_window->openImageFile(path));
        QVERIFY(m_window->lastError().contains("Could not open the image"));
        QVERIFY(m_window->hasResult());
    }

    void sampleScenesListDefaultFirstThenOtherImages()
    {
        QTemporaryDir folder;
        QVERIFY(folder.isValid());
        const QDir dir(folder.path());
        for (const char* name : {"a.png", "b.png", "scene-1.png", "scene-2.png"})
            QVERIFY(QFile::copy(resourceDir() + "/images/photo.png", dir.filePath(name)));
        QFile json(dir.filePath("scenes.json"));
        QVERIFY(json.open(QIODevice::WriteOnly));
        json.write(R"({"default": "scene-2.png", "scenes": [
            {"image": "scene-1.png", "question": "what color is the star?", "answer": "red", "type": "color"},
            {"image": "scene-2.png", "question": "how many circles are there?", "answer": "2", "type": "count"}]})");
        json.close();
        const SampleScenes samples = loadSampleScenes(folder.path());
        QVERIFY2(samples.error.isEmpty(), qPrintable(samples.error));
        QStringList names;
        for (const SampleScene& scene : samples.scenes)
            names << QFileInfo(scene.path).fileName();
        QCOMPARE(names, (QStringList{"scene-2.png", "scene-1.png", "a.png", "b.png"}));
        QCOMPARE(samples.scenes[0].question, QStringLiteral("how many circles are there?"));
        QCOMPARE(samples.scenes[0].answer, QStringLiteral("2"));
        QVERIFY(samples.scenes[2].question.isEmpty());
        QVERIFY(findSampleScene(samples, dir.filePath("scene-1.png")));
        QVERIFY(!findSampleScene(samples, dir.filePath("missing.png")));

        // Broken JSON or a listed image that is missing: named in the error, the images still listed.
        QVERIFY(json.open(QIODevice::WriteOnly | QIODevice::Truncate));
        json.write(R"({"scenes": [{"image": "gone.png", "question": "q", "answer": "a"}]})");
        json.close();
        const SampleScenes missing = loadSampleScenes(folder.path());
        QVERIFY2(missing.error.contains("gone.png"), qPrintable(missing.error));
        QCOMPARE(missing.scenes.size(), 4);
        QVERIFY(json.open(QIODevice::WriteOnly | QIODevice::Truncate));
        json.write("{ not json");
        json.close();
        const SampleScenes broken = loadSampleScenes(folder.path());
        QVERIFY2(broken.error.contains("scenes.json"), qPrintable(broken.error));
        QCOMPARE(broken.scenes.size(), 4);
    }

    void firstStartAnswersTheDefaultSceneRight()
    {
        // A new user's first start: no options, no settings.
        const QString trained = resourceDir() + "/models/shapes-vilt";
        QVERIFY2(QFileInfo::exists(trained + "/model.safetensors"), "the trained Shapes model is bundled");
        QCOMPARE(MainWindow::defaultModelFolder(), trained);
        const SampleScenes samples = loadSampleScenes(resourceDir() + "/images");
        QVERIFY2(samples.error.isEmpty(), qPrintable(samples.error));
        QVERIFY(!samples.scenes.isEmpty());
        const SampleScene scene = samples.scenes.front();
        QVERIFY2(!scene.question.isEmpty() && !scene.answer.isEmpty(), "the default image is a Shapes scene with its question");

        MainWindowOptions options;
        options.usesSettings = false;
        MainWindow window(options);
        QSignalSpy shown(&window, &MainWindow::resultShown);
        window.resize(1400, 900);
        window.show();
        QVERIFY2(waitForResult(shown, 120000), qPrintable(window.lastError()));
        QCOMPARE(QDir(window.controller()->model().source.folder).canonicalPath(), QDir(trained).canonicalPath());
        QCOMPARE(window.controls()->question(), scene.question);
        QCOMPARE(window.expectedAnswer(), scene.answer);
        QCOMPARE(QString::fromStdString(window.outcome().result->answers.front().label), scene.answer);
        QCOMPARE(window.answers()->expectedVerdict(), QStringLiteral("right"));
    }

    // The bundled trained METER (shapes-meter) in the window on the default scene: a Shapes model, so
    // the scene's known answer is checked, and it answers right unreduced and with PuMer's released
    // preset. It pads questions to max_text_len (32): the counts line names both lengths.
    void bundledShapesMeterAnswersTheDefaultScene()
    {
        const SampleScenes samples = loadSampleScenes(resourceDir() + "/images");
        QVERIFY2(samples.error.isEmpty(), qPrintable(samples.error));
        const SampleScene scene = samples.scenes.front();
        MainWindowOptions options;
        options.usesSettings = false;
        options.model.folder = resourceDir() + "/models/shapes-meter";
        MainWindow window(options);
        QSignalSpy shown(&window, &MainWindow::resultShown);
        window.resize(1400, 900);
        window.show();
        QVERIFY2(waitForResult(shown, 120000), qPrintable(window.lastError()));
        QCOMPARE(window.controller()->model().capabilities.family, FamilyKind::Meter);
        QCOMPARE(window.controls()->question(), scene.question);
        // The question box shows the question's start (its end would hide the first words).
        const auto* box = window.controls()->findChild<QComboBox*>(QStringLiteral("question"));
        QVERIFY(box && box->lineEdit());
        QCOMPARE(box->lineEdit()->cursorPosition(), 0);
        QCOMPARE(window.expectedAnswer(), scene.answer);
        QVERIFY(window.controls()->methodSettings().is("pumer"));
        QCOMPARE(QString::fromStdString(window.outcome().result->answers.front().label), scene.answer);
        QVERIFY(window.outcome().baseline != nullptr);
        QCOMPARE(QString::fromStdString(window.outcome().baseline->answers.front().label), scene.answer);
        const Trace& trace = window.outcome().result->trace;
        const int padded = trace.layers.front().text.tokens, question = int(trace.text.labels.size());
        QCOMPARE(padded, 32);
        QVERIFY(question < padded);
        QVERIFY2(window.countsText().contains(QStringLiteral("of 32 text tokens (the question's %1, then padding)").arg(question)),
                 qPrintable(window.countsText()));
    }

    // The bundled METER (random weights) in the same views as ViLT: both streams layer by layer,
    // the encoders first, then the co-attention layers where PuMer's released preset acts.
    // Compare mode with B on another model: the bundled METER beside the loaded ViLT on the same
    // image and question; B's trace is METER's (both streams through the fusion), its canvas names
    // the model and the layer at the same relative depth, and there is no patch diff.
    void compareAgainstAnotherModel()
    {
        const QString meter = resourceDir() + "/models/meter-tiny-random";
        QVERIFY(m_window->controls()->setCompareModel(meter));
        QSignalSpy shown(m_window.get(), &MainWindow::resultShown);
        m_window->controls()->setCompareEnabled(true);
        QVERIFY2(waitForResult(shown, 120000), qPrintable(m_window->lastError()));
        const RunOutcome& outcome = m_window->outcome();
        QVERIFY(outcome.compare);
        QCOMPARE(outcome.compare->trace.layers.back().stage, Stage::Fusion);
        QCOMPARE(outcome.result->trace.layers.back().stage, Stage::Fusion);  // ViLT's layers are fusion layers too
        QVERIFY(outcome.compare->trace.image.gridWidth != outcome.result->trace.image.gridWidth);
        QVERIFY(m_window->isCompareShown());
        QTRY_VERIFY(m_window->compareCanvas()->title().contains(QStringLiteral("meter-tiny-random")));
        QVERIFY(!m_window->diffCanvas()->isVisibleTo(m_window.get()));
        // Back to B on this model: the diff returns.
        shown.clear();
        m_window->controls()->compareAgainstUnreduced();
        QVERIFY2(waitForResult(shown), qPrintable(m_window->lastError()));
        QVERIFY(!m_window->controls()->compareModelSource());
        QTRY_VERIFY(m_window->diffCanvas()->isVisibleTo(m_window.get()));
        m_window->controls()->setCompareEnabled(false);
    }

    // The Answer changes dock: two evaluations' results (written here as `eval --dataset` writes
    // them), the worse question listed first; opening it shows its image and question with the
    // results' method against the unreduced model.
    void answerChangesOpenAQuestionAgainstUnreduced()
    {
        QTemporaryDir dir;
        const auto header = [](const char* method) {
            return QStringLiteral(R"({"tokenscope_eval":1,"dataset":"vqav2","dataset_hash":"d1","model":"m","model_hash":"h1",)"
                                  R"("method":%1,"model_settings":{},"shard":"0/1"})")
                .arg(QString::fromLatin1(method));
        };
        const QString count = resourceDir() + "/images/shapes-count.png", color = resourceDir() + "/images/shapes-color.png";
        const auto record = [](const char* id, const QString& question, const QString& image, const char* text, double score) {
            return QStringLiteral(R"({"question_id":"%1","index":%2,"question":"%3","images":["%4"],"text":"%5","score":%6})")
                .arg(QString::fromLatin1(id))
                .arg(QString::fromLatin1(id).toInt())
                .arg(question, image, QString::fromLatin1(text))
                .arg(score);
        };
        const auto write = [&](const QString& name, const QStringList& lines) {
            QFile file(dir.filePath(name));
            QVERIFY(file.open(QIODevice::WriteOnly));
            file.write((lines.join('\n') + '\n').toUtf8());
        };
        write("method.jsonl", {header(R"({"method":"pumer","knobs":{"layers":[1],"prune":0.4}})"),
                               record("0", "what color is the circle?", color, "red", 1.0),
                               record("1", "how many squares are there?", count, "4", 0.0),
                               record("2", "is there a star?", color, "no", 1.0)});
        write("none.jsonl", {header(R"({"method":"none","knobs":{}})"), record("0", "what color is the circle?", color, "blue", 0.0),
                             record("1", "how many squares are there?", count, "3", 1.0),
                             record("2", "is there a star?", color, "no", 1.0)});
        QVERIFY(m_window->openEvaluationResults({dir.filePath("method.jsonl")}, {dir.filePath("none.jsonl")}));
        AnswerChangesView* changes = m_window->answerChanges();
        QVERIFY(changes->isVisibleTo(m_window.get()));
        QCOMPARE(changes->rowCount(), 1);  // the default filter: worse
        QCOMPARE(changes->itemAt(0)->id, std::string("1"));
        changes->setFilter(AnswerChangesView::Filter::Better);
        QCOMPARE(changes->rowCount(), 1);
        QCOMPARE(changes->itemAt(0)->id, std::string("0"));
        changes->setFilter(AnswerChangesView::Filter::All);
        QCOMPARE(changes->rowCount(), 3);
        QVERIFY(changes->summaryText().contains(QStringLiteral("1 worse, 1 better")));
        changes->setFilter(AnswerChangesView::Filter::Worse);

        QSignalSpy shown(m_window.get(), &MainWindow::resultShown);
        changes->activateRow(0);
        QVERIFY2(waitForResult(shown), qPrintable(m_window->lastError()));
        QCOMPARE(m_window->controls()->question(), QStringLiteral("how many squares are there?"));
        QVERIFY(m_window->controls()->isCompareEnabled());
        QVERIFY(m_window->controls()->compareSettings().is("none"));
        QVERIFY(m_window->isCompareShown());
        QVERIFY(m_window->outcome().result->method.is("pumer"));
        QCOMPARE(m_window->outcome().result->method.number("prune"), 0.4);
        QCOMPARE(m_window->outcome().result->textTokens.size(), std::size_t(8));  // [CLS] how many squares are there ? [SEP]
        m_window->controls()->setCompareEnabled(false);

        // Files of two models are refused with a message; the list stays.
        write("other.jsonl", {QString(header(R"({"method":"none","knobs":{}})")).replace("h1", "h2")});
        QVERIFY(!m_window->openEvaluationResults({dir.filePath("method.jsonl")}, {dir.filePath("other.jsonl")}));
        QVERIFY(m_window->lastError().contains(QStringLiteral("different models")));
        QCOMPARE(changes->rowCount(), 1);
    }

    void bundledMeterShowsBothStreams()
    {
        const QString meter = resourceDir() + "/models/meter-tiny-random";
        QSignalSpy shown(m_window.get(), &MainWindow::resultShown);
        m_window->loadModel(ModelSource{meter, {}, DeviceKind::Cpu, Precision::Fp32});
        QVERIFY2(waitForResult(shown, 120000), qPrintable(m_window->lastError()));
        QCOMPARE(m_window->controller()->model().capabilities.family, FamilyKind::Meter);
        QVERIFY(!m_window->isLlavaShown());
        QVERIFY(m_window->canvas()->isVisible());
        const Trace& trace = m_window->outcome().result->trace;
        QCOMPARE(m_window->scrubber()->layerCount(), int(trace.layers.size()));
        QCOMPARE(m_window->scrubber()->layerName(0), QStringLiteral("text 0"));
        QCOMPARE(trace.layers.back().stage, Stage::Fusion);
        // The method panel lists METER's methods with PuMer's released preset, placed in its 2 fusion layers.
        QCOMPARE(m_window->controls()->methodCombo()->findData(QStringLiteral("tome")), -1);
        QVERIFY(m_window->controls()->methodSettings().is("pumer"));
        QCOMPARE(m_window->controls()->methodSettings().intList("layers"), (std::vector<int>{0, 1}));
        QVERIFY(trace.layers.back().reduced);
        QVERIFY(trace.layers.back().image.tokens < int(trace.image.patchCell.size()));
        QVERIFY(trace.layers.back().text.tokens < trace.layers.front().text.tokens);

        // The model's own settings: METER's fusion order and head, as combo boxes. The checkpoint's
        // PuMer keys mean sequential; parallel re-runs the same model and changes the scores.
        QComboBox* order = m_window->controls()->modelSettingCombo("fusion-order");
        QVERIFY(order != nullptr && order->isVisibleTo(m_window.get()));
        QCOMPARE(order->currentText(), QStringLiteral("sequential"));
        QVERIFY(m_window->controls()->modelSettingCombo("head") != nullptr);
        const float before = m_window->outcome().result->answers.front().logit;
        const auto firstAnswer = m_window->outcome().result->answers.front().id;
        shown.clear();
        order->setCurrentText(QStringLiteral("parallel"));
        QVERIFY2(waitForResult(shown, 120000), qPrintable(m_window->lastError()));
        const auto& after = m_window->outcome().result->answers;
        const auto same = std::find_if(after.begin(), after.end(), [&](const ScoredAnswer& a) { return a.id == firstAnswer; });
        QVERIFY(same == after.end() || std::abs(same->logit - before) > 1e-4f);
    }
};

QTEST_MAIN(TestMainWindow)
#include "tst_main_window.moc"
