// tokenscope: the TokenScope window. With --screenshot FILE it waits for the first result, saves
// the window as PNG and exits (exit status 1 when an error was shown instead of a result).

#include <QApplication>
#include <QCommandLineParser>
#include <QDir>
#include <QTimer>

#include <cstdio>

#include "common/error.h"
#include "ui/controls_panel.h"
#include "ui/main_window.h"

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
    const QCommandLineOption methodOption("method", "none | pumer (VQAv2 preset) | tome | smres | random | uniform.", "NAME");
    const QCommandLineOption layerOption("layer", "Layer to show (default: the one after the first reduction).", "N");
    const QCommandLineOption compareOption("compare", "Start in compare mode (against the unreduced model).");
    const QCommandLineOption deviceOption("device", "cpu | cuda.", "DEVICE", "cpu");
    const QCommandLineOption sizeOption("size", "Window size for screenshots, WxH.", "WxH", "1600x1000");
    parser.addOptions({screenshotOption, modelOption, archOption, imageOption, questionOption, methodOption, layerOption,
                       compareOption, deviceOption, sizeOption});
    parser.process(app);

    MainWindowOptions options;
    const QString screenshot = parser.value(screenshotOption);
    options.usesSettings = screenshot.isEmpty();
    options.model.folder = parser.value(modelOption);
    options.model.builtinName = parser.value(archOption);
    options.imagePath = parser.value(imageOption);
    options.question = parser.value(questionOption);
    try {
        options.model.device = parseDevice(parser.value(deviceOption).toStdString());
        if (parser.isSet(methodOption)) {
            const Method method = parseMethod(parser.value(methodOption).toStdString());
            if (method != Method::Pumer) {  // pumer: the window's default, the VQAv2 preset at the model's depth
                MethodSettings settings;
                settings.method = method;
                options.method = settings;
            }
        }
    } catch (const Error& error) {
        std::fprintf(stderr, "tokenscope: %s\n", error.what());
        return 2;
    }
    if (parser.isSet(layerOption))
        options.layer = parser.value(layerOption).toInt();

    MainWindow window(options);
    if (parser.isSet(compareOption))
        window.controls()->setCompareEnabled(true);
    if (screenshot.isEmpty()) {
        window.show();
        return app.exec();
    }

    const QStringList size = parser.value(sizeOption).split('x');
    if (size.size() == 2)
        window.resize(size[0].toInt(), size[1].toInt());
    window.show();
    int status = 0;
    auto save = [&](int exitStatus) {
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
    QObject::connect(&window, &MainWindow::resultShown, &window, [&] { save(0); }, Qt::SingleShotConnection);
    QObject::connect(&window, &MainWindow::errorShown, &window, [&](const QString& message) {
        std::fprintf(stderr, "tokenscope: %s\n", qPrintable(message));
        if (!window.hasResult())
            save(1);
    });
    QTimer::singleShot(300000, &window, [&] {
        std::fprintf(stderr, "tokenscope: no result after 300 s\n");
        save(1);
    });
    return app.exec();
}
