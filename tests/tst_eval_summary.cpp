// The counting of an evaluation (accuracy, per question type, agreement with the unreduced answers)
// on hand-made records whose counts are worked out below, and the sweep.csv schema: the header,
// round trips with quoted settings, and errors that name the file and the line.

#include <QTest>

#include <cmath>
#include <string>
#include <vector>

#include "common/error.h"
#include "tasks/eval/eval_summary.h"
#include "tasks/eval/sweep_table.h"

using namespace tokenscope;

namespace {

const std::vector<std::string> kTypes{"color", "count", "exist"};

EvalRecord record(int type, const char* answer, const char* predicted, const char* unreduced = nullptr) {
    EvalRecord r;
    r.type = type;
    r.answer = answer;
    r.predicted = predicted;
    if (unreduced) r.unreduced = std::string(unreduced);
    return r;
}

template <typename F>
QString errorOf(F&& f) {
    try {
        f();
    } catch (const Error& e) {
        return QString::fromStdString(e.what());
    }
    return {};
}

}  // namespace

class TestEvalSummary : public QObject {
    Q_OBJECT
private slots:
    void countsAccuracyPerTypeAndAgreement() {
        // color: 2 of 3 right; count: 1 of 2; exist: 1 of 1 -> 4 of 6.
        // Agreement: records 0..4 carry an unreduced answer; equal in 0, 2, 4 -> 3 of 5.
        const std::vector<EvalRecord> records{
            record(0, "red", "red", "red"),      // right, agrees
            record(0, "blue", "green", "blue"),  // wrong, disagrees
            record(0, "green", "green", "green"),  // right, agrees
            record(1, "3", "3", "2"),            // right, disagrees
            record(1, "4", "2", "2"),            // wrong, agrees
            record(2, "yes", "yes"),             // right, not compared
        };
        const auto s = summarizeEval(records, kTypes);
        QCOMPARE(s.examples, int64_t(6));
        QCOMPARE(s.correct, int64_t(4));
        QCOMPARE(s.accuracy, 4.0 / 6.0);
        QCOMPARE(s.compared, int64_t(5));
        QCOMPARE(s.agreeing, int64_t(3));
        QVERIFY(s.agreement.has_value());
        QCOMPARE(*s.agreement, 3.0 / 5.0);
        QCOMPARE(int(s.perType.size()), 3);
        QCOMPARE(QString::fromStdString(s.perType[0].name), QString("color"));
        QCOMPARE(s.perType[0].examples, int64_t(3));
        QCOMPARE(s.perType[0].correct, int64_t(2));
        QCOMPARE(s.perType[0].accuracy, 2.0 / 3.0);
        QCOMPARE(s.perType[1].examples, int64_t(2));
        QCOMPARE(s.perType[1].accuracy, 0.5);
        QCOMPARE(s.perType[2].examples, int64_t(1));
        QCOMPARE(s.perType[2].accuracy, 1.0);
    }

    void exactLabelsOnly() {
        // "Red" is not "red", "2 " is not "2": answers are labels, compared exactly.
        const auto s = summarizeEval({record(0, "red", "Red"), record(1, "2", "2 ")}, kTypes);
        QCOMPARE(s.correct, int64_t(0));
        QCOMPARE(s.accuracy, 0.0);
    }

    void emptyTypesAndNoComparison() {
        const auto s = summarizeEval({record(1, "2", "2")}, kTypes);
        QCOMPARE(s.perType[0].examples, int64_t(0));
        QCOMPARE(s.perType[0].accuracy, 0.0);
        QCOMPARE(s.perType[1].accuracy, 1.0);
        QVERIFY(!s.agreement.has_value());
        const auto none = summarizeEval({}, kTypes);
        QCOMPARE(none.examples, int64_t(0));
        QCOMPARE(none.accuracy, 0.0);
        QCOMPARE(int(none.perType.size()), 3);
    }

    void typeOutsideNamesIsAnError() {
        const QString message = errorOf([] { summarizeEval({record(0, "a", "a"), record(3, "b", "b")}, kTypes); });
        QVERIFY2(message.contains("record 1") && message.contains("type 3"), qPrintable(message));
        QVERIFY(!errorOf([] { summarizeEval({record(-1, "a", "a")}, kTypes); }).isEmpty());
    }

    void sweepCsvHeader() {
        const std::string text = sweepCsvText({});
        QCOMPARE(QString::fromStdString(text),
                 QString("method,settings,knob,accuracy,examples_per_s,speedup,agreement,image_tokens,examples,batch,seed\n"));
    }

