// Parity of the Pillow-compatible resampler and ViLT's resize rule with the reference fixtures in
// tests/data/vilt/processor (transformers ViltImageProcessor on Pillow 9.4, see
// shared/fixtures/vilt/README.md "Image processor").

#include "image/pil_resample.h"

#include "common/error.h"
#include "support/safetensors_lite.h"

#include <QCryptographicHash>
#include <QImage>
#include <QtTest>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

using tokenscope::Error;
using tokenscope::ImageU8;
using tokenscope::ResampleFilter;
using tokenscope::resizePil;
using tokenscope::viltResizeSize;
using tokenscope::testsupport::SafetensorsLite;

namespace {

const QString kDataDir = QStringLiteral(TOKENSCOPE_TEST_DATA);
const char* const kImageNames[] = {"photo.png", "nonsquare.png"};

std::string processorFixture(const char* name) {
    return (kDataDir + QStringLiteral("/vilt/processor/") + QString::fromLatin1(name)).toStdString();
}

// Decodes a PNG from tests/data/images into interleaved RGB8 (like PIL's .convert("RGB")).
ImageU8 loadRgb(const char* name) {
    const QString path = kDataDir + QStringLiteral("/images/") + QString::fromLatin1(name);
    const QImage decoded(path);
    if (decoded.isNull()) {
        throw Error(path.toStdString() + ": missing or not decodable");
    }
    const QImage rgb = decoded.convertToFormat(QImage::Format_RGB888);
    ImageU8 image;
    image.width = rgb.width();
    image.height = rgb.height();
    image.channels = 3;
    const std::size_t rowBytes = static_cast<std::size_t>(image.width) * 3;
    image.pixels.resize(rowBytes * static_cast<std::size_t>(image.height));
    for (int y = 0; y < image.height; ++y) {
        // Scan lines are padded to 4 bytes; copy only the pixels.
        std::memcpy(image.pixels.data() + static_cast<std::size_t>(y) * rowBytes, rgb.constScanLine(y), rowBytes);
    }
    return image;
}

// The README's bit-exact rescale + normalise: float32(float32(float64(u8) * (1/255)) - 0.5f) / 0.5f.
float normalizeVilt(uint8_t value) {
    const float scaled = static_cast<float>(static_cast<double>(value) * (1.0 / 255.0));
    return (scaled - 0.5f) / 0.5f;
}

// The processor's batch: [B, 3, H, W] float32, each image normalised at the top-left, zero
// elsewhere; pixel_mask [B, H, W] with 1 on the image.
struct Batch {
    int paddedHeight = 0;
    int paddedWidth = 0;
    std::vector<float> pixelValues;
    std::vector<uint8_t> pixelMask;
};

Batch buildBatch(const std::vector<ImageU8>& images) {
    Batch batch;
    for (const ImageU8& image : images) {
        batch.paddedHeight = std::max(batch.paddedHeight, image.height);
        batch.paddedWidth = std::max(batch.paddedWidth, image.width);
    }
    const std::size_t plane = static_cast<std::size_t>(batch.paddedHeight) * batch.paddedWidth;
    batch.pixelValues.assign(images.size() * 3 * plane, 0.0f);
    batch.pixelMask.assign(images.size() * plane, 0);
    for (std::size_t b = 0; b < images.size(); ++b) {
        const ImageU8& image = images[b];
        for (int y = 0; y < image.height; ++y) {
            for (int x = 0; x < image.width; ++x) {
                const std::size_t at = static_cast<std::size_t>(y) * batch.paddedWidth + x;
                batch.pixelMask[b * plane + at] = 1;
                for (int c = 0; c < 3; ++c) {
                    const uint8_t value = image.pixels[(static_cast<std::size_t>(y) * image.width + x) * 3 + c];
                    batch.pixelValues[(b * 3 + c) * plane + at] = normalizeVilt(value);
                }
            }
        }
    }
    return batch;
}

// what() of the Error `call` throws; empty when it throws nothing.
std::string errorOf(const std::function<void()>& call) {
    try {
        call();
    } catch (const Error& e) {
        return e.what();
    }
    return {};
}

ImageU8 patternImage(int width, int height, int channels, uint32_t seed) {
    ImageU8 image;
    image.width = width;
    image.height = height;
    image.channels = channels;
    image.pixels.resize(static_cast<std::size_t>(width) * height * channels);
    uint32_t state = seed;
    for (uint8_t& value : image.pixels) {
        state = state * 1664525u + 1013904223u;  // LCG: deterministic, full 0..255 range incl. edges
        value = static_cast<uint8_t>(state >> 24);
    }
    return image;
}

const ResampleFilter kAllFilters[] = {ResampleFilter::Box, ResampleFilter::Bilinear, ResampleFilter::Hamming,
                                      ResampleFilter::Bicubic, ResampleFilter::Lanczos};

}  // namespace

