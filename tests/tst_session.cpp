// The window's files (offscreen, bundled tiny model): a saved session reopens with its question and
// knobs and starts a run; "export all layers" writes one PNG per layer; the metrics CSV has one
// row per layer with the documented columns. And a built-in architecture with random weights
// (vilt-b32, 12 layers) gets the bundled vocab and answers a question (slow: one forward ~1-2 s).

#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QFileInfo>
#include <QJsonDocument>
#include <QJsonObject>
#include <QSignalSpy>
#include <QSlider>
#include <QStandardItemModel>
#include <QTemporaryDir>
#include <QTest>
#include <QComboBox>

#include "ui/controls_panel.h"
#include "ui/inference_controller.h"
#include "ui/main_window.h"
#include "ui/session.h"

#include <algorithm>

using namespace tokenscope;

namespace {

// Waits until the window shows a result and nothing newer is pending.
bool waitForSettledResult(MainWindow& window, int timeoutMs = 60000)
{
    QSignalSpy shown(&window, &MainWindow::resultShown);
    QElapsedTimer clock;
    clock.start();
    while (clock.elapsed() < timeoutMs) {
        if (window.hasResult() && !window.controller()->isRunning())
            return true;
        shown.wait(200);
    }
    return false;
}

std::unique_ptr<MainWindow> makeWindow(const MainWindowOptions& extra = {})
{
    MainWindowOptions options = extra;
    options.usesSettings = false;
    if (options.model.folder.isEmpty() && options.model.builtinName.isEmpty())
        options.model.folder = resourceDir() + "/models/vilt-tiny-random";
    if (options.imagePath.isEmpty())
        options.imagePath = resourceDir() + "/images/photo.png";
    auto window = std::make_unique<MainWindow>(options);
    window->resize(1400, 900);
    window->show();
    return window;
}

}  // namespace

class TestSession : public QObject {
    Q_OBJECT

private:
    std::unique_ptr<MainWindow> m_window;

private Q_SLOTS:
    void initTestCase()
    {
        m_window = makeWindow();
        QVERIFY2(waitForSettledResult(*m_window), qPrintable(m_window->lastError()));
    }
    void cleanupTestCase() { m_window.reset(); }

    void savedSessionReopensKnobsAndRuns()
    {
        QTemporaryDir folder;
        QVERIFY(folder.isValid());
        const QString path = folder.filePath("session.json");
        ControlsPanel* controls = m_window->controls();
        controls->setQuestion(QStringLiteral("How many cats are there?"));
        controls->pruneRatioSlider()->slider()->setValue(8);       // 0.40
        controls->imageMergeRatioSlider()->slider()->setValue(6);  // 0.30
        QVERIFY(waitForSettledResult(*m_window));
        const MethodSettings saved = controls->methodSettings();
        QCOMPARE(saved.number("prune"), 0.4);
        QCOMPARE(saved.number("merge"), 0.3);
        QVERIFY(m_window->saveSession(path));

        const QJsonObject json = QJsonDocument::fromJson([&] {
            QFile file(path);
            return file.open(QIODevice::ReadOnly) ? file.readAll() : QByteArray();
        }()).object();
        QVERIFY2(!json.isEmpty(), "the session file is JSON");
        const Session session = sessionFromJson(json);
        QCOMPARE(QDir(session.model.folder).canonicalPath(), QDir(resourceDir() + "/models/vilt-tiny-random").canonicalPath());
        QCOMPARE(QFileInfo(session.imagePath).fileName(), QStringLiteral("photo.png"));

        // A fresh window with other knobs and question opens the session.
        auto other = makeWindow();
        QVERIFY(waitForSettledResult(*other));
        QVERIFY(other->controls()->question() != QStringLiteral("How many cats are there?"));
        QVERIFY(other->controls()->methodSettings().number("prune") != 0.4);
        QSignalSpy started(other->controller(), &InferenceController::runStarted);
        QVERIFY(other->openSession(path));
        QCOMPARE(other->controls()->question(), QStringLiteral("How many cats are there?"));
        // The run may start a little later (debounced), and a run with the window's own knobs may
        // still be on its way: wait for the result of a run with the session's knobs.
        QTRY_VERIFY2_WITH_TIMEOUT(started.size() >= 1, "opening a session starts a run", 60000);
        const auto showsSessionKnobs = [&other] {
            return other->hasResult() && !other->controller()->isRunning() &&
                   qFuzzyCompare(other->outcome().result->method.number("prune"), 0.4);
        };
        QTRY_VERIFY2_WITH_TIMEOUT(showsSessionKnobs(), "a run with the session's knobs shows its result", 60000);
        const MethodSettings restored = other->controls()->methodSettings();
        QCOMPARE(restored.method(), saved.method());
        QCOMPARE(restored.number("prune"), saved.number("prune"));
        QCOMPARE(restored.number("merge"), saved.number("merge"));
        QCOMPARE(restored.number("merge-text"), saved.number("merge-text"));
        QCOMPARE(restored.intList("layers"), saved.intList("layers"));
        QCOMPARE(other->outcome().result->method.number("prune"), 0.4);
        QCOMPARE(other->outcome().result->method.number("merge"), 0.3);
        QVERIFY(other->outcome().result->trace.text.labels.size() > 2);
    }