    void sweepCsvRoundTrip() {
        SweepRow none;
        none.method = "none";
        none.settings = "none";
        none.accuracy = 0.9125;
        none.examplesPerSecond = 80.5;
        none.speedup = 1;
        none.agreement = 1;
        none.imageTokens = 145;
        none.examples = 400;
        none.batch = 32;
        none.seed = 3;
        SweepRow pumer = none;
        pumer.method = "pumer";
        pumer.settings = "pumer reference L2,5,8 p0.1 r0.3 t0.2";  // commas: quoted
        pumer.knob = "p0.1 r0.3 \"t\"0.2";                          // quotes: doubled
        pumer.accuracy = 0.9;
        pumer.examplesPerSecond = 120.75;
        pumer.speedup = 1.5;
        pumer.agreement = 0.955;
        pumer.imageTokens = 78.25;
        const std::string text = sweepCsvText({none, pumer});
        QVERIFY(text.find("\"pumer reference L2,5,8 p0.1 r0.3 t0.2\"") != std::string::npos);
        const auto rows = parseSweepCsv(text, "sweep.csv");
        QCOMPARE(int(rows.size()), 2);
        QCOMPARE(QString::fromStdString(rows[1].settings), QString::fromStdString(pumer.settings));
        QCOMPARE(QString::fromStdString(rows[1].knob), QString::fromStdString(pumer.knob));
        QCOMPARE(rows[1].accuracy, 0.9);
        QCOMPARE(rows[1].examplesPerSecond, 120.75);
        QCOMPARE(rows[1].speedup, 1.5);
        QCOMPARE(rows[1].agreement, 0.955);
        QCOMPARE(rows[1].imageTokens, 78.25);
        QCOMPARE(rows[1].examples, int64_t(400));
        QCOMPARE(rows[1].batch, 32);
        QCOMPARE(rows[1].seed, uint64_t(3));
        const auto methods = sweepMethods(rows);
        QCOMPARE(int(methods.size()), 2);
        QCOMPARE(QString::fromStdString(methods[0]), QString("none"));
    }

    void sweepCsvMinimalColumnsInAnyOrder() {
        // A hand-made table: columns in another order, CRLF, no speedup column -> relative to none.
        const auto rows = parseSweepCsv("examples_per_s,method,accuracy\r\n100,none,0.9\r\n150,tome,0.8\r\n", "mine.csv");
        QCOMPARE(int(rows.size()), 2);
        QCOMPARE(QString::fromStdString(rows[1].method), QString("tome"));
        QCOMPARE(rows[1].speedup, 1.5);
        QVERIFY(std::isnan(rows[1].agreement));
    }

    void sweepCsvErrors_data() {
        QTest::addColumn<QString>("text");
        QTest::addColumn<QString>("expected");
        QTest::newRow("empty") << "" << "mine.csv: empty";
        QTest::newRow("no accuracy") << "method,examples_per_s\nnone,3\n" << "mine.csv line 1: no 'accuracy' column";
        QTest::newRow("no rows") << "method,accuracy,examples_per_s\n" << "mine.csv: a header but no rows";
        QTest::newRow("bad number") << "method,accuracy,examples_per_s\nnone,0.5,fast\n" << "mine.csv line 2: examples_per_s is 'fast'";
        QTest::newRow("accuracy > 1") << "method,accuracy,examples_per_s\nnone,0.5,3\ntome,91,4\n" << "mine.csv line 3: accuracy 91 is outside 0..1";
        QTest::newRow("short row") << "method,accuracy,examples_per_s\nnone,0.5\n" << "mine.csv line 2: 2 fields, the header has 3";
        QTest::newRow("open quote") << "method,accuracy,examples_per_s\n\"none,0.5,3\n" << "mine.csv line 2: unterminated quote";
    }
    void sweepCsvErrors() {
        QFETCH(QString, text);
        QFETCH(QString, expected);
        const QString message = errorOf([&] { parseSweepCsv(text.toStdString(), "mine.csv"); });
        QVERIFY2(message.startsWith(expected), qPrintable(message));
    }

    void sweepCsvFileErrorsNameThePath() {
        const QString message = errorOf([] { readSweepCsv("/nonexistent/sweep.csv"); });
        QVERIFY2(message.contains("/nonexistent/sweep.csv"), qPrintable(message));
    }
};

QTEST_APPLESS_MAIN(TestEvalSummary)
#include "tst_eval_summary.moc"