class TestPilResample : public QObject {
    Q_OBJECT

private slots:
    void viltResizeSizeExamples_data();
    void viltResizeSizeExamples();
    void viltResizeSizeMatchesFixture();
    void resizeMatchesPillow_data();
    void resizeMatchesPillow();
    void defaultPixelValuesHash();
    void smallPipelineMatchesProcessor();
    void sameSizeIsCopy();
    void constantImageStaysConstant();
    void channelsResampleIndependently();
    void singlePassMatchesRowwise();
    void downscaleByTwoMatchesClosedForm();
    void argumentErrors();
};

void TestPilResample::viltResizeSizeExamples_data() {
    QTest::addColumn<int>("height");
    QTest::addColumn<int>("width");
    QTest::addColumn<int>("shortestEdge");
    QTest::addColumn<int>("expectedHeight");
    QTest::addColumn<int>("expectedWidth");
    // ViLT's sizes (transformers models/vilt/image_processing_vilt.py): shorter side 384, longer cap 639, floor to 32
    QTest::newRow("480x640") << 480 << 640 << 384 << 384 << 512;
    QTest::newRow("500x500") << 500 << 500 << 384 << 384 << 384;
    QTest::newRow("384x638") << 384 << 638 << 384 << 384 << 608;
    QTest::newRow("384x640") << 384 << 640 << 384 << 352 << 608;
    QTest::newRow("1080x1920") << 1080 << 1920 << 384 << 352 << 608;
    QTest::newRow("300x1200") << 300 << 1200 << 384 << 160 << 608;
    // The fixture images under the default and the small setting.
    QTest::newRow("photo default") << 64 << 80 << 384 << 384 << 480;
    QTest::newRow("nonsquare default") << 70 << 56 << 384 << 480 << 384;
    QTest::newRow("photo small") << 64 << 80 << 128 << 128 << 160;
    QTest::newRow("nonsquare small") << 70 << 56 << 128 << 160 << 128;
    // Portrait mirror of the capped case.
    QTest::newRow("1920x1080") << 1920 << 1080 << 384 << 608 << 352;
}

void TestPilResample::viltResizeSizeExamples() {
    QFETCH(int, height);
    QFETCH(int, width);
    QFETCH(int, shortestEdge);
    QFETCH(int, expectedHeight);
    QFETCH(int, expectedWidth);
    const auto [outHeight, outWidth] = viltResizeSize(height, width, shortestEdge);
    QCOMPARE(outHeight, expectedHeight);
    QCOMPARE(outWidth, expectedWidth);
}

void TestPilResample::viltResizeSizeMatchesFixture() {
    try {
        const SafetensorsLite fixture = SafetensorsLite::load(processorFixture("default_u8.safetensors"));
        const std::vector<int64_t> validHw = fixture.values<int64_t>("valid_hw", "I64");
        const std::vector<int64_t> paddedHw = fixture.values<int64_t>("padded_hw", "I64");
        QCOMPARE(validHw.size(), std::size_t(4));
        QCOMPARE(paddedHw.size(), std::size_t(2));
        int paddedHeight = 0;
        int paddedWidth = 0;
        for (int i = 0; i < 2; ++i) {
            const ImageU8 image = loadRgb(kImageNames[i]);
            const auto [height, width] = viltResizeSize(image.height, image.width);
            QCOMPARE(int64_t(height), validHw[static_cast<std::size_t>(i) * 2]);
            QCOMPARE(int64_t(width), validHw[static_cast<std::size_t>(i) * 2 + 1]);
            paddedHeight = std::max(paddedHeight, height);
            paddedWidth = std::max(paddedWidth, width);
        }
        QCOMPARE(int64_t(paddedHeight), paddedHw[0]);
        QCOMPARE(int64_t(paddedWidth), paddedHw[1]);
    } catch (const std::exception& e) {
        QFAIL(e.what());
    }
}

void TestPilResample::resizeMatchesPillow_data() {
    QTest::addColumn<int>("index");
    QTest::addColumn<int>("sourceHeight");
    QTest::addColumn<int>("sourceWidth");
    QTest::newRow("photo.png") << 0 << 64 << 80;
    QTest::newRow("nonsquare.png") << 1 << 70 << 56;
}

