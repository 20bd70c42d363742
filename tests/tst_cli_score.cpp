// tokenscope-cli score end to end on tests/data/scoring/: the printed lines are the official tools'
// (VQAv2's vqaEvalDemo.py lines, eval_textvqa.py's, GQA eval.py's, eval_pope.py's, metrics.py's),
// JSON and CSV carry the same numbers, --per-question writes one row per question, and bad input
// exits 2 (usage) or 1 (a one-line error naming the file).

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTemporaryDir>
#include <QTest>

#include <algorithm>
#include <fstream>

#include <nlohmann/json.hpp>

#include "support/cli_process.h"
#include "support/test_paths.h"

using tokenscope::test::dataPath;

namespace {

QString scoring(const std::string& relative) { return QString::fromStdString(dataPath("scoring/" + relative)); }

tokenscope::test::CliRun score(const QStringList& args) { return tokenscope::test::runCli(QStringList{"score"} + args, 60000); }

nlohmann::json expected(const std::string& relative) {
    std::ifstream in(dataPath("scoring/" + relative));
    if (!in) {
        QTest::qFail(("missing fixture scoring/" + relative).c_str(), __FILE__, __LINE__);
        return nlohmann::json();
    }
    return nlohmann::json::parse(in);
}

QStringList lines(const QString& text) { return text.split('\n', Qt::SkipEmptyParts); }

// Records of a CSV text: line breaks inside quoted fields (answers may hold them) do not count.
int csvRecords(const QString& text) {
    int records = 0;
    bool quoted = false;
    for (const QChar c : text) {
        if (c == '"') quoted = !quoted;
        if (c == '\n' && !quoted) ++records;
    }
    return records;
}

const QStringList kVqaFiles{"--annotations", scoring("vqav2/v2_mscoco_val2014_annotations.json"), "--questions",
                            scoring("vqav2/v2_OpenEnded_mscoco_val2014_questions.json")};

}  // namespace

class TestCliScore : public QObject {
    Q_OBJECT
private slots:
    void vqav2Text() {
        const auto official = expected("vqav2/expected_results.json");
        const auto run = score(QStringList{"--dataset", "vqav2", "--predictions", scoring("vqav2/results.json")} + kVqaFiles);
        QVERIFY2(run.exitCode == 0, qPrintable(run.err));
        const auto out = lines(run.out);
        for (const auto& line : official["printed"]) QVERIFY2(out.contains(QString::fromStdString(line.get<std::string>())), line.get<std::string>().c_str());
        QCOMPARE(out.first(), QString::fromStdString(official["printed"][0].get<std::string>()));
        QVERIFY(out.contains("Per Answer Type Accuracy is the following:"));
        // The fixture's duplicate and its "color" answer type are reported on stderr.
        QVERIFY(run.err.contains("a second prediction for this question"));
        QVERIFY(run.err.contains("unknown answer_type 'color'"));
    }

    void vqav2Json() {
        const auto official = expected("vqav2/expected_llava.json");
        const auto run = score(QStringList{"--dataset", "vqav2", "--predictions", scoring("vqav2/answers_llava.jsonl"), "--format", "json"} + kVqaFiles);
        QVERIFY2(run.exitCode == 0, qPrintable(run.err));
        const auto json = QJsonDocument::fromJson(run.out.toUtf8()).object();
        QCOMPARE(json["dataset"].toString(), QString("vqav2"));
        QCOMPARE(json["prediction_format"].toString(), QString("LLaVA answers"));
        QVERIFY(json["llava_submission_processing"].toBool());
        QCOMPARE(json["overall"].toDouble(), official["overall"].get<double>());
        const auto perAnswerType = json["per_answer_type"].toObject();
        for (const auto& [type, value] : official["perAnswerType"].items())
            QCOMPARE(perAnswerType[QString::fromStdString(type)].toObject()["accuracy"].toDouble(), value.get<double>());
        QCOMPARE(json["coverage"].toObject()["scored"].toInt(), 443);
        QCOMPARE(json["coverage"].toObject()["duplicate_predictions"].toInt(), 1);
    }

