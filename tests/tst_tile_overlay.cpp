// viz/tile_overlay: the LLaVA-NeXT tile board drawn from the trace of a hand-made visual-token
// record (core/engine/visual_selection.h): token states at the last and at an earlier layer, the
// layout (full image left, tiles in their grid right), cell shading and heatmaps, budget bars, and
// the errors for records and traces that cannot be drawn.

#include <QTest>

#include <cmath>

#include "common/error.h"
#include "engine/visual_selection.h"
#include "viz/colormap.h"
#include "viz/overlay.h"
#include "viz/tile_overlay.h"

using namespace tokenscope;

namespace {

constexpr int kWidth = 100, kHeight = 80, kGrid = 2;  // 2×2 tokens per partition

ImageU8 flatImage(uint8_t value)
{
    ImageU8 image;
    image.width = kWidth;
    image.height = kHeight;
    image.channels = 3;
    image.pixels.assign(size_t(kWidth) * kHeight * 3, value);
    return image;
}

// The full image and a 2×2 grid of 50 px tiles (the bottom row reaches 20 px past the image).
VisualSelection makeRecord()
{
    VisualSelection record;
    record.imageWidth = kWidth;
    record.imageHeight = kHeight;
    record.gridRows = 2;
    record.gridColumns = 2;
    record.patchGrid = kGrid;
    record.tileSize = 50;
    record.reduced = true;
    PartitionSelection full;
    full.isFullImage = true;
    full.width = kWidth;
    full.height = kHeight;
    full.budget = 2;
    full.selected = {0, 3};
    full.kept = {0, 3};
    full.clsAttentionInitial = {1, 2, 3, 4};
    full.clsAttentionFinal = {4, 3, 2, 1};
    record.partitions.push_back(full);
    for (int row = 0; row < 2; ++row)
        for (int column = 0; column < 2; ++column) {
            PartitionSelection tile;
            tile.row = row;
            tile.column = column;
            tile.x = 50.0 * column;
            tile.y = 50.0 * row;
            tile.width = tile.height = 50;
            tile.budget = 1;
            tile.selected = {row == 1 ? 2 : 1};
            tile.kept = row == 1 ? std::vector<int>{} : std::vector<int>{1};  // row 1's token lies in the padding
            tile.clsAttentionInitial = {0.1f, 0.2f, 0.3f, 0.4f};
            tile.clsAttentionFinal = {0.4f, 0.1f, 0.2f, 0.3f};
            record.partitions.push_back(tile);
        }
    record.budget.deliveredTokens = 4;
    record.budget.selectedTokens = 6;
    record.budget.unreducedTokens = 20;
    record.budget.total = 6;
    return record;
}

QPoint cellCentre(const QRect& panel, int token)
{
    const int row = token / kGrid, column = token % kGrid;
    return QPoint(panel.x() + panel.width() * (2 * column + 1) / (2 * kGrid), panel.y() + panel.height() * (2 * row + 1) / (2 * kGrid));
}

// The mean grey level of the 9×9 pixels around a point.
double meanGrey(const QImage& picture, QPoint centre)
{
    double sum = 0;
    for (int dy = -4; dy <= 4; ++dy)
        for (int dx = -4; dx <= 4; ++dx)
            sum += qGray(picture.pixel(centre + QPoint(dx, dy)));
    return sum / 81;
}

bool isNear(QRgb actual, const QColor& expected, int tolerance)
{
    return std::abs(qRed(actual) - expected.red()) <= tolerance && std::abs(qGreen(actual) - expected.green()) <= tolerance &&
           std::abs(qBlue(actual) - expected.blue()) <= tolerance;
}

}  // namespace

