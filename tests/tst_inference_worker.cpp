// The worker and its controller: runs, the cached baseline, latest-wins, debounce, cancel, and a
// failed load that keeps the previous model; on a generating model the same controller selects,
// streams answers, stops them, and refuses the jobs the model does not offer. Stand-in backends
// make timing deterministic.

#include <QElapsedTimer>
#include <QScopeGuard>
#include <QSignalSpy>
#include <QTest>
#include <QThread>

#include <atomic>
#include <memory>

#include "common/error.h"
#include "support/stand_in_backend.h"
#include "ui/inference_controller.h"
#include "ui/inference_worker.h"

using namespace tokenscope;

namespace {

struct Counters {
    std::atomic<int> started{0};
    std::atomic<int> cancelled{0};
    std::atomic<int> completed{0};
};

// Six "layers" of 15 ms each, polling the cancel flag between them like Engine::run, counted.
void runSixLayers(Counters& counters, const std::atomic<bool>* cancel)
{
    ++counters.started;
    for (int layer = 0; layer < 6; ++layer) {
        if (cancel && cancel->load()) {
            ++counters.cancelled;
            throw Cancelled();
        }
        QThread::msleep(15);
    }
    ++counters.completed;
}

class FakeBackend : public ModelBackend {
public:
    explicit FakeBackend(std::shared_ptr<Counters> counters) : m_counters(std::move(counters))
    {
        m_summary.config.vilt.numHiddenLayers = 6;
        m_summary.source = "fake";
    }
    ModelSummary summary() const override { return m_summary; }
    FamilyCapabilities capabilities() const override
    {
        FamilyCapabilities capabilities;
        capabilities.answersFromLabels = true;
        return capabilities;
    }
    RunResult run(const RunRequest& request, const std::atomic<bool>* cancel) override
    {
        runSixLayers(*m_counters, cancel);
        RunResult result;
        result.method = request.method;
        result.answers.push_back({0, request.question, 1.0f, 0.9f});
        return result;
    }

private:
    std::shared_ptr<Counters> m_counters;
    ModelSummary m_summary;
};

// A model that selects visual tokens and generates: each token is 15 ms; a selection is six
// 15 ms layers; both poll their cancel flags like Engine does.
class FakeGeneratingBackend : public test::GeneratingStandIn {
public:
    explicit FakeGeneratingBackend(std::shared_ptr<Counters> counters)
        : GeneratingStandIn("fake-llava"), m_counters(std::move(counters))
    {
    }
    GenerateResult selectVisualTokens(const ImageU8&, const MethodSettings& settings, const std::atomic<bool>* cancel) override
    {
        runSixLayers(*m_counters, cancel);
        GenerateResult result;
        result.method = settings;
        return result;
    }
    GenerateResult generate(const GenerateRequest& request, const GenerateCallback& onToken,
                            const std::atomic<bool>*) override
    {
        GenerateResult result;
        result.method = request.method;
        for (int token = 0; token < request.maxNewTokens; ++token) {
            QThread::msleep(15);
            result.text += "w ";
            if (!onToken("w ", token))
                break;
        }
        return result;
    }

private:
    std::shared_ptr<Counters> m_counters;
};

SelectionJob selection(const std::string& method)
{
    SelectionJob result;
    result.settings = MethodSettings(method);
    result.image.width = result.image.height = 1;
    result.image.pixels = {0, 0, 0};
    return result;
}

GenerationJob answer(int tokens)
{
    GenerationJob result;
    result.request.prompt = "what is it?";
    result.request.maxNewTokens = tokens;
    return result;
}

RunJob job(const std::string& question, quint64 inputId, const std::string& method = "pumer")
{
    RunJob result;
    result.inputId = inputId;
    result.request.question = question;
    result.request.method = MethodSettings(method);
    result.request.image.width = result.request.image.height = 1;
    result.request.image.pixels = {0, 0, 0};
    return result;
}

}  // namespace

class TestInferenceWorker : public QObject {
    Q_OBJECT

private:
    std::shared_ptr<Counters> m_counters;
    std::unique_ptr<InferenceController> m_controller;

    void loadFake()
    {
        QSignalSpy loaded(m_controller.get(), &InferenceController::modelLoaded);
        m_controller->loadModel(ModelSource{{}, "fake", DeviceKind::Cpu, Precision::Fp32});
        QVERIFY(loaded.wait(5000));
    }

private Q_SLOTS:
    void init()
    {
        m_counters = std::make_shared<Counters>();
        auto counters = m_counters;
        m_controller = std::make_unique<InferenceController>([counters](const ModelSource& source, const EngineOptions& options)
                                                           -> std::unique_ptr<ModelBackend> {
            if (source.folder == "bad")
                throw Error("bad/model.safetensors: header length 999999 runs past the end of the file");
            if (source.folder == "slow") {
                for (int i = 0; i < 200; ++i) {
                    if (options.cancel && options.cancel->load())
                        throw Cancelled();
                    if (options.progress)
                        options.progress(uint64_t(i), 200);
                    QThread::msleep(10);
                }
            }
            if (source.folder == "llava")
                return std::make_unique<FakeGeneratingBackend>(counters);
            return std::make_unique<FakeBackend>(counters);
        });
    }
    void cleanup() { m_controller.reset(); }

