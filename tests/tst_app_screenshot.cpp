// The window's screenshot mode end to end (issue 5's first start and the Trade-off chart): the
// `tokenscope` binary on the bundled model, off screen, with --chart tradeoff. The star it prints
// must have the accuracy that `tokenscope-cli eval` finds for the same configuration and scenes.

#include <QImage>
#include <QJsonDocument>
#include <QJsonObject>
#include <QRegularExpression>
#include <QTemporaryDir>
#include <QTest>

#include "support/cli_process.h"

namespace {

tokenscope::test::CliRun runApp(const QStringList& args)
{
    return tokenscope::test::runProgram(QStringLiteral(TOKENSCOPE_APP_PATH), args);
}

}  // namespace

class TestAppScreenshot : public QObject {
    Q_OBJECT

private slots:
    void tradeoffChartPrintsTheStar()
    {
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        const QString png = dir.filePath("tradeoff.png");
        const auto app = runApp({"--screenshot", png, "--size", "1200x800", "--chart", "tradeoff"});
        QVERIFY2(app.exitCode == 0, qPrintable(app.err));
        QVERIFY2(app.out.contains("the scene's answer: green (right)"), qPrintable(app.out));
        const QImage image(png);
        QCOMPARE(image.size(), QSize(1200, 800));

        // "trade-off: SETTINGS: accuracy A% (unreduced U%), S x the unreduced speed (...), N test scenes"
        const QRegularExpression star(R"(trade-off: (.+): accuracy ([0-9.]+)% \(unreduced ([0-9.]+)%\), ([0-9.]+)x the unreduced speed .*, (\d+) test scenes)");
        const auto match = star.match(app.out);
        QVERIFY2(match.hasMatch(), qPrintable(app.out));
        QCOMPARE(match.captured(1), QString("pumer reference L1,3,4 p0.1 r0.3 t0.2"));
        QVERIFY(match.captured(4).toDouble() > 0);
        const QString examples = match.captured(5);

        const auto eval = tokenscope::test::runCli({"eval", "--model", QStringLiteral(TOKENSCOPE_MODEL_DIR), "--seed", "3", "--n",
                                                    examples, "--batch", "32", "--method", "pumer", "--layers", "1,3,4",
                                                    "--prune", "0.1", "--merge", "0.3", "--merge-text", "0.2", "--json"});
        QVERIFY2(eval.exitCode == 0, qPrintable(eval.err));
        const QJsonObject result = QJsonDocument::fromJson(eval.out.toUtf8()).object();
        QVERIFY(result.contains("accuracy"));
        QCOMPARE(match.captured(2), QString::number(100 * result["accuracy"].toDouble(), 'f', 1));
        QCOMPARE(match.captured(3), QString::number(100 * result["unreduced"].toObject()["accuracy"].toDouble(), 'f', 1));
    }

    void unknownChartIsRefused()
    {
        const auto app = runApp({"--chart", "pie", "--screenshot", "never.png"});
        QCOMPARE(app.exitCode, 2);
        QVERIFY2(app.err.contains("--chart takes tokens, latency, memory, runs, tradeoff"), qPrintable(app.err));
    }
};

QTEST_GUILESS_MAIN(TestAppScreenshot)
#include "tst_app_screenshot.moc"