class TestTileOverlay : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void tokenStates()
    {
        VisualSelection record = makeRecord();
        record.partitions.resize(1);
        record.partitions[0].selected = {1, 2, 3};
        record.partitions[0].kept = {1, 3};
        const Trace trace = visualSelectionTrace(record);
        const std::vector<VisualTokenState> states = regionTokenStates(trace, 0, -1);
        QCOMPARE(states.size(), size_t(4));
        QCOMPARE(states[0], VisualTokenState::Dropped);
        QCOMPARE(states[1], VisualTokenState::Kept);
        QCOMPARE(states[2], VisualTokenState::RemovedWithPadding);
        QCOMPARE(states[3], VisualTokenState::Kept);
        // At the selection layer the padding token is still there; before it, every token is.
        const int select = trace.find(Stage::Projector, 0, "select");
        QVERIFY(select > 0);
        QCOMPARE(regionTokenStates(trace, 0, select)[2], VisualTokenState::Kept);
        QCOMPARE(regionTokenStates(trace, 0, select)[0], VisualTokenState::Dropped);
        QCOMPARE(regionTokenStates(trace, 0, select - 1)[0], VisualTokenState::Kept);
        const Trace full = visualSelectionTrace(makeRecord());
        QCOMPARE(regionName(full.image.regions[0]), QStringLiteral("full image"));
        QCOMPARE(regionName(full.image.regions[2]), QStringLiteral("tile 0,1"));
    }

    void layoutFollowsTheGrid()
    {
        const Trace record = visualSelectionTrace(makeRecord());
        TileBoardStyle style;
        style.widthPx = 900;
        const TileBoard board = renderTileBoard(flatImage(128), record, style);
        QVERIFY(board.picture.width() <= 900 && board.picture.width() > 880);  // the width binds here
        QCOMPARE(board.partitionRects.size(), record.image.regions.size());
        QCOMPARE(board.budgetBarRects.size(), record.image.regions.size());
        const QRect full = board.partitionRects[0];
        QVERIFY(std::abs(double(full.height()) / full.width() - double(kHeight) / kWidth) < 0.02);
        const QRect t00 = board.partitionRects[1], t01 = board.partitionRects[2], t10 = board.partitionRects[3], t11 = board.partitionRects[4];
        QVERIFY(full.right() < t00.left());
        QCOMPARE(t00.top(), t01.top());
        QVERIFY(t00.right() < t01.left());
        QCOMPARE(t00.left(), t10.left());
        QVERIFY(board.budgetBarRects[1].bottom() < t10.top());  // captions between tile rows
        QCOMPARE(t10.top(), t11.top());
        QCOMPARE(t00.width(), t00.height());
        for (const QRect& rect : board.partitionRects)
            QVERIFY(board.picture.rect().contains(rect));
        QVERIFY(t11.right() > 800);  // the columns use the width
        // One scale for all: a 50 px tile is half as wide as the 100 px image.
        QVERIFY(std::abs(t00.width() * 2 - full.width()) <= 2);

        // A height limit shrinks the whole layout.
        style.maxHeightPx = 300;
        const TileBoard short_ = renderTileBoard(flatImage(128), record, style);
        QVERIFY(short_.picture.height() <= 300);
        QVERIFY(short_.picture.width() < 700);
        QVERIFY(std::abs(short_.partitionRects[1].width() * 2 - short_.partitionRects[0].width()) <= 2);
    }

    void cellsShowTheirState()
    {
        const Trace record = visualSelectionTrace(makeRecord());
        TileBoardStyle style;
        style.widthPx = 900;
        style.showTileOutlines = false;
        const ImageU8 image = flatImage(200);
        const TileBoard board = renderTileBoard(image, record, style);
        const QImage& picture = board.picture;
        const QColor grey(200, 200, 200);
        // Full image: tokens 0 and 3 kept (the image), 1 and 2 dropped (dimmed towards kPrunedColor).
        QVERIFY(isNear(picture.pixel(cellCentre(board.partitionRects[0], 0)), grey, 2));
        QVERIFY(isNear(picture.pixel(cellCentre(board.partitionRects[0], 3)), grey, 2));
        // Dimmed towards kPrunedColor (200 · 0.28 + 18 · 0.72 = 69) under sparse light hatching.
        const double dropped = meanGrey(picture, cellCentre(board.partitionRects[0], 1));
        QVERIFY2(dropped > 60 && dropped < 100, qPrintable(QString::number(dropped)));
        // Tile 1,0: its token 2 was selected but lies in the padding.
        const double removed = meanGrey(picture, cellCentre(board.partitionRects[3], 2));
        QVERIFY2(removed < 160 && std::abs(removed - dropped) > 10, qPrintable(QString::number(removed)));
        // The budget bar: dark for the kept share, light up to the budget, background beyond.
        const QRect bar = board.budgetBarRects[1];  // tile 0,0: budget 1, kept 1 of 4
        QVERIFY(isNear(picture.pixel(bar.x() + bar.width() / 8, bar.center().y()), kKeptBarColor, 2));
        QVERIFY(isNear(picture.pixel(bar.x() + bar.width() * 3 / 4, bar.center().y()), QColor(232, 232, 236), 2));
        const QRect fullBar = board.budgetBarRects[0];  // budget 2 of 4, kept 2
        QVERIFY(isNear(picture.pixel(fullBar.x() + fullBar.width() / 4, fullBar.center().y()), kKeptBarColor, 2));
        QVERIFY(isNear(picture.pixel(fullBar.x() + fullBar.width() * 3 / 4, fullBar.center().y()), QColor(232, 232, 236), 2));
    }

    void heatmapsFollowTheAttention()
    {
        const Trace record = visualSelectionTrace(makeRecord());
        TileBoardStyle style;
        style.widthPx = 900;
        style.showTileOutlines = false;
        const QColor grey(200, 200, 200);
        const auto blended = [&](double t) {
            const QColor top = colormapColor(t);
            const double a = std::round(style.heatmapAlpha * 255) / 255;
            return QColor(int(std::lround(grey.red() * (1 - a) + top.red() * a)), int(std::lround(grey.green() * (1 - a) + top.green() * a)),
                          int(std::lround(grey.blue() * (1 - a) + top.blue() * a)));
        };
        style.shading = TileShading::AttentionInitial;
        TileBoard board = renderTileBoard(flatImage(200), record, style);
        QVERIFY(isNear(board.picture.pixel(cellCentre(board.partitionRects[0], 3)), blended(1), 3));  // highest at layer 0
        QVERIFY(isNear(board.picture.pixel(cellCentre(board.partitionRects[0], 1) + QPoint(3, 0)), blended(1.0 / 3), 3));
        style.shading = TileShading::AttentionFinal;
        board = renderTileBoard(flatImage(200), record, style);
        QVERIFY(isNear(board.picture.pixel(cellCentre(board.partitionRects[0], 0)), blended(1), 3));  // highest at the feature layer
        QVERIFY(isNear(board.picture.pixel(cellCentre(board.partitionRects[0], 2) + QPoint(3, 0)), blended(1.0 / 3), 3));
        QVERIFY(!renderTileLegend(style, 600).isNull());
    }

    void badRecordsAreErrors_data()
    {
        QTest::addColumn<int>("defect");
        QTest::newRow("kept index out of range") << 0;
        QTest::newRow("attention map of the wrong length") << 1;
        QTest::newRow("no partitions") << 2;
        QTest::newRow("tile outside the grid") << 3;
        QTest::newRow("image of another size") << 4;
        QTest::newRow("no patch grid") << 5;
        QTest::newRow("trace owners of the wrong length") << 6;
        QTest::newRow("trace layer out of range") << 7;
    }
    void badRecordsAreErrors()
    {
        QFETCH(int, defect);
        VisualSelection record = makeRecord();
        ImageU8 image = flatImage(128);
        TileBoardStyle style;
        switch (defect) {
        case 0: record.partitions[1].kept = {4}; break;
        case 1: record.partitions[2].clsAttentionFinal.pop_back(); break;
        case 2: record.partitions.clear(); break;
        case 3: record.partitions[4].row = 2; break;
        case 4: image.width = 99; image.pixels.resize(size_t(99) * kHeight * 3); break;
        case 5: record.patchGrid = 0; break;
        case 7: style.layer = 99; break;
        }
        QVERIFY_THROWS_EXCEPTION(Error, [&] {
            Trace trace = visualSelectionTrace(record);
            if (defect == 6)
                trace.layers.back().image.owner.pop_back();
            renderTileBoard(image, trace, style);
        }());
    }
};

QTEST_MAIN(TestTileOverlay)
#include "tst_tile_overlay.moc"