    void runReportsResultAndCachedBaseline()
    {
        loadFake();
        QSignalSpy finished(m_controller.get(), &InferenceController::runFinished);
        m_controller->requestRun(job("q", 1));
        QVERIFY(finished.wait(5000));
        const auto outcome = finished.takeFirst().at(0).value<RunOutcome>();
        QVERIFY(outcome.result && outcome.baseline);
        QCOMPARE(outcome.result->method.method(), std::string("pumer"));
        QCOMPARE(outcome.baseline->method.method(), std::string("none"));
        // The first run on a new model: an untimed warm-up forward, the baseline, the method (so
        // the baseline's time is not the cold first forward's).
        QCOMPARE(m_counters->started.load(), 3);
        // Same input, other knobs: the baseline is reused, and no second warm-up.
        m_controller->requestRun(job("q", 1, "tome"));
        QVERIFY(finished.wait(5000));
        QCOMPARE(m_counters->started.load(), 4);
        QVERIFY(finished.takeFirst().at(0).value<RunOutcome>().baseline);
    }

    void latestRequestWins()
    {
        loadFake();
        QSignalSpy finished(m_controller.get(), &InferenceController::runFinished);
        QSignalSpy failed(m_controller.get(), &InferenceController::runFailed);
        m_controller->requestRun(job("first", 1));
        QTest::qWait(20);  // the first is running now
        m_controller->requestRun(job("second", 2));
        const quint64 lastId = m_controller->requestRun(job("third", 3));
        QVERIFY(finished.wait(5000));
        QTest::qWait(150);
        QCOMPARE(finished.size(), 1);
        QCOMPARE(failed.size(), 0);  // cancellation is not an error
        const auto outcome = finished.at(0).at(0).value<RunOutcome>();
        QCOMPARE(outcome.jobId, lastId);
        QCOMPARE(outcome.result->answers.front().label, std::string("third"));
        QVERIFY(m_counters->cancelled.load() >= 1);  // the first run stopped between layers
        QVERIFY(!m_controller->isRunning());
    }

    void debounceCoalescesKnobChanges()
    {
        loadFake();
        m_controller->setDebounceMs(80);
        QSignalSpy started(m_controller.get(), &InferenceController::runStarted);
        QSignalSpy finished(m_controller.get(), &InferenceController::runFinished);
        quint64 lastId = 0;
        for (int i = 0; i < 5; ++i) {
            lastId = m_controller->requestRunDebounced(job("q" + std::to_string(i), 1));
            QTest::qWait(10);
        }
        QVERIFY(finished.wait(5000));
        QCOMPARE(started.size(), 1);
        QCOMPARE(finished.at(0).at(0).value<RunOutcome>().jobId, lastId);
    }

    void workerHonoursCancel()
    {
        std::atomic<bool> runCancel{false}, loadCancel{false};
        auto counters = std::make_shared<Counters>();
        QThread thread;
        WorkerCancelFlags flags;
        flags.run = &runCancel;
        flags.load = &loadCancel;
        auto* worker = new InferenceWorker(flags, [counters](const ModelSource&, const EngineOptions&) {
            return std::unique_ptr<ModelBackend>(new FakeBackend(counters));
        });
        worker->moveToThread(&thread);
        connect(&thread, &QThread::finished, worker, &QObject::deleteLater);
        thread.start();
        // Tear-down, also when a check fails: cancel -> quit -> wait.
        const auto stop = qScopeGuard([&] {
            runCancel = true;
            thread.quit();
            thread.wait();
        });
        registerRunTypes();
        QSignalSpy loaded(worker, &InferenceWorker::modelLoaded);
        QSignalSpy failed(worker, &InferenceWorker::runFailed);
        QMetaObject::invokeMethod(worker, "loadModel", Qt::QueuedConnection, Q_ARG(tokenscope::ModelSource, ModelSource{}));
        // The spies watch a worker on another thread: its signal can come before wait() starts,
        // and Qt 6.4's QSignalSpy::wait() then waits for a second one, so poll the count instead.
        QTRY_COMPARE_WITH_TIMEOUT(loaded.size(), 1, 5000);
        RunJob request = job("q", 1, "none");
        request.id = 7;
        QMetaObject::invokeMethod(worker, "runJob", Qt::QueuedConnection, Q_ARG(tokenscope::RunJob, request));
        // Cancel as soon as the first forward (the model's warm-up) has started, well inside its
        // six 10 ms layers, however loaded the machine is.
        QElapsedTimer waited;
        waited.start();
        while (counters->started.load() == 0 && waited.elapsed() < 5000)
            QThread::usleep(500);
        QVERIFY(counters->started.load() >= 1);
        runCancel = true;
        QTRY_COMPARE_WITH_TIMEOUT(failed.size(), 1, 5000);
        QCOMPARE(failed.at(0).at(0).toULongLong(), quint64(7));
        QCOMPARE(failed.at(0).at(2).toBool(), true);
        QCOMPARE(counters->completed.load(), 0);
    }