    // A session saved on a model of another family (the bundled METER) opens in a ViLT window: the
    // METER model loads and the method panel shows the session's settings for it.
    void sessionOfAnotherFamilyRestoresItsSettings()
    {
        QTemporaryDir folder;
        const QString path = folder.filePath("meter-session.json");
        MainWindowOptions meterOptions;
        meterOptions.model.folder = resourceDir() + "/models/meter-tiny-random";
        auto meter = makeWindow(meterOptions);
        QVERIFY(waitForSettledResult(*meter));
        MethodSettings custom("pumer");
        custom.set("layers", std::vector<int>{1}).set("prune", 0.3).set("merge", 0.1).set("merge-text", 0.0);
        meter->controls()->setMethodSettings(custom);
        QVERIFY(meter->saveSession(path));

        auto vilt = makeWindow();
        QVERIFY(waitForSettledResult(*vilt));
        QVERIFY(vilt->openSession(path));
        const auto showsSession = [&vilt] {
            return vilt->hasResult() && !vilt->controller()->isRunning() &&
                   vilt->controller()->model().capabilities.family == FamilyKind::Meter &&
                   qFuzzyCompare(vilt->outcome().result->method.number("prune"), 0.3);
        };
        QTRY_VERIFY2_WITH_TIMEOUT(showsSession(), "the METER model runs with the session's settings", 60000);
        const MethodSettings restored = vilt->controls()->methodSettings();
        QCOMPARE(restored.intList("layers"), std::vector<int>{1});
        QCOMPARE(restored.number("merge"), 0.1);
    }

    void exportAllLayersWritesOnePngPerLayer()
    {
        QTemporaryDir folder;
        QVERIFY(folder.isValid());
        QVERIFY(m_window->exportAllLayers(folder.path()));
        const int layers = int(m_window->outcome().result->trace.layers.size());
        QCOMPARE(layers, m_window->controller()->model().layerCount);
        const QStringList files = QDir(folder.path()).entryList({"*.png"}, QDir::Files, QDir::Name);
        QCOMPARE(files.size(), layers);
        for (int i = 0; i < layers; ++i) {
            const QString name = QStringLiteral("layer_%1.png").arg(m_window->outcome().result->trace.layers[size_t(i)].index, 2, 10, QChar('0'));
            QVERIFY2(files.contains(name), qPrintable(name));
            const QImage page(QDir(folder.path()).filePath(name));
            QVERIFY2(!page.isNull() && page.width() > 100 && page.height() > 100, qPrintable(name));
        }
    }