void TestPilResample::resizeMatchesPillow() {
    QFETCH(int, index);
    QFETCH(int, sourceHeight);
    QFETCH(int, sourceWidth);
    try {
        const SafetensorsLite fixture = SafetensorsLite::load(processorFixture("default_u8.safetensors"));
        const std::string name = "resized_u8." + std::to_string(index);
        const auto& expected = fixture.tensor(name);
        QCOMPARE(expected.dtype, std::string("U8"));

        const ImageU8 image = loadRgb(kImageNames[index]);
        QCOMPARE(image.height, sourceHeight);
        QCOMPARE(image.width, sourceWidth);
        const auto [height, width] = viltResizeSize(image.height, image.width);
        QCOMPARE(expected.shape, (std::vector<int64_t>{3, height, width}));

        const ImageU8 resized = resizePil(image, width, height, ResampleFilter::Bicubic);
        QCOMPARE(resized.width, width);
        QCOMPARE(resized.height, height);
        QCOMPARE(resized.channels, 3);
        QCOMPARE(resized.pixels.size(), expected.bytes.size());

        // Fixture is CHW, ImageU8 is HWC.
        int mismatches = 0;
        QString first;
        for (int c = 0; c < 3; ++c) {
            for (int y = 0; y < height; ++y) {
                for (int x = 0; x < width; ++x) {
                    const uint8_t want = expected.bytes[(static_cast<std::size_t>(c) * height + y) * width + x];
                    const uint8_t got = resized.pixels[(static_cast<std::size_t>(y) * width + x) * 3 + c];
                    if (want != got && mismatches++ == 0) {
                        first = QStringLiteral("first at c=%1 y=%2 x=%3: got %4, Pillow %5")
                                    .arg(c).arg(y).arg(x).arg(got).arg(want);
                    }
                }
            }
        }
        QVERIFY2(mismatches == 0, qPrintable(QStringLiteral("%1 bytes differ; %2").arg(mismatches).arg(first)));
    } catch (const std::exception& e) {
        QFAIL(e.what());
    }
}

// End to end on the default setting: the fixture records the sha256 of the processor's full
// float32 pixel_values [2, 3, 480, 480].
void TestPilResample::defaultPixelValuesHash() {
    try {
        const SafetensorsLite fixture = SafetensorsLite::load(processorFixture("default_u8.safetensors"));
        const auto metadata = fixture.metadata().find("pixel_values_f32_sha256");
        QVERIFY2(metadata != fixture.metadata().end(), "fixture metadata lacks pixel_values_f32_sha256");

        std::vector<ImageU8> resized;
        for (const char* name : kImageNames) {
            const ImageU8 image = loadRgb(name);
            const auto [height, width] = viltResizeSize(image.height, image.width);
            resized.push_back(resizePil(image, width, height));
        }
        const Batch batch = buildBatch(resized);
        QCOMPARE(batch.paddedHeight, 480);
        QCOMPARE(batch.paddedWidth, 480);
        static_assert(sizeof(float) == 4, "float32 expected");
        const QByteArray bytes(reinterpret_cast<const char*>(batch.pixelValues.data()),
                               static_cast<qsizetype>(batch.pixelValues.size() * sizeof(float)));
        const QByteArray hash = QCryptographicHash::hash(bytes, QCryptographicHash::Sha256).toHex();
        QCOMPARE(hash.toStdString(), metadata->second);
    } catch (const std::exception& e) {
        QFAIL(e.what());
    }
}

void TestPilResample::smallPipelineMatchesProcessor() {
    try {
        const SafetensorsLite fixture = SafetensorsLite::load(processorFixture("small.safetensors"));
        const auto& expectedValues = fixture.tensor("pixel_values");
        const auto& expectedMask = fixture.tensor("pixel_mask");
        QCOMPARE(expectedValues.dtype, std::string("F32"));
        QCOMPARE(expectedMask.dtype, std::string("U8"));

        std::vector<ImageU8> resized;
        for (const char* name : kImageNames) {
            const ImageU8 image = loadRgb(name);
            const auto [height, width] = viltResizeSize(image.height, image.width, 128, 32);
            resized.push_back(resizePil(image, width, height));
        }
        const Batch batch = buildBatch(resized);
        QCOMPARE(expectedValues.shape,
                 (std::vector<int64_t>{2, 3, batch.paddedHeight, batch.paddedWidth}));
        QCOMPARE(expectedMask.shape, (std::vector<int64_t>{2, batch.paddedHeight, batch.paddedWidth}));

        const std::vector<float> want = fixture.values<float>("pixel_values", "F32");
        QCOMPARE(want.size(), batch.pixelValues.size());
        double maxError = 0.0;
        std::size_t worst = 0;
        for (std::size_t i = 0; i < want.size(); ++i) {
            const double error = std::fabs(static_cast<double>(want[i]) - batch.pixelValues[i]);
            if (error > maxError) {
                maxError = error;
                worst = i;
            }
        }
        QVERIFY2(maxError <= 1e-6, qPrintable(QStringLiteral("max |diff| %1 at flat index %2").arg(maxError).arg(worst)));
        QVERIFY2(expectedMask.bytes == batch.pixelMask, "pixel_mask differs");
    } catch (const std::exception& e) {
        QFAIL(e.what());
    }
}

