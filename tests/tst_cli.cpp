// tokenscope-cli end to end: forward reproduces the reference outputs, answer/tokenize/preprocess
// work on the bundled files, and bad input gives a one-line error (exit 1) or usage (exit 2).

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QTemporaryDir>
#include <QTest>
#include <nlohmann/json.hpp>
#include <fstream>
#include <torch/torch.h>

#include "support/cli_process.h"
#include "checkpoint/tensor_file.h"
#include "support/tensor_compare.h"

using namespace tokenscope;
using tokenscope::test::allClose;
using tokenscope::test::dataPath;

namespace {

using Run = tokenscope::test::CliRun;

Run cli(const QStringList& args) { return tokenscope::test::runCli(args, 120000); }

const QString kViltDir = QString::fromStdString(dataPath("vilt"));
const QString kPhoto = QString::fromStdString(dataPath("images/photo.png"));

}  // namespace

class TestCli : public QObject {
    Q_OBJECT
private slots:
    void forwardReproducesReference() {
        QTemporaryDir dir;
        const QString out = dir.filePath("out.safetensors");
        const auto run = cli({"forward", "--model", kViltDir, "--inputs", kViltDir + "/inputs.safetensors", "--out", out});
        QVERIFY2(run.exitCode == 0, qPrintable(run.err));
        const auto actual = readTensorFile(out.toStdString());
        const auto expected = readTensorFile(dataPath("vilt/outputs_raster.safetensors"));
        for (const auto& [name, tensor] : expected) {
            QVERIFY2(actual.count(name), name.c_str());
            QVERIFY(allClose(actual.at(name), tensor, 1e-4, name));
        }
    }

    void forwardClip() {
        QTemporaryDir dir;
        const QString clipDir = QString::fromStdString(dataPath("clip_vision"));
        const QString out = dir.filePath("out.safetensors");
        const auto run = cli({"forward", "--model", clipDir, "--inputs", clipDir + "/inputs.safetensors", "--out", out});
        QVERIFY2(run.exitCode == 0, qPrintable(run.err));
        const auto actual = readTensorFile(out.toStdString());
        const auto expected = readTensorFile(dataPath("clip_vision/outputs.safetensors"));
        QCOMPARE(actual.size(), expected.size());
        for (const auto& [name, tensor] : expected) QVERIFY(allClose(actual.at(name), tensor, 1e-4, name));
    }

    void answerJson() {
        const auto run = cli({"answer", "--model", kViltDir, "--image", kPhoto, "--question", "what color is the cat?",
                              "--top-k", "3", "--json"});
        QVERIFY2(run.exitCode == 0, qPrintable(run.err));
        const auto json = QJsonDocument::fromJson(run.out.toUtf8()).object();
        const auto answers = json["answers"].toArray();
        QCOMPARE(answers.size(), 3);
        QVERIFY(answers[0].toObject()["label"].toString().startsWith("answer_"));
        QVERIFY(answers[0].toObject()["score"].toDouble() >= answers[1].toObject()["score"].toDouble());
        // 64x80 photo -> 384x480 -> 12x15 patches + image CLS.
        QCOMPARE(json["image_tokens"].toInt(), 12 * 15 + 1);
        QCOMPARE(json["tokens"].toArray().first().toString(), QString("[CLS]"));
        QVERIFY(json["timings_ms"].toObject().contains("forward"));
    }

    void tokenizeMatchesFixture() {
        std::ifstream in(dataPath("vilt/tokenizer_cases.json"));
        const auto cases = nlohmann::json::parse(in);
        const auto& first = cases["cases"][0];
        const auto run = cli({"tokenize", "--vocab", kViltDir + "/vocab_realistic.txt", "--text",
                              QString::fromStdString(first["text"].get<std::string>())});
        QVERIFY2(run.exitCode == 0, qPrintable(run.err));
        QStringList ids;
        for (const auto& id : first["realistic"]["input_ids"]) ids << QString::number(id.get<int64_t>());
        QCOMPARE(run.out.trimmed(), ids.join(' '));
    }

    void preprocessWritesPixels() {
        QTemporaryDir dir;
        const QString out = dir.filePath("pixels.safetensors");
        const auto run = cli({"preprocess", "--model", kViltDir, "--image", kPhoto, "--out", out});
        QVERIFY2(run.exitCode == 0, qPrintable(run.err));
        const auto tensors = readTensorFile(out.toStdString());
        QCOMPARE(tensors.at("pixel_values").sizes().vec(), (std::vector<int64_t>{1, 3, 384, 480}));
        QCOMPARE(tensors.at("pixel_mask").sum().item<int64_t>(), int64_t(384 * 480));
    }

    void errors_data() {
        QTest::addColumn<QStringList>("args");
        QTest::addColumn<int>("exitCode");
        QTest::addColumn<QString>("expected");
        QTest::newRow("no command") << QStringList{} << 2 << "usage";
        QTest::newRow("unknown command") << QStringList{"paint"} << 2 << "unknown command 'paint'";
        QTest::newRow("unknown option") << QStringList{"answer", "--colour", "x"} << 2 << "unknown option --colour";
        QTest::newRow("missing value") << QStringList{"answer", "--model"} << 2 << "needs a value";
        QTest::newRow("bad top-k") << QStringList{"answer", "--model", kViltDir, "--image", kPhoto, "--question", "q", "--top-k", "x"}
                                   << 2 << "--top-k must be an integer";
        QTest::newRow("missing image") << QStringList{"answer", "--model", kViltDir, "--image", "/nope.png", "--question", "q"}
                                       << 1 << "/nope.png: cannot open the image";
        QTest::newRow("not an image") << QStringList{"answer", "--model", kViltDir, "--image", kViltDir + "/config.json", "--question", "q"}
                                      << 1 << "config.json: not an image";
        QTest::newRow("empty question") << QStringList{"answer", "--model", kViltDir, "--image", kPhoto, "--question", "  "}
                                        << 1 << "the question is empty";
        QTest::newRow("missing model") << QStringList{"answer", "--model", "/no/model", "--image", kPhoto, "--question", "q"}
                                       << 1 << "/no/model: not a model folder";
        QTest::newRow("fp16 on cpu") << QStringList{"answer", "--arch", "vilt-b32", "--dtype", "fp16", "--image", kPhoto, "--question", "q"}
                                     << 1 << "fp16 needs a CUDA device";
        QTest::newRow("missing input tensor") << QStringList{"forward", "--model", kViltDir, "--inputs", kViltDir + "/outputs.safetensors", "--out", "/tmp/x.safetensors"}
                                              << 1 << "input tensor 'input_ids' is missing";
    }

    void errors() {
        QFETCH(QStringList, args);
        QFETCH(int, exitCode);
        QFETCH(QString, expected);
        const auto run = cli(args);
        QCOMPARE(run.exitCode, exitCode);
        QVERIFY2(run.err.contains(expected), qPrintable(run.err));
        if (exitCode == 1) QCOMPARE(run.err.trimmed().count('\n'), 0);  // one line
    }

    void helpShowsDefaults() {
        const auto run = cli({"answer", "--help"});
        QCOMPARE(run.exitCode, 0);
        QVERIFY(run.out.contains("--top-k K"));
        QVERIFY(run.out.contains("(default: 5)"));
        QVERIFY(run.out.contains("(default: cpu)"));
    }
};

QTEST_GUILESS_MAIN(TestCli)
#include "tst_cli.moc"
