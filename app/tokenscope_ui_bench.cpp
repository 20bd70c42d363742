// tokenscope-ui-bench: how the window feels, as numbers (JSON on stdout). Not a test.
//
// It runs the real MainWindow (offscreen unless QT_QPA_PLATFORM says otherwise) on a model and
// measures, on the GUI thread:
//   drag:    --changes quick knob changes (prune / image-merge sliders, --interval-ms apart, as a
//            drag would make them) until the result of the last one is on screen; meanwhile a 5 ms
//            precise timer ticks and the gaps between its ticks are recorded (a gap far above
//            5 ms is a GUI-thread stall);
//   latency: --latency-runs single knob changes, each waited for: change -> resultShown, with the
//            controller's debounce and without it, and where the time goes (debounce, forward,
//            drawing the result);
//   scrub:   every layer stepped through once (--interval-ms apart), the same 5 ms ticks.

#include <QApplication>
#include <QCommandLineParser>
#include <QElapsedTimer>
#include <QEventLoop>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QSlider>
#include <QThread>
#include <QTimer>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <vector>

#include "ui/controls_panel.h"
#include "ui/inference_controller.h"
#include "ui/layer_scrubber.h"
#include "ui/main_window.h"

using namespace tokenscope;

namespace {

constexpr int kTickMs = 5;
constexpr int kDebounceMs = 150;  // InferenceController's default

double percentile(std::vector<double> values, double fraction)
{
    if (values.empty())
        return 0;
    std::sort(values.begin(), values.end());
    const double position = fraction * double(values.size() - 1);
    const size_t low = size_t(position);
    const size_t high = std::min(low + 1, values.size() - 1);
    return values[low] + (values[high] - values[low]) * (position - double(low));
}

double rounded(double value) { return std::round(value * 100.0) / 100.0; }

QJsonObject summarise(const std::vector<double>& values)
{
    return {{"count", int(values.size())},
            {"p50", rounded(percentile(values, 0.50))},
            {"p95", rounded(percentile(values, 0.95))},
            {"p99", rounded(percentile(values, 0.99))},
            {"max", rounded(values.empty() ? 0 : *std::max_element(values.begin(), values.end()))}};
}

// Records the gaps between consecutive ticks of a precise 5 ms timer on the GUI thread.
class TickRecorder {
public:
    explicit TickRecorder(QObject* context)
    {
        m_timer.setTimerType(Qt::PreciseTimer);
        m_timer.setInterval(kTickMs);
        QObject::connect(&m_timer, &QTimer::timeout, context, [this] {
            const qint64 now = m_clock.nsecsElapsed();
            if (m_last >= 0)
                m_gapsMs.push_back(double(now - m_last) / 1e6);
            m_last = now;
        });
    }
    void start()
    {
        m_gapsMs.clear();
        m_last = -1;
        m_clock.start();
        m_timer.start();
    }
    std::vector<double> stop()
    {
        m_timer.stop();
        return m_gapsMs;
    }

private:
    QTimer m_timer;
    QElapsedTimer m_clock;
    qint64 m_last = -1;
    std::vector<double> m_gapsMs;
};

QJsonObject gapsJson(const std::vector<double>& gapsMs)
{
    QJsonObject json = summarise(gapsMs);
    json["over_50ms"] = int(std::count_if(gapsMs.begin(), gapsMs.end(), [](double gap) { return gap > 50; }));
    return json;
}

// Runs the event loop until `isDone` holds after one of `window`'s results, or the timeout.
bool waitForResult(MainWindow& window, const std::function<bool()>& isDone, int timeoutMs)
{
    if (isDone())
        return true;
    QEventLoop loop;
    QObject::connect(&window, &MainWindow::resultShown, &loop, [&] {
        if (isDone())
            loop.exit(0);
    });
    QObject::connect(&window, &MainWindow::errorShown, &loop, [&](const QString& message) {
        std::fprintf(stderr, "tokenscope-ui-bench: %s\n", qPrintable(message));
        if (!window.hasResult())
            loop.exit(2);
    });
    QTimer::singleShot(timeoutMs, &loop, [&] { loop.exit(1); });
    return loop.exec() == 0;
}

void waitMs(int milliseconds)
{
    QEventLoop loop;
    QTimer::singleShot(milliseconds, &loop, &QEventLoop::quit);
    loop.exec();
}

bool showsSettings(const MainWindow& window, const MethodSettings& settings)
{
    return window.hasResult() && window.outcome().result->method.number("prune") == settings.number("prune") &&
           window.outcome().result->method.number("merge") == settings.number("merge") &&
           !window.controller()->isRunning();
}

}  // namespace