void TestPilResample::sameSizeIsCopy() {
    const ImageU8 image = patternImage(13, 7, 3, 1);
    for (ResampleFilter filter : kAllFilters) {
        const ImageU8 same = resizePil(image, 13, 7, filter);
        QCOMPARE(same.width, 13);
        QCOMPARE(same.height, 7);
        QVERIFY(same.pixels == image.pixels);
    }
}

// Normalised weights sum to 1 in 22-bit fixed point, so a flat image must come back flat for every
// filter, direction and scale (catches window/bounds mistakes at the borders).
void TestPilResample::constantImageStaysConstant() {
    const int sizes[][2] = {{1, 1}, {3, 2}, {17, 40}, {64, 64}, {200, 9}, {517, 333}};
    for (int value : {0, 1, 128, 254, 255}) {
        ImageU8 image;
        image.width = 97;
        image.height = 61;
        image.channels = 3;
        image.pixels.assign(97 * 61 * 3, static_cast<uint8_t>(value));
        for (ResampleFilter filter : kAllFilters) {
            for (const auto& size : sizes) {
                const ImageU8 out = resizePil(image, size[0], size[1], filter);
                QCOMPARE(out.pixels.size(), static_cast<std::size_t>(size[0]) * size[1] * 3);
                const bool flat = std::all_of(out.pixels.begin(), out.pixels.end(),
                                              [value](uint8_t v) { return v == value; });
                QVERIFY2(flat, qPrintable(QStringLiteral("value %1, filter %2, to %3x%4")
                                              .arg(value).arg(int(filter)).arg(size[0]).arg(size[1])));
            }
        }
    }
}

// Resampling an interleaved image equals resampling each channel as a 1-channel image, for every
// channel count (the horizontal pass has a specialisation per count).
void TestPilResample::channelsResampleIndependently() {
    for (int channels = 1; channels <= 4; ++channels) {
        const ImageU8 image = patternImage(45, 38, channels, 7u + channels);
        for (ResampleFilter filter : kAllFilters) {
            const ImageU8 out = resizePil(image, 29, 71, filter);
            QCOMPARE(out.channels, channels);
            for (int c = 0; c < channels; ++c) {
                ImageU8 plane;
                plane.width = image.width;
                plane.height = image.height;
                plane.channels = 1;
                for (std::size_t i = c; i < image.pixels.size(); i += channels) {
                    plane.pixels.push_back(image.pixels[i]);
                }
                const ImageU8 planeOut = resizePil(plane, 29, 71, filter);
                for (std::size_t i = 0; i < planeOut.pixels.size(); ++i) {
                    QCOMPARE(out.pixels[i * channels + c], planeOut.pixels[i]);
                }
            }
        }
    }
}

// A width-only resize touches each row on its own, and a height-only resize each column, so both
// must agree with resizing single rows / columns.
void TestPilResample::singlePassMatchesRowwise() {
    const ImageU8 image = patternImage(50, 20, 3, 99);
    const ImageU8 wide = resizePil(image, 123, 20);
    const ImageU8 tall = resizePil(image, 50, 9);
    for (int y = 0; y < image.height; ++y) {
        ImageU8 row;
        row.width = image.width;
        row.height = 1;
        row.channels = 3;
        row.pixels.assign(image.pixels.begin() + y * 150, image.pixels.begin() + (y + 1) * 150);
        const ImageU8 rowOut = resizePil(row, 123, 1);
        QVERIFY(std::equal(rowOut.pixels.begin(), rowOut.pixels.end(), wide.pixels.begin() + y * 369));
    }
    for (int x = 0; x < image.width; ++x) {
        ImageU8 column;
        column.width = 1;
        column.height = image.height;
        column.channels = 3;
        for (int y = 0; y < image.height; ++y) {
            for (int c = 0; c < 3; ++c) {
                column.pixels.push_back(image.pixels[(static_cast<std::size_t>(y) * 50 + x) * 3 + c]);
            }
        }
        const ImageU8 columnOut = resizePil(column, 1, 9);
        for (int y = 0; y < 9; ++y) {
            for (int c = 0; c < 3; ++c) {
                QCOMPARE(tall.pixels[(static_cast<std::size_t>(y) * 50 + x) * 3 + c],
                         columnOut.pixels[static_cast<std::size_t>(y) * 3 + c]);
            }
        }
    }
}

