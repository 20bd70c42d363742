// ViLT preprocessing through core's torch path matches ViltImageProcessor: the default batch
// (bit-exact PIL resize, then the documented float formula) and the shortest_edge=128 batch.

#include <QImage>
#include <QTest>
#include <torch/torch.h>

#include "checkpoint/tensor_file.h"
#include "image/vilt_preprocess.h"
#include "support/png_image.h"
#include "support/tensor_compare.h"

using namespace tokenscope;
using tokenscope::test::allClose;
using tokenscope::test::dataPath;
using tokenscope::test::loadRgbImage;
using tokenscope::test::equal;

namespace {

std::vector<ImageU8> fixtureImages() {
    return {loadRgbImage(dataPath("images/photo.png")), loadRgbImage(dataPath("images/nonsquare.png"))};
}

}  // namespace

class TestPreprocess : public QObject {
    Q_OBJECT
private slots:
    void defaultBatch() {
        const auto expected = readTensorFile(dataPath("vilt/processor/default_u8.safetensors"));
        const auto batch = preprocessVilt(fixtureImages(), loadViltPreprocessConfig(dataPath("vilt/processor/preprocessor_config.json")));
        QCOMPARE(batch.pixelValues.sizes().vec(), (std::vector<int64_t>{2, 3, 480, 480}));
        for (int i = 0; i < 2; ++i) {
            const auto u8 = expected.at("resized_u8." + std::to_string(i));  // [3, h, w]
            const auto h = u8.size(1), w = u8.size(2);
            // The fixture's formula, written independently: float32(float32(f64(u8) / 255) - 0.5f) / 0.5f.
            const auto reference = ((u8.to(torch::kDouble) * (1.0 / 255.0)).to(torch::kFloat) - 0.5f) / 0.5f;
            const auto actual = batch.pixelValues[i].slice(1, 0, h).slice(2, 0, w);
            QVERIFY(allClose(actual, reference, 0.0, "pixel_values[" + std::to_string(i) + "] valid region"));
            auto padding = batch.pixelValues[i].clone();
            padding.slice(1, 0, h).slice(2, 0, w).zero_();
            QCOMPARE(padding.abs().max().item<float>(), 0.0f);  // zero padding bottom/right
            QCOMPARE(batch.pixelMask[i].sum().item<int64_t>(), h * w);
            QCOMPARE(batch.pixelMask[i].slice(0, 0, h).slice(1, 0, w).min().item<int64_t>(), int64_t(1));
        }
    }

    void shortestEdge128() {
        const auto expected = readTensorFile(dataPath("vilt/processor/small.safetensors"));
        ViltPreprocessConfig config;
        config.shortestEdge = 128;
        const auto batch = preprocessVilt(fixtureImages(), config);
        QVERIFY(allClose(batch.pixelValues, expected.at("pixel_values"), 1e-6, "pixel_values"));
        QVERIFY(equal(batch.pixelMask, expected.at("pixel_mask"), "pixel_mask"));
    }

    void rejectsNonRgb() {
        ImageU8 grey{4, 4, 1, std::vector<uint8_t>(16, 0)};
        try {
            preprocessVilt({grey}, {});
            QFAIL("no error");
        } catch (const std::exception& e) {
            QVERIFY(QString(e.what()).contains("RGB"));
        }
    }
};

QTEST_APPLESS_MAIN(TestPreprocess)
#include "tst_preprocess.moc"
