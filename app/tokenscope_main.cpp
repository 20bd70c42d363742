// tokenscope: the TokenScope window. With --screenshot FILE it waits for the first result, saves
// the window as PNG and exits (exit status 1 when an error was shown instead of a result). On a
// LLaVA-NeXT model the first result is the first token selection, or with --generate the first
// answer.

#include <QApplication>
#include <QComboBox>
#include <QCommandLineParser>
#include <QDir>
#include <QFileInfo>
#include <QTabWidget>
#include <QTimer>

#include <cstdio>

#include "common/error.h"
#include "methods/method_registry.h"
#include "ui/answer_changes_view.h"
#include "ui/charts_panel.h"
#include "ui/controls_panel.h"
#include "ui/inference_controller.h"
#include "ui/llava_controls.h"
#include "ui/llava_view.h"
#include "ui/main_window.h"
#include "ui/tradeoff_chart.h"

using namespace tokenscope;

int main(int argc, char** argv)
{
    QApplication app(argc, argv);
    QApplication::setApplicationName("TokenScope");
    QApplication::setOrganizationName("TokenScope");
    QApplication::setApplicationVersion("0.1.0");

    QCommandLineParser parser;
    parser.setApplicationDescription("See which tokens a vision-language token-reduction method keeps, prunes or merges.");
    parser.addHelpOption();
    parser.addVersionOption();
    const QCommandLineOption screenshotOption("screenshot", "Wait for the first result, save the window as PNG to FILE, exit.", "FILE");
    const QCommandLineOption modelOption("model", "Model folder (default: the bundled tiny model).", "DIR");
    const QCommandLineOption archOption("arch", "Built-in architecture with random weights instead of a folder, e.g. vilt-b32.", "NAME");
    const QCommandLineOption imageOption("image", "Image file (default: the bundled sample).", "FILE");
    const QCommandLineOption questionOption("question", "The question.", "TEXT");
    const QCommandLineOption methodOption("method", "none | pumer (VQAv2 preset) | tome | smres | random | uniform | dynamicvit (models with predictors).", "NAME");
    const QCommandLineOption layerOption("layer", "Layer to show (default: the one after the first reduction).", "N");
    const QCommandLineOption compareOption("compare", "Start in compare mode (against the unreduced model).");
    const QCommandLineOption compareModelOption("compare-model", "Compare mode with B on another model from the model list (e.g. resources/models/meter-tiny-random).", "DIR");
    const QCommandLineOption chartOption("chart",
                                         "Chart tab to show: tokens | latency | memory | runs | tradeoff (with --screenshot, tradeoff "
                                         "waits for the current configuration's point).",
                                         "NAME");
    const QCommandLineOption deviceOption("device", "cpu | cuda.", "DEVICE", "cpu");
    const QCommandLineOption sizeOption("size", "Window size for screenshots, WxH.", "WxH", "1600x1000");
    const QCommandLineOption promptOption("prompt", "LLaVA-NeXT: the prompt.", "TEXT");
    const QCommandLineOption llavaMethodOption("llava-method", "LLaVA-NeXT: full | hired | spatial | random (default hired).", "NAME");
    const QCommandLineOption budgetOption("budget", "LLaVA-NeXT: the visual-token budget, 0.05-1 (default 0.2).", "X");
    const QCommandLineOption alphaOption("alpha", "LLaVA-NeXT HiRED: the full image's share of the budget (default 0.5).", "X");
    const QCommandLineOption hiredModeOption("hired-mode", "LLaVA-NeXT HiRED: paper | reference.", "MODE");
    const QCommandLineOption maxNewTokensOption("max-new-tokens", "LLaVA-NeXT: the longest answer in tokens.", "N");
    const QCommandLineOption generateOption("generate", "LLaVA-NeXT: answer the prompt once the model is loaded.");
    const QCommandLineOption llavaShowOption("llava-show", "LLaVA-NeXT: what the tiles show: kept | attention0 | attention.", "WHAT");
    const QCommandLineOption evalResultsOption("eval-results", "A dataset evaluation's results of the method (tokenscope-cli eval --dataset; repeatable for shards): opens the Answer changes dock.", "FILE");
    const QCommandLineOption evalBaselineOption("eval-baseline", "The unreduced model's results of the same evaluation (repeatable).", "FILE");
    const QCommandLineOption evalOpenOption("eval-open", "Open row N of the Answer changes list (worse first) once the model is loaded.", "N");
    parser.addOptions({evalResultsOption, evalBaselineOption, evalOpenOption, compareModelOption});
    parser.addOptions({screenshotOption, modelOption, archOption, imageOption, questionOption, methodOption, layerOption, chartOption,
                       compareOption, deviceOption, sizeOption, promptOption, llavaMethodOption, budgetOption, alphaOption,
                       hiredModeOption, maxNewTokensOption, generateOption, llavaShowOption});
    parser.process(app);

    MainWindowOptions options;
    MethodSettings llavaSettings("hired");
    const QString screenshot = parser.value(screenshotOption);
    options.usesSettings = screenshot.isEmpty();
    options.model.folder = parser.value(modelOption);
    options.model.builtinName = parser.value(archOption);
    options.imagePath = parser.value(imageOption);
    options.question = parser.value(questionOption);
    try {
        options.model.device = parseDevice(parser.value(deviceOption).toStdString());
        if (parser.isSet(methodOption)) {
            MethodSettings settings(parser.value(methodOption).toStdString());
            if (!settings.is("pumer"))  // pumer: the window's default, the VQAv2 preset at the model's depth
                options.method = settings;
        }
        // LLaVA-NeXT: the method (old names full / spatial are none / uniform) and its knobs.
        llavaSettings = MethodSettings(parser.isSet(llavaMethodOption) ? parser.value(llavaMethodOption).toStdString() : "hired");
        if (!methodDescriptor(llavaSettings.method()).serves(FamilyKind::Llava))
            throw Error("--llava-method takes full, hired, spatial or random");
        bool isNumber = true;
        const double budget = parser.isSet(budgetOption) ? parser.value(budgetOption).toDouble(&isNumber) : 0.2;
        const double alpha = parser.isSet(alphaOption) ? parser.value(alphaOption).toDouble(&isNumber) : 0.5;
        if (parser.isSet(llavaShowOption) && !QStringList{"kept", "attention0", "attention"}.contains(parser.value(llavaShowOption)))
            throw Error("--llava-show takes kept, attention0 or attention");
        if (!isNumber || budget < 0.05 || budget > 1 || alpha < 0 || alpha > 1)
            throw Error("--budget must lie in 0.05..1 and --alpha in 0..1");
        if (llavaSettings.is("hired")) {
            llavaSettings.set("budget", budget).set("alpha", alpha);
            if (parser.isSet(hiredModeOption)) llavaSettings.setText("mode", parser.value(hiredModeOption).toStdString());
        } else if (!llavaSettings.is("none")) {
            llavaSettings.set("keep", budget);
        }
    } catch (const Error& error) {
        std::fprintf(stderr, "tokenscope: %s\n", error.what());
        return 2;
    }
    if (parser.isSet(layerOption))
        options.layer = parser.value(layerOption).toInt();
    const QStringList chartNames{"tokens", "latency", "memory", "runs", "tradeoff"};
    const int chartTab = parser.isSet(chartOption) ? chartNames.indexOf(parser.value(chartOption)) : 0;
    if (chartTab < 0) {
        std::fprintf(stderr, "tokenscope: --chart takes %s\n", qPrintable(chartNames.join(", ")));
        return 2;
    }
    const bool waitsForTradeoff = chartNames[chartTab] == "tradeoff";

    MainWindow window(options);
    if (parser.isSet(compareOption))
        window.controls()->setCompareEnabled(true);
    if (parser.isSet(compareModelOption)) {
        const QString folder = parser.value(compareModelOption);
        if (!window.controls()->setCompareModel(QFileInfo(folder).absoluteFilePath()) && !window.controls()->setCompareModel(folder)) {
            std::fprintf(stderr, "tokenscope: --compare-model %s: not in the model list (a bundled model or a recent folder)\n",
                         qPrintable(folder));
            return 2;
        }
        window.controls()->setCompareEnabled(true);
    }
    window.charts()->tabs()->setCurrentIndex(chartTab);
    window.controls()->setMethodSettingsFor(FamilyKind::Llava, llavaSettings);
    if (parser.isSet(promptOption))
        window.llava()->controls()->setPrompt(parser.value(promptOption));
    if (parser.isSet(llavaShowOption))
        window.llava()->shadingCombo()->setCurrentIndex(QStringList{"kept", "attention0", "attention"}.indexOf(parser.value(llavaShowOption)));
    if (parser.isSet(maxNewTokensOption))
        window.llava()->controls()->setMaxNewTokens(parser.value(maxNewTokensOption).toInt());
    if (parser.isSet(generateOption))
        QObject::connect(window.llava(), &LlavaView::selectionShown, &window, [&window] { window.llava()->generate(); },
                         Qt::SingleShotConnection);
    int evalOpenRow = -1;
    if (parser.isSet(evalResultsOption) || parser.isSet(evalBaselineOption)) {
        if (!parser.isSet(evalResultsOption) || !parser.isSet(evalBaselineOption)) {
            std::fprintf(stderr, "tokenscope: --eval-results and --eval-baseline go together\n");
            return 2;
        }
        if (!window.openEvaluationResults(parser.values(evalResultsOption), parser.values(evalBaselineOption)) && !screenshot.isEmpty())
            return 1;
        if (parser.isSet(evalOpenOption))
            evalOpenRow = parser.value(evalOpenOption).toInt();
    }
    // The row opens after the first result (the model is loaded by then); a screenshot waits for its run.
    int resultsBeforeSaving = evalOpenRow >= 0 ? 1 : 0;
    if (evalOpenRow >= 0)
        QObject::connect(&window, &MainWindow::resultShown, &window, [&window, evalOpenRow] {
            window.answerChanges()->activateRow(evalOpenRow);
        }, Qt::SingleShotConnection);
    if (screenshot.isEmpty()) {
        window.show();
        return app.exec();
    }

    const QStringList size = parser.value(sizeOption).split('x');
    if (size.size() == 2)
        window.resize(size[0].toInt(), size[1].toInt());
    window.show();
    int status = 0;
    bool isSaving = false;
    auto save = [&](int exitStatus) {
        if (isSaving)
            return;
        isSaving = true;
        status = exitStatus;
        // Let queued replots and layouts settle before grabbing.
        QTimer::singleShot(400, &window, [&] {
            // Quality 0: the strongest zlib compression (PNG stays lossless).
            if (!window.grab().save(screenshot, "PNG", 0)) {
                std::fprintf(stderr, "tokenscope: cannot write %s\n", qPrintable(screenshot));
                status = 2;
            }
            app.exit(status);
        });
    };
    QObject::connect(&window, &MainWindow::resultShown, &window, [&] {
        if (resultsBeforeSaving-- > 0)
            return;
        // What the screenshot shows, in words: the question, the answer and, for a bundled scene, the right one.
        const RunOutcome& outcome = window.outcome();
        if (outcome.result && !outcome.result->answers.empty()) {
            const ScoredAnswer& top = outcome.result->answers.front();
            std::printf("model:    %s\nquestion: %s\nanswer:   %s (%.2f) under %s\n",
                        qPrintable(window.controller()->model().source.folder), qPrintable(window.controls()->question()),
                        top.label.c_str(), top.score, describe(outcome.result->method).c_str());
            const QString expected = window.expectedAnswer();
            if (!expected.isEmpty())
                std::printf("the scene's answer: %s (%s)\n", qPrintable(expected),
                            QString::fromStdString(top.label) == expected ? "right" : "wrong");
            std::fflush(stdout);
        }
        if (!waitsForTradeoff || !window.measuresTradeoff())
            save(0);
    });
    if (waitsForTradeoff)
        QObject::connect(&window, &MainWindow::quickEvalShown, &window, [&] {
            if (const auto point = window.charts()->tradeoff()->currentPoint()) {
                std::printf("trade-off: %s: accuracy %.1f%% (unreduced %.1f%%), %.2fx the unreduced speed (%.1f examples/s), "
                            "%d test scenes\n",
                            qPrintable(point->settings), 100 * point->accuracy, 100 * point->unreducedAccuracy, point->speedup,
                            point->examplesPerSecond, point->examples);
                std::fflush(stdout);
            }
            save(0);
        }, Qt::SingleShotConnection);
    if (parser.isSet(generateOption))
        QObject::connect(window.llava(), &LlavaView::generationShown, &window, [&] { save(0); }, Qt::SingleShotConnection);
    else
        QObject::connect(window.llava(), &LlavaView::selectionShown, &window, [&] { save(0); }, Qt::SingleShotConnection);
    QObject::connect(&window, &MainWindow::errorShown, &window, [&](const QString& message) {
        std::fprintf(stderr, "tokenscope: %s\n", qPrintable(message));
        if (!window.hasResult() && !window.llava()->lastResult())
            save(1);
    });
    QTimer::singleShot(300000, &window, [&] {
        std::fprintf(stderr, "tokenscope: no result after 300 s\n");
        save(1);
    });
    return app.exec();
}
