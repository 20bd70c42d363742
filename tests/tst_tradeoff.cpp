// The Trade-off chart and its quick evaluation. The controller: an evaluation runs only when no run
// waits, a run request stops it and it resumes afterwards, and the newest evaluation request wins
// (a stand-in backend makes the timing deterministic). The window on a tiny random-weight Shapes
// model folder carrying a sweep.csv: the curve shows one series per method of the file, the current
// configuration is measured on the worker and marked, a knob change measures the new one; a bad
// sweep file keeps the curve; a model that is not a Shapes model is not measured.

#include <QDir>
#include <QFile>
#include <QSignalSpy>
#include <QSlider>
#include <QTemporaryDir>
#include <QTest>
#include <QThread>

#include <qcustomplot.h>

#include <atomic>
#include <memory>

#include "common/error.h"
#include "support/shapes_model.h"
#include "tasks/shapes/shapes_task.h"
#include "ui/charts_panel.h"
#include "ui/controls_panel.h"
#include "ui/inference_controller.h"
#include "ui/inference_worker.h"
#include "ui/main_window.h"
#include "ui/resource_paths.h"
#include "ui/tradeoff_chart.h"

using namespace tokenscope;

namespace {

struct Calls {
    std::atomic<int> evalStarted{0};
    std::atomic<int> evalCancelled{0};
    std::atomic<int> evalCompleted{0};
    std::atomic<int> runs{0};
};

// Runs take 30 ms; an evaluation takes 100 steps of 10 ms and polls its cancel flag between them
// (long enough that a run requested right after it starts always finds it in flight).
class SlowEvalBackend : public ModelBackend {
public:
    explicit SlowEvalBackend(std::shared_ptr<Calls> calls) : m_calls(std::move(calls))
    {
        m_summary.source = "fake";
        m_summary.config.vilt.numHiddenLayers = 2;
    }
    ModelSummary summary() const override { return m_summary; }
    FamilyCapabilities capabilities() const override
    {
        FamilyCapabilities capabilities;
        capabilities.answersFromLabels = true;
        return capabilities;
    }
    RunResult run(const RunRequest& request, const std::atomic<bool>*) override
    {
        QThread::msleep(30);
        ++m_calls->runs;
        RunResult result;
        result.method = request.method;
        return result;
    }
    EvalOutcome evaluate(const EvalJob& job, const std::atomic<bool>* cancel) override
    {
        ++m_calls->evalStarted;
        for (int step = 0; step < 100; ++step) {
            if (cancel && cancel->load()) {
                ++m_calls->evalCancelled;
                throw Cancelled();
            }
            QThread::msleep(10);
        }
        ++m_calls->evalCompleted;
        EvalOutcome outcome;
        outcome.method = job.method;
        outcome.accuracy = job.method.number("prune");  // tells the jobs apart
        return outcome;
    }

private:
    std::shared_ptr<Calls> m_calls;
    ModelSummary m_summary;
};

RunJob runJob()
{
    RunJob job;
    job.inputId = 1;
    job.request.question = "q";
    job.request.image.width = job.request.image.height = 1;
    job.request.image.pixels = {0, 0, 0};
    job.wantsBaseline = false;
    return job;
}

EvalJob evalJob(double prune)
{
    EvalJob job;
    job.method = MethodSettings("pumer");
    job.method.set("prune", prune);
    return job;
}

const char* kSweepCsv =
    "method,settings,knob,accuracy,examples_per_s,speedup,agreement,image_tokens,examples,batch,seed\n"
    "none,none,,0.9,100,1,1,145,96,32,3\n"
    "pumer,\"pumer reference L0,1 p0.1 r0.3 t0.2\",p0.1 r0.3 t0.2,0.88,130,1.3,0.95,120,96,32,3\n"
    "pumer,\"pumer reference L0,1 p0.3 r0.4 t0.3\",p0.3 r0.4 t0.3,0.8,170,1.7,0.85,90,96,32,3\n"
    "tome,tome r4 image,r 4,0.86,120,1.2,0.9,140,96,32,3\n"
    "tome,tome r8 image,r 8,0.7,150,1.5,0.75,135,96,32,3\n";

void writeFile(const QString& path, const QByteArray& bytes)
{
    QFile file(path);
    QVERIFY(file.open(QIODevice::WriteOnly));
    file.write(bytes);
}

}  // namespace