    void metricsCsvHasOneRowPerLayer()
    {
        QTemporaryDir folder;
        const QString path = folder.filePath("metrics.csv");
        QVERIFY(m_window->exportMetricsCsv(path));
        QFile file(path);
        QVERIFY(file.open(QIODevice::ReadOnly | QIODevice::Text));
        const QStringList lines = QString::fromUtf8(file.readAll()).split('\n');
        const QStringList expected{"layer", "reduced", "image_tokens_in", "text_tokens_in", "image_tokens", "text_tokens",
                                   "latency_ms", "attention_ms", "reducer_ms", "mlp_ms", "activation_peak_mib",
                                   "baseline_image_tokens", "baseline_text_tokens", "baseline_latency_ms"};
        QCOMPARE(lines.front().split(','), expected);
        const Trace& trace = m_window->outcome().result->trace;
        QStringList rows;
        for (int i = 1; i < lines.size() && !lines[i].isEmpty(); ++i)
            rows << lines[i];
        QCOMPARE(rows.size(), int(trace.layers.size()));
        for (int i = 0; i < rows.size(); ++i) {
            const QStringList cells = rows[i].split(',');
            QCOMPARE(cells.size(), expected.size());
            const TraceLayer& layer = trace.layers[size_t(i)];
            QCOMPARE(cells[0].toInt(), layer.index);
            QCOMPARE(cells[1].toInt(), layer.reduced ? 1 : 0);
            QCOMPARE(cells[4].toInt(), layer.image.tokens);
            QCOMPARE(cells[5].toInt(), layer.text.tokens);
            // The layer's time split into its stages (they add up to at most the layer's time) and its
            // activation peak from the allocator.
            const double stages = cells[7].toDouble() + cells[8].toDouble() + cells[9].toDouble();
            QVERIFY(cells[7].toDouble() > 0 && cells[9].toDouble() > 0);
            QVERIFY(stages <= cells[6].toDouble() * 1.05 + 0.05);
            QCOMPARE(cells[8].toDouble() > 0, layer.reduced);  // the reducer's own time only where it ran
            QVERIFY(cells[10].toDouble() > 0);
            QVERIFY2(!cells[11].isEmpty(), "the unreduced baseline is in the row");
        }
    }

    // DynamicViT is listed but not selectable on a model without predictors (the bundled tiny one);
    // its knobs survive the controls and a session file.
    void dynamicVitKnobs()
    {
        ControlsPanel* controls = m_window->controls();
        const int index = controls->methodCombo()->findData(QStringLiteral("dynamicvit"));
        QVERIFY(index >= 0);
        auto* items = qobject_cast<QStandardItemModel*>(controls->methodCombo()->model());
        QVERIFY(items);
        QVERIFY(!items->item(index)->isEnabled());
        QVERIFY(items->item(index)->toolTip().contains(QStringLiteral("--method dynamicvit")));

        MethodSettings settings("dynamicvit");
        settings.set("keep-ratio", 0.55).set("prune-loc", std::vector<int>{2, 5, 8});
        const MethodSettings restored = methodSettingsFromQJson(methodSettingsToQJson(settings));
        QCOMPARE(restored.method(), std::string("dynamicvit"));
        QCOMPARE(restored.number("keep-ratio"), 0.55);
        QCOMPARE(restored.intList("prune-loc"), (std::vector<int>{2, 5, 8}));

        const MethodSettings before = controls->methodSettings();
        controls->setMethodSettings(settings);  // no run: setMethodSettings does not signal
        const MethodSettings shown = controls->methodSettings();
        QCOMPARE(shown.method(), std::string("dynamicvit"));
        QCOMPARE(shown.number("keep-ratio"), 0.55);
        QCOMPARE(shown.intList("prune-loc"), (std::vector<int>{2, 5, 8}));
        controls->setMethodSettings(before);
    }

    void randomWeightArchitectureGetsTheBundledVocab()
    {
        QVERIFY2(QFileInfo::exists(bundledVocabPath()), qPrintable(bundledVocabPath()));
        MainWindowOptions options;
        options.model.builtinName = QStringLiteral("vilt-b32");
        options.question = QStringLiteral("What color is the umbrella?");
        auto window = makeWindow(options);
        QVERIFY2(waitForSettledResult(*window, 600000), qPrintable(window->lastError()));
        QVERIFY2(window->lastError().isEmpty(), qPrintable(window->lastError()));
        QCOMPARE(window->controller()->model().layerCount, 12);
        const RunResult& result = *window->outcome().result;
        QVERIFY(!result.answers.empty());
        QCOMPARE(int(result.trace.layers.size()), 12);
        const std::vector<std::string>& pieces = result.trace.text.labels;
        QVERIFY2(std::find(pieces.begin(), pieces.end(), "color") != pieces.end(), "the question is read with real word pieces");
    }
};

QTEST_MAIN(TestSession)
#include "tst_session.moc"