    void vqav2CsvAndPerQuestion() {
        const auto official = expected("vqav2/expected_results.json");
        QTemporaryDir dir;
        const QString perQuestion = dir.filePath("per_question.csv");
        const auto run = score(QStringList{"--dataset", "vqav2", "--predictions", scoring("vqav2/results.json"), "--format", "csv",
                                           "--per-question", perQuestion} + kVqaFiles);
        QVERIFY2(run.exitCode == 0, qPrintable(run.err));
        const auto out = lines(run.out);
        QCOMPARE(out[0], QString("dataset,metric,group,value,questions"));
        QCOMPARE(out[1], QString("vqav2,accuracy,overall,%1,443").arg(official["overall"].get<double>(), 0, 'f', 2));
        const QString yesNo = QString("vqav2,accuracy,answer_type=yes/no,%1,").arg(official["perAnswerType"]["yes/no"].get<double>(), 0, 'f', 2);
        QVERIFY2(std::any_of(out.begin(), out.end(), [&](const QString& line) { return line.startsWith(yesNo); }), qPrintable(run.out));
        QFile file(perQuestion);
        QVERIFY(file.open(QIODevice::ReadOnly));
        const QString text = QString::fromUtf8(file.readAll());
        QCOMPARE(lines(text)[0], QString("question_id,answer_type,question_type,prediction,compared_as,accuracy"));
        QCOMPARE(csvRecords(text), 1 + 443);
    }

    void textVqa() {
        const auto official = expected("textvqa/expected_llava.json");
        const auto run = score({"--dataset", "textvqa", "--predictions", scoring("textvqa/answers_llava.jsonl"), "--annotations",
                                scoring("textvqa/TextVQA_0.5.1_val.json")});
        QVERIFY2(run.exitCode == 0, qPrintable(run.err));
        QStringList printed;
        for (const auto& line : official["printed"]) printed << QString::fromStdString(line.get<std::string>());
        QCOMPARE(lines(run.out), printed);
    }

    void gqa() {
        const auto official = expected("gqa/expected.json");
        const auto run = score({"--dataset", "gqa", "--predictions", scoring("gqa/answers_llava.jsonl"), "--questions",
                                scoring("gqa/testdev_balanced_questions.json")});
        QVERIFY2(run.exitCode == 0, qPrintable(run.err));
        QStringList printed;
        for (const auto& line : official["printed"]) printed << QString::fromStdString(line.get<std::string>());
        QCOMPARE(lines(run.out).mid(0, 3), printed);
        QVERIFY(run.err.contains("no question with this id; not scored"));
    }

    void popeCategories() {
        const auto official = expected("pope/expected.json");
        const auto run = score({"--dataset", "pope", "--predictions", scoring("pope/answers_llava.jsonl"), "--annotations",
                                scoring("pope/coco"), "--questions", scoring("pope/llava_pope_test.jsonl")});
        QVERIFY2(run.exitCode == 0, qPrintable(run.err));
        for (const auto& [category, values] : official["categories"].items()) {
            const QString block = "Category: " + QString::fromStdString(category) + ", # samples: " + QString::number(values["samples"].get<int>()) +
                                  "\nTP\tFP\tTN\tFN\t\n" + QString("%1\t%2\t%3\t%4").arg(values["TP"].get<int>()).arg(values["FP"].get<int>())
                                      .arg(values["TN"].get<int>()).arg(values["FN"].get<int>()) +
                                  "\nAccuracy: " + QString::fromStdString(values["accuracyPrinted"].get<std::string>()) +
                                  "\nPrecision: " + QString::fromStdString(values["precisionPrinted"].get<std::string>()) +
                                  "\nRecall: " + QString::fromStdString(values["recallPrinted"].get<std::string>()) +
                                  "\nF1 score: " + QString::fromStdString(values["f1Printed"].get<std::string>()) +
                                  "\nYes ratio: " + QString::fromStdString(values["yesRatioPrinted"].get<std::string>()) +
                                  "\n" + QString::fromStdString(values["summaryLine"].get<std::string>()) + "\n";
            QVERIFY2(run.out.contains(block), qPrintable(block));
        }
    }