class TestTradeoff : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase()
    {
        QVERIFY(m_dir.isValid());
        m_model = m_dir.filePath("shapes-tiny");
        QVERIFY(QDir().mkpath(m_model));
        test::writeShapesModel(m_model.toStdString(), 2);
        writeFile(m_model + "/sweep.csv", kSweepCsv);
    }

    void evaluationWaitsForRunsAndNewestWins()
    {
        auto calls = std::make_shared<Calls>();
        InferenceController controller([calls](const ModelSource&, const EngineOptions&) {
            return std::make_unique<SlowEvalBackend>(calls);
        });
        QSignalSpy loaded(&controller, &InferenceController::modelLoaded);
        controller.loadModel(ModelSource{{}, "fake", DeviceKind::Cpu, Precision::Fp32});
        QVERIFY(loaded.wait(5000));

        // A run request while an evaluation is in flight: the run goes first, the evaluation is
        // stopped and finished afterwards, and reported once.
        std::vector<QString> order;
        connect(&controller, &InferenceController::runFinished, this, [&order] { order.push_back("run"); });
        connect(&controller, &InferenceController::evalFinished, this, [&order] { order.push_back("eval"); });
        QSignalSpy evalStarted(&controller, &InferenceController::evalStarted);
        QSignalSpy evalFinished(&controller, &InferenceController::evalFinished);
        const quint64 evalId = controller.requestEval(evalJob(0.1));
        QCOMPARE(evalStarted.size(), 1);  // nothing else waits: dispatched at once
        QTRY_COMPARE_WITH_TIMEOUT(calls->evalStarted.load(), 1, 2000);
        controller.requestRun(runJob());
        QVERIFY(controller.isEvaluating());  // paused, not dropped
        QVERIFY(evalFinished.wait(5000));
        QCOMPARE(order, (std::vector<QString>{"run", "eval"}));
        QCOMPARE(evalFinished.size(), 1);
        QCOMPARE(evalFinished.front().front().value<EvalOutcome>().jobId, evalId);
        QCOMPARE(calls->evalCancelled.load(), 1);
        QCOMPARE(calls->evalCompleted.load(), 1);
        QVERIFY(!controller.isEvaluating());
        QVERIFY(!controller.isRunning());

        // Three requests in a row: only the newest is reported.
        evalFinished.clear();
        controller.requestEval(evalJob(0.2));
        controller.requestEval(evalJob(0.3));
        const quint64 newest = controller.requestEval(evalJob(0.4));
        QVERIFY(evalFinished.wait(5000));
        QTest::qWait(1200);  // nothing else arrives
        QCOMPARE(evalFinished.size(), 1);
        const auto outcome = evalFinished.front().front().value<EvalOutcome>();
        QCOMPARE(outcome.jobId, newest);
        QCOMPARE(outcome.accuracy, 0.4);
    }

    void windowShowsCurveAndMeasuresCurrentConfiguration()
    {
        MainWindowOptions options;
        options.usesSettings = false;
        options.model.folder = m_model;
        MethodSettings pumer = presetSettings("pumer", "vqav2");
        pumer.set("layers", std::vector<int>{0, 1});  // the tiny model has two layers
        options.method = pumer;
        options.question = "What colour is the circle?";
        m_window = std::make_unique<MainWindow>(options);
        QSignalSpy measured(m_window.get(), &MainWindow::quickEvalShown);
        m_window->resize(1400, 900);
        m_window->show();
        QVERIFY2(measured.wait(120000), qPrintable(m_window->lastError()));
        TradeoffChart* chart = m_window->charts()->tradeoff();
        QCOMPARE(chart->seriesMethods(), (std::vector<std::string>{"none", "pumer", "tome"}));
        QCOMPARE(int(chart->sweep().size()), 5);
        QVERIFY(chart->sourceName().endsWith("sweep.csv"));
        auto point = chart->currentPoint();
        QVERIFY(point.has_value());
        QCOMPARE(point->settings, QString::fromStdString(describe(pumer)));
        QVERIFY(point->accuracy >= 0 && point->accuracy <= 1);
        QVERIFY(point->speedup > 0);
        QVERIFY(point->examplesPerSecond > 0);
        QCOMPARE(point->examples, 96);
        // The chart holds the file's series and the marked point.
        QCOMPARE(chart->plot()->plottableCount(), 4);

        // A knob change: the new configuration is measured after its run and replaces the point.
        measured.clear();
        m_window->controls()->pruneRatioSlider()->slider()->setValue(8);  // p = 0.4
        QVERIFY(measured.wait(120000));
        point = chart->currentPoint();
        QVERIFY(point.has_value());
        QVERIFY2(point->settings.contains("p0.4"), qPrintable(point->settings));
        QCOMPARE(point->settings, QString::fromStdString(describe(m_window->controls()->methodSettings())));
    }

    void badSweepKeepsTheCurve()
    {
        QVERIFY(m_window);
        const QString bad = m_dir.filePath("bad.csv");
        writeFile(bad, "method,accuracy,examples_per_s\npumer,high,3\n");
        QVERIFY(!m_window->loadSweep(bad));
        QVERIFY2(m_window->lastError().contains("bad.csv line 2"), qPrintable(m_window->lastError()));
        QCOMPARE(int(m_window->charts()->tradeoff()->sweep().size()), 5);
        // A good file replaces it.
        const QString other = m_dir.filePath("other.csv");
        writeFile(other, "method,accuracy,examples_per_s\nnone,0.9,100\nsmres,0.6,300\nsmres,0.5,400\n");
        QVERIFY(m_window->loadSweep(other));
        QCOMPARE(m_window->charts()->tradeoff()->seriesMethods(), (std::vector<std::string>{"none", "smres"}));
    }

    void otherModelsAreNotMeasured()
    {
        QVERIFY(m_window);
        QSignalSpy loaded(m_window->controller(), &InferenceController::modelLoaded);
        QSignalSpy shown(m_window.get(), &MainWindow::resultShown);
        QSignalSpy evalStarted(m_window->controller(), &InferenceController::evalStarted);
        m_window->loadModel(ModelSource{resourceDir() + "/models/vilt-tiny-random", {}, DeviceKind::Cpu, Precision::Fp32});
        QVERIFY(loaded.wait(60000));
        // The bundled tiny model answers answer_0..9: no evaluation, no point, no curve of the previous model.
        QTRY_VERIFY_WITH_TIMEOUT(shown.size() > 0 || !m_window->lastError().isEmpty(), 60000);
        QTest::qWait(300);
        QCOMPARE(evalStarted.size(), 0);
        TradeoffChart* chart = m_window->charts()->tradeoff();
        QVERIFY(!chart->currentPoint().has_value());
        QVERIFY(chart->sweep().empty());
        QVERIFY2(chart->status().contains("Shapes VQA models only"), qPrintable(chart->status()));
    }

    void cleanupTestCase() { m_window.reset(); }

private:
    QTemporaryDir m_dir;
    QString m_model;
    std::unique_ptr<MainWindow> m_window;
};

QTEST_MAIN(TestTradeoff)
#include "tst_tradeoff.moc"