int main(int argc, char** argv)
{
    if (qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM"))
        qputenv("QT_QPA_PLATFORM", "offscreen");
    QApplication app(argc, argv);
    QApplication::setApplicationName("tokenscope-ui-bench");

    QCommandLineParser parser;
    parser.setApplicationDescription("GUI-thread stalls and knob-to-overlay latency of the TokenScope window, as JSON.");
    parser.addHelpOption();
    const QCommandLineOption modelOption("model", "Model folder (default: the bundled tiny model).", "DIR");
    const QCommandLineOption archOption("arch", "Built-in architecture with random weights, e.g. vilt-b32.", "NAME");
    const QCommandLineOption imageOption("image", "Image file (default: the bundled sample).", "FILE");
    const QCommandLineOption changesOption("changes", "Quick knob changes in the drag phase.", "N", "100");
    const QCommandLineOption intervalOption("interval-ms", "Time between quick knob changes (and scrub steps).", "MS", "15");
    const QCommandLineOption latencyOption("latency-runs", "Single knob changes waited for one by one.", "N", "20");
    const QCommandLineOption timeoutOption("timeout-s", "Give up waiting for one result after this long.", "S", "300");
    parser.addOptions({modelOption, archOption, imageOption, changesOption, intervalOption, latencyOption, timeoutOption});
    parser.process(app);
    const int changes = std::max(1, parser.value(changesOption).toInt());
    const int intervalMs = std::max(1, parser.value(intervalOption).toInt());
    const int latencyRuns = std::max(1, parser.value(latencyOption).toInt());
    const int timeoutMs = std::max(1, parser.value(timeoutOption).toInt()) * 1000;

    MainWindowOptions options;
    options.usesSettings = false;
    options.model.folder = parser.value(modelOption);
    options.model.builtinName = parser.value(archOption);
    options.imagePath = parser.value(imageOption);
    MainWindow window(options);
    window.resize(1600, 1000);
    window.show();
    window.controller()->setDebounceMs(kDebounceMs);

    QElapsedTimer startup;
    startup.start();
    if (!waitForResult(window, [&] { return window.hasResult() && !window.controller()->isRunning(); }, timeoutMs)) {
        std::fprintf(stderr, "tokenscope-ui-bench: no first result: %s\n", qPrintable(window.lastError()));
        return 1;
    }
    const double firstResultMs = double(startup.nsecsElapsed()) / 1e6;
    ControlsPanel* controls = window.controls();
    QSlider* prune = controls->pruneRatioSlider()->slider();
    QSlider* merge = controls->imageMergeRatioSlider()->slider();
    TickRecorder ticks(&window);

    // ---- drag: quick changes through the event loop, until the last one's result is shown.
    std::vector<double> changeHandlingMs;  // GUI time spent inside one setValue (signals included)
    ticks.start();
    QElapsedTimer dragClock;
    dragClock.start();
    {
        int done = 0;
        QEventLoop loop;
        QTimer changer;
        changer.setTimerType(Qt::PreciseTimer);
        changer.setInterval(intervalMs);
        QObject::connect(&changer, &QTimer::timeout, &loop, [&] {
            // A back-and-forth drag over the sliders' ranges, alternating the two knobs.
            QSlider* slider = done % 2 == 0 ? prune : merge;
            const int span = slider->maximum() - slider->minimum();
            const int phase = (done / 2) % (2 * span);
            const int value = slider->minimum() + (phase < span ? phase : 2 * span - phase);
            QElapsedTimer handling;
            handling.start();
            slider->setValue(value == slider->value() ? (value + 1) % (slider->maximum() + 1) : value);
            changeHandlingMs.push_back(double(handling.nsecsElapsed()) / 1e6);
            if (++done == changes) {
                changer.stop();
                loop.quit();
            }
        });
        changer.start();
        loop.exec();
    }
    const MethodSettings finalSettings = controls->methodSettings();
    const double lastChangeMs = double(dragClock.nsecsElapsed()) / 1e6;
    if (!waitForResult(window, [&] { return showsSettings(window, finalSettings); }, timeoutMs)) {
        std::fprintf(stderr, "tokenscope-ui-bench: the drag's final result never came\n");
        return 1;
    }
    const double dragTotalMs = double(dragClock.nsecsElapsed()) / 1e6;
    waitMs(50);  // the gap that covers drawing the final result ends at the next tick
    const std::vector<double> dragGaps = ticks.stop();

    // ---- latency: one change at a time, each waited for.
    std::vector<double> latencyMs, latencyMinusDebounceMs, dispatchMs, computeMs, resultDrawMs;
    ticks.start();
    for (int i = 0; i < latencyRuns; ++i) {
        waitMs(50);  // let the previous result's queued replots settle
        QSlider* slider = prune;
        const int value = slider->minimum() + (slider->value() - slider->minimum() + 3) % (slider->maximum() - slider->minimum() + 1);
        double startedAtMs = -1;
        QElapsedTimer clock;
        const QMetaObject::Connection started = QObject::connect(window.controller(), &InferenceController::runStarted, &window,
                                                                 [&] { startedAtMs = double(clock.nsecsElapsed()) / 1e6; });
        clock.start();
        slider->setValue(value);
        const MethodSettings wanted = controls->methodSettings();
        const bool isShown = waitForResult(window, [&] { return showsSettings(window, wanted); }, timeoutMs);
        const double elapsedMs = double(clock.nsecsElapsed()) / 1e6;
        QObject::disconnect(started);
        if (!isShown) {
            std::fprintf(stderr, "tokenscope-ui-bench: change %d never showed a result\n", i);
            return 1;
        }
        latencyMs.push_back(elapsedMs);
        latencyMinusDebounceMs.push_back(elapsedMs - kDebounceMs);
        dispatchMs.push_back(startedAtMs);
        computeMs.push_back(window.outcome().totalMs);
        resultDrawMs.push_back(window.lastResultDrawMs());
    }
    const std::vector<double> latencyGaps = ticks.stop();

    // ---- scrub: every layer once, as the arrow key would.
    std::vector<double> layerDrawMs;
    LayerScrubber* scrubber = window.scrubber();
    scrubber->setCurrentIndex(0);
    waitMs(50);
    ticks.start();
    for (int i = 1; i < scrubber->layerCount(); ++i) {
        waitMs(intervalMs);
        scrubber->stepBy(1);
        layerDrawMs.push_back(window.lastLayerDrawMs());
    }
    waitMs(50);
    const std::vector<double> scrubGaps = ticks.stop();

    QJsonObject json;
    json["model"] = window.controller()->model().source.displayName();
    json["layers"] = window.controller()->model().layerCount;
    json["method"] = QString::fromStdString(describe(window.outcome().result->method));
    json["image_tokens"] = int(window.outcome().result->trace.image.patchCell.size());
    json["cpu_threads"] = QThread::idealThreadCount();
    json["debounce_ms"] = kDebounceMs;
    json["tick_ms"] = kTickMs;
    json["first_result_ms"] = rounded(firstResultMs);
    json["drag"] = QJsonObject{{"changes", changes},
                               {"interval_ms", intervalMs},
                               {"last_change_ms", rounded(lastChangeMs)},
                               {"final_result_ms", rounded(dragTotalMs)},
                               {"change_handling_ms", summarise(changeHandlingMs)},
                               {"tick_gaps_ms", gapsJson(dragGaps)}};
    json["latency"] = QJsonObject{{"runs", latencyRuns},
                                  {"knob_to_overlay_ms", summarise(latencyMs)},
                                  {"knob_to_overlay_minus_debounce_ms", summarise(latencyMinusDebounceMs)},
                                  {"knob_to_dispatch_ms", summarise(dispatchMs)},
                                  {"worker_run_ms", summarise(computeMs)},
                                  {"result_draw_ms", summarise(resultDrawMs)},
                                  {"tick_gaps_ms", gapsJson(latencyGaps)}};
    json["scrub"] = QJsonObject{{"steps", int(layerDrawMs.size())},
                                {"layer_draw_ms", summarise(layerDrawMs)},
                                {"tick_gaps_ms", gapsJson(scrubGaps)}};
    std::printf("%s", QJsonDocument(json).toJson(QJsonDocument::Indented).constData());
    return 0;
}