    void popeDivisionByZeroAsJson() {
        const auto run = score({"--dataset", "pope", "--predictions", scoring("pope/all_no/answers_llava.jsonl"), "--annotations",
                                scoring("pope/all_no/coco_pope_all_no.json"), "--format", "json"});
        QVERIFY2(run.exitCode == 0, qPrintable(run.err));
        const auto category = QJsonDocument::fromJson(run.out.toUtf8()).object()["categories"].toArray()[0].toObject();
        QVERIFY(category["precision"].isNull());
        QVERIFY(category["f1"].isNull());
        QCOMPARE(category["tp"].toInt(), 0);
        QCOMPARE(category["accuracy"].toDouble(), 0.5);
    }

    void nlvr2() {
        const auto official = expected("nlvr2/expected.json");
        const auto run = score({"--dataset", "nlvr2", "--predictions", scoring("nlvr2/predictions.csv"), "--annotations", scoring("nlvr2/dev.json")});
        QVERIFY2(run.exitCode == 0, qPrintable(run.err));
        QCOMPARE(lines(run.out), (QStringList{"accuracy=" + QString::fromStdString(official["accuracyPrinted"].get<std::string>()),
                                              "consistency=" + QString::fromStdString(official["consistencyPrinted"].get<std::string>())}));
    }

    void errors_data() {
        QTest::addColumn<QStringList>("args");
        QTest::addColumn<int>("exitCode");
        QTest::addColumn<QString>("expected");
        QTest::newRow("no dataset") << QStringList{"--predictions", "x"} << 2 << "--dataset is required";
        QTest::newRow("unknown dataset") << QStringList{"--dataset", "coco", "--predictions", "x"} << 2 << "--dataset must be vqav2, textvqa, gqa, pope or nlvr2, not 'coco'";
        QTest::newRow("bad format") << QStringList{"--dataset", "gqa", "--predictions", "x", "--format", "xml"} << 2 << "--format must be text, json or csv";
        QTest::newRow("vqav2 without annotations") << QStringList{"--dataset", "vqav2", "--predictions", scoring("vqav2/results.json")} << 2
                                                   << "--annotations is required for vqav2";
        QTest::newRow("pope folder without questions") << QStringList{"--dataset", "pope", "--predictions", scoring("pope/answers_llava.jsonl"),
                                                                      "--annotations", scoring("pope/coco")}
                                                       << 2 << "needs --questions";
        QTest::newRow("missing predictions") << QStringList{"--dataset", "nlvr2", "--predictions", "/nonexistent/p.csv", "--annotations", scoring("nlvr2/dev.json")}
                                             << 1 << "error: /nonexistent/p.csv: cannot open predictions file";
        QTest::newRow("annotations not JSON") << QStringList{"--dataset", "vqav2", "--predictions", scoring("vqav2/results.json"), "--annotations",
                                                             scoring("nlvr2/predictions.csv")}
                                              << 1 << "predictions.csv: not valid JSON (";
        QTest::newRow("nothing matches") << QStringList{"--dataset", "nlvr2", "--predictions", scoring("vqav2/results.json"), "--annotations", scoring("nlvr2/dev.json")}
                                         << 1 << "no prediction matches a question of the dataset";
    }
    void errors() {
        QFETCH(QStringList, args);
        QFETCH(int, exitCode);
        QFETCH(QString, expected);
        const auto run = score(args);
        QCOMPARE(run.exitCode, exitCode);
        QVERIFY2(run.err.contains(expected), qPrintable(run.err));
        QVERIFY(run.out.isEmpty());
    }
};

QTEST_GUILESS_MAIN(TestCliScore)
#include "tst_cli_score.moc"