// The fixtures are all upscales; these closed forms pin the downscale windows. Halving with Box
// gives weights 1/2, 1/2 in each pass (exactly 2^21 in fixed point): (a + b + 1) >> 1 per pass.
// Halving a single row with Bilinear gives interior taps 1/8, 3/8, 3/8, 1/8 (exact in fixed
// point): (a + 3b + 3c + d + 4) >> 3.
void TestPilResample::downscaleByTwoMatchesClosedForm() {
    const ImageU8 image = patternImage(64, 48, 3, 5);
    const ImageU8 box = resizePil(image, 32, 24, ResampleFilter::Box);
    auto at = [&](int x, int y, int c) { return int(image.pixels[(static_cast<std::size_t>(y) * 64 + x) * 3 + c]); };
    for (int y = 0; y < 24; ++y) {
        for (int x = 0; x < 32; ++x) {
            for (int c = 0; c < 3; ++c) {
                const int top = (at(2 * x, 2 * y, c) + at(2 * x + 1, 2 * y, c) + 1) >> 1;
                const int bottom = (at(2 * x, 2 * y + 1, c) + at(2 * x + 1, 2 * y + 1, c) + 1) >> 1;
                QCOMPARE(int(box.pixels[(static_cast<std::size_t>(y) * 32 + x) * 3 + c]), (top + bottom + 1) >> 1);
            }
        }
    }

    ImageU8 row;
    row.width = 64;
    row.height = 1;
    row.channels = 1;
    row.pixels.assign(image.pixels.begin(), image.pixels.begin() + 64);
    const ImageU8 halved = resizePil(row, 32, 1, ResampleFilter::Bilinear);
    for (int x = 1; x < 31; ++x) {
        const int a = row.pixels[2 * x - 1];
        const int b = row.pixels[2 * x];
        const int c = row.pixels[2 * x + 1];
        const int d = row.pixels[2 * x + 2];
        QCOMPARE(int(halved.pixels[static_cast<std::size_t>(x)]), (a + 3 * b + 3 * c + d + 4) >> 3);
    }
}

void TestPilResample::argumentErrors() {
    const ImageU8 good = patternImage(8, 6, 3, 3);
    auto expectError = [](const std::function<void()>& call, const char* fragment) {
        const std::string message = errorOf(call);
        QVERIFY2(!message.empty(), qPrintable(QStringLiteral("no Error thrown (expected '%1')").arg(fragment)));
        QVERIFY2(message.find(fragment) != std::string::npos, message.c_str());
        QVERIFY2(message.find('\n') == std::string::npos, "message is not one line");
    };

    expectError([&] { resizePil(good, 0, 5); }, "target size 0x5");
    expectError([&] { resizePil(good, 5, -3); }, "target size 5x-3");
    ImageU8 noChannels = good;
    noChannels.channels = 0;
    expectError([&] { resizePil(noChannels, 4, 4); }, "0 channels");
    ImageU8 fiveChannels = good;
    fiveChannels.channels = 5;
    fiveChannels.pixels.resize(8 * 6 * 5);
    expectError([&] { resizePil(fiveChannels, 4, 4); }, "5 channels");
    ImageU8 shortBuffer = good;
    shortBuffer.pixels.pop_back();
    expectError([&] { resizePil(shortBuffer, 4, 4); }, "needs 144 bytes, pixel buffer has 143");
    expectError([&] { resizePil(ImageU8{}, 4, 4); }, "input image is 0x0");
    ImageU8 negative = good;
    negative.height = -6;
    expectError([&] { resizePil(negative, 4, 4); }, "input image is 8x-6");

    expectError([] { viltResizeSize(0, 10); }, "image size 0x10");
    expectError([] { viltResizeSize(10, -1); }, "image size 10x-1");
    expectError([] { viltResizeSize(10, 10, 0); }, "shortest edge 0");
    expectError([] { viltResizeSize(10, 10, 384, 0); }, "size divisor 0");
    expectError([] { viltResizeSize(1, 10000); }, "too elongated");
}

QTEST_APPLESS_MAIN(TestPilResample)
#include "tst_pil_resample.moc"
