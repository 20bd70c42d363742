// The trade-off figure: its size, that it is drawn (not blank), that every method's series shows in
// its own colour (and a method that is absent does not), and the errors for nothing to draw.

#include <QImage>
#include <QTest>

#include <map>
#include <string>
#include <vector>

#include "common/error.h"
#include "tasks/eval/sweep_table.h"
#include "viz/sweep_chart.h"

using namespace tokenscope;

namespace {

SweepRow row(const std::string& method, double accuracy, double examplesPerSecond, const std::string& knob = {}) {
    SweepRow r;
    r.method = method;
    r.settings = method + " " + knob;
    r.knob = knob;
    r.accuracy = accuracy;
    r.examplesPerSecond = examplesPerSecond;
    return r;
}

// A sweep shaped like the paper's: faster configurations lose accuracy, some more than others.
std::vector<SweepRow> paperLikeSweep() {
    std::vector<SweepRow> rows{row("none", 0.93, 100)};
    for (int i = 1; i <= 4; ++i) rows.push_back(row("pumer", 0.93 - 0.01 * i, 100 + 20 * i, "p" + std::to_string(i)));
    for (int i = 1; i <= 4; ++i) rows.push_back(row("tome", 0.92 - 0.03 * i, 105 + 25 * i, "r " + std::to_string(2 * i)));
    for (const char* method : {"random", "uniform", "smres"}) {
        const double drop = std::string(method) == "random" ? 0.08 : std::string(method) == "uniform" ? 0.06 : 0.04;
        for (int keep = 9; keep >= 4; --keep)
            rows.push_back(row(method, 0.93 - drop * (9 - keep), 100 * 9.0 / keep, "keep 0." + std::to_string(keep)));
    }
    return rows;
}

int countColor(const QImage& image, const QColor& color) {
    int count = 0;
    const QRgb wanted = color.rgb();
    for (int y = 0; y < image.height(); ++y)
        for (int x = 0; x < image.width(); ++x) count += image.pixel(x, y) == wanted;
    return count;
}

int countNonWhite(const QImage& image) {
    return image.width() * image.height() - countColor(image, Qt::white);
}

}  // namespace

class TestSweepChart : public QObject {
    Q_OBJECT
private slots:
    void sizeAndEverySeriesInItsColour() {
        SweepChartOptions options;
        options.widthPx = 1000;
        options.heightPx = 700;
        options.title = "test sweep";
        const QImage image = renderSweepChart(paperLikeSweep(), options);
        QCOMPARE(image.size(), QSize(1000, 700));
        // Not blank: axes, grid, text and series cover a good part of it.
        QVERIFY2(countNonWhite(image) > 1000 * 700 / 50, qPrintable(QString::number(countNonWhite(image))));
        for (const char* method : {"none", "pumer", "tome", "random", "uniform", "smres"}) {
            const int pixels = countColor(image, sweepMethodColor(method));
            QVERIFY2(pixels >= 40, qPrintable(QString("%1: %2 pixels of its colour").arg(method).arg(pixels)));
        }
    }

    void distinctColoursAndLabels() {
        std::map<QRgb, std::string> seen;
        for (const char* method : {"none", "pumer", "tome", "random", "uniform", "smres"}) {
            const QRgb color = sweepMethodColor(method).rgb();
            QVERIFY2(!seen.count(color), method);
            seen[color] = method;
        }
        QCOMPARE(sweepMethodLabel("pumer"), QString("PuMer"));
        QCOMPARE(sweepMethodLabel("none"), QString("unreduced"));
    }

    void absentMethodsLeaveNoColour() {
        const std::vector<SweepRow> rows{row("none", 0.9, 50), row("pumer", 0.88, 60, "a"), row("pumer", 0.85, 75, "b")};
        const QImage image = renderSweepChart(rows);
        QCOMPARE(image.size(), QSize(1200, 800));
        QVERIFY(countColor(image, sweepMethodColor("pumer")) >= 40);
        QCOMPARE(countColor(image, sweepMethodColor("tome")), 0);
        QCOMPARE(countColor(image, sweepMethodColor("smres")), 0);
    }

    void singlePointAndEqualValuesStillDraw() {
        // One row: the axis ranges have no extent and must still give a picture.
        const QImage image = renderSweepChart({row("none", 1.0, 10)});
        QVERIFY(countColor(image, sweepMethodColor("none")) >= 40);
    }

    void errors() {
        QVERIFY_THROWS_EXCEPTION(Error, renderSweepChart({}));
        SweepChartOptions tiny;
        tiny.widthPx = 100;
        QVERIFY_THROWS_EXCEPTION(Error, renderSweepChart(paperLikeSweep(), tiny));
    }
};

QTEST_MAIN(TestSweepChart)
#include "tst_sweep_chart.moc"