    void failedLoadKeepsPreviousModel()
    {
        loadFake();
        const quint64 generation = m_controller->model().generation;
        QSignalSpy loadFailed(m_controller.get(), &InferenceController::modelLoadFailed);
        m_controller->loadModel(ModelSource{"bad", {}, DeviceKind::Cpu, Precision::Fp32});
        QVERIFY(loadFailed.wait(5000));
        QVERIFY(loadFailed.at(0).at(0).toString().contains("header length"));
        QCOMPARE(loadFailed.at(0).at(1).toBool(), false);
        QCOMPARE(m_controller->model().generation, generation);
        QSignalSpy finished(m_controller.get(), &InferenceController::runFinished);
        m_controller->requestRun(job("still works", 1));
        QVERIFY(finished.wait(5000));
    }

    void loadCanBeCancelled()
    {
        loadFake();
        QSignalSpy loadFailed(m_controller.get(), &InferenceController::modelLoadFailed);
        QSignalSpy progress(m_controller.get(), &InferenceController::loadProgress);
        m_controller->loadModel(ModelSource{"slow", {}, DeviceKind::Cpu, Precision::Fp32});
        QTRY_VERIFY_WITH_TIMEOUT(progress.size() > 2, 5000);
        m_controller->cancelLoad();
        QVERIFY(loadFailed.wait(5000));
        QCOMPARE(loadFailed.at(0).at(1).toBool(), true);
        QCOMPARE(m_controller->model().source.builtinName, QString("fake"));
    }

    void oneControllerServesAGeneratingModel()
    {
        QSignalSpy loaded(m_controller.get(), &InferenceController::modelLoaded);
        m_controller->loadModel(ModelSource{"llava", {}, DeviceKind::Cpu, Precision::Fp32});
        QVERIFY(loaded.wait(5000));
        const ModelInfo info = m_controller->model();
        QVERIFY(info.capabilities.generates && info.capabilities.selectsVisualTokens);
        QVERIFY(!info.capabilities.answersFromLabels);

        QSignalSpy selected(m_controller.get(), &InferenceController::selectionFinished);
        const quint64 selectionId = m_controller->requestSelection(selection("hired"));
        QVERIFY(selected.wait(5000));
        QCOMPARE(selected.at(0).at(0).value<SelectionOutcome>().jobId, selectionId);
        QVERIFY(selected.at(0).at(0).value<SelectionOutcome>().record->method.is("hired"));

        QSignalSpy pieces(m_controller.get(), &InferenceController::tokenStreamed);
        QSignalSpy answered(m_controller.get(), &InferenceController::generationFinished);
        const quint64 answerId = m_controller->requestGeneration(answer(4));
        QVERIFY(answered.wait(5000));
        QCOMPARE(pieces.size(), 4);  // every token streamed before the answer is reported
        QCOMPARE(answered.at(0).at(0).value<GenerationOutcome>().jobId, answerId);
        QCOMPARE(answered.at(0).at(0).value<GenerationOutcome>().result->text, std::string("w w w w "));

        // A job the model does not offer fails with the model named, and the model stays.
        QSignalSpy failed(m_controller.get(), &InferenceController::runFailed);
        m_controller->requestRun(job("q", 1));
        QVERIFY(failed.wait(5000));
        QVERIFY2(failed.at(0).at(1).toString().contains("fake-llava: this model does not answer from labels"),
                 qPrintable(failed.at(0).at(1).toString()));
        QCOMPARE(m_controller->model().generation, info.generation);
        QVERIFY(!m_controller->isBusy());
    }

    void generationTakesOverFromASelectionAndStops()
    {
        QSignalSpy loaded(m_controller.get(), &InferenceController::modelLoaded);
        m_controller->loadModel(ModelSource{"llava", {}, DeviceKind::Cpu, Precision::Fp32});
        QVERIFY(loaded.wait(5000));
        QSignalSpy selected(m_controller.get(), &InferenceController::selectionFinished);
        QSignalSpy started(m_controller.get(), &InferenceController::generationStarted);
        QSignalSpy failed(m_controller.get(), &InferenceController::generationFailed);
        QSignalSpy answered(m_controller.get(), &InferenceController::generationFinished);
        m_controller->requestSelection(selection("hired"));
        QTRY_COMPARE_WITH_TIMEOUT(m_counters->started.load(), 1, 5000);
        m_controller->requestGeneration(answer(200));  // about 3 s unless stopped
        QVERIFY(started.wait(5000));
        QCOMPARE(m_counters->cancelled.load(), 1);  // the selection in flight gave way
        QTest::qWait(60);
        m_controller->stopGeneration();
        QVERIFY(failed.wait(2000));
        QCOMPARE(failed.at(0).at(2).toBool(), true);  // stopped, not an error
        QCOMPARE(answered.size(), 0);
        QCOMPARE(selected.size(), 0);  // the replaced selection stays silent
        QVERIFY(!m_controller->isBusy());
    }
};

QTEST_GUILESS_MAIN(TestInferenceWorker)
#include "tst_inference_worker.moc"
