// The safetensors reader: round trips through the writer, and every kind of damaged file gives a
// clear error that names the file and the problem (never a crash).

#include <cstring>
#include <fstream>

#include <QTemporaryDir>
#include <QTest>

#include "checkpoint/safetensors.h"
#include "common/error.h"
#include "io/mapped_file.h"

using namespace tokenscope;

namespace {

std::vector<uint8_t> fileBytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

// A file with a hand-written header and `dataBytes` zero bytes of data.
std::vector<uint8_t> withHeader(const std::string& header, std::size_t dataBytes, int64_t declaredLength = -1) {
    std::vector<uint8_t> bytes(8);
    const uint64_t length = declaredLength < 0 ? header.size() : static_cast<uint64_t>(declaredLength);
    for (int i = 0; i < 8; ++i) bytes[i] = static_cast<uint8_t>(length >> (8 * i));
    bytes.insert(bytes.end(), header.begin(), header.end());
    bytes.resize(bytes.size() + dataBytes, 0);
    return bytes;
}

QString errorOf(const std::vector<uint8_t>& bytes) {
    try {
        parseSafetensors(bytes.data(), bytes.size(), "bad.safetensors");
    } catch (const Error& e) {
        return QString::fromStdString(e.what());
    }
    return {};
}

}  // namespace

class TestSafetensors : public QObject {
    Q_OBJECT
private slots:
    void roundTrip() {
        QTemporaryDir dir;
        const std::string path = dir.filePath("t.safetensors").toStdString();
        const float f32[6] = {1, 2, 3, 4, 5, 6};
        const int64_t i64[2] = {-7, 1LL << 40};
        const uint16_t bf16[3] = {0x3f80, 0x4000, 0xc040};
        const uint8_t u8[1] = {255};
        writeSafetensors(path,
                         {{"weight", DType::F32, {2, 3}, f32},
                          {"ids", DType::I64, {2}, i64},
                          {"half", DType::BF16, {3}, bf16},
                          {"scalar", DType::U8, {}, u8},
                          {"empty", DType::F32, {0, 4}, nullptr}},
                         {{"format", "pt"}});
        const auto bytes = fileBytes(path);
        const auto header = parseSafetensors(bytes.data(), bytes.size(), "t.safetensors");
        QCOMPARE(header.dataOffset % 8, uint64_t(0));
        QCOMPARE(header.metadata.at("format"), std::string("pt"));
        QCOMPARE(header.tensors.size(), std::size_t(5));
        const auto& w = header.tensors.at("weight");
        QCOMPARE(w.dtype, DType::F32);
        QCOMPARE(w.shape, (std::vector<int64_t>{2, 3}));
        QCOMPARE(w.strides, (std::vector<int64_t>{3, 1}));
        QVERIFY(std::memcmp(bytes.data() + w.byteOffset, f32, sizeof f32) == 0);
        const auto& ids = header.tensors.at("ids");
        QVERIFY(std::memcmp(bytes.data() + ids.byteOffset, i64, sizeof i64) == 0);
        QCOMPARE(ids.byteOffset % 8, uint64_t(0));  // aligned: sorted by alignment
        QVERIFY(std::memcmp(bytes.data() + header.tensors.at("half").byteOffset, bf16, sizeof bf16) == 0);
        QCOMPARE(header.tensors.at("scalar").shape.size(), std::size_t(0));
        QCOMPARE(bytes[header.tensors.at("scalar").byteOffset], uint8_t(255));
        QCOMPARE(header.tensors.at("empty").byteLength, uint64_t(0));
    }

    void damaged_data() {
        QTest::addColumn<QByteArray>("header");
        QTest::addColumn<int>("dataBytes");
        QTest::addColumn<qint64>("declaredLength");
        QTest::addColumn<QString>("expected");
        const auto row = [](const char* name, const char* header, int data, qint64 declared, const char* expected) {
            QTest::newRow(name) << QByteArray(header) << data << declared << QString(expected);
        };
        row("header too long", "{}", 0, 200'000'000, "exceeds the limit");
        row("header past end", "{}", 0, 64, "truncated");
        row("not json", "{\"a\": [", 0, -1, "not valid JSON");
        row("not an object", "[1, 2]", 0, -1, "not a JSON object");
        row("unknown dtype", R"({"x": {"dtype": "Q7", "shape": [1], "data_offsets": [0, 1]}})", 1, -1, "unsupported dtype 'Q7'");
        row("no shape", R"({"x": {"dtype": "F32", "data_offsets": [0, 4]}})", 4, -1, "no 'shape'");
        row("negative dim", R"({"x": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}})", 4, -1, "negative");
        row("float dim", R"({"x": {"dtype": "F32", "shape": [1.5], "data_offsets": [0, 4]}})", 4, -1, "not an integer");
        row("past the end", R"({"x": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}})", 8, -1, "past the end");
        row("size mismatch", R"({"x": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}})", 8, -1, "need 12");
        row("reversed offsets", R"({"x": {"dtype": "F32", "shape": [0], "data_offsets": [8, 0]}})", 8, -1, "ending before");
        row("overlap",
            R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}})",
            12, -1, "overlap");
        row("huge shape", R"({"x": {"dtype": "F64", "shape": [4294967296, 4294967296, 16], "data_offsets": [0, 8]}})", 8, -1,
            "too large");
        row("metadata not strings", R"({"__metadata__": {"a": 1}})", 0, -1, "not a string");
    }

    void damaged() {
        QFETCH(QByteArray, header);
        QFETCH(int, dataBytes);
        QFETCH(qint64, declaredLength);
        QFETCH(QString, expected);
        const auto message = errorOf(withHeader(header.toStdString(), dataBytes, declaredLength));
        QVERIFY2(message.contains(expected), qPrintable("got: " + message));
        QVERIFY2(message.startsWith("bad.safetensors"), qPrintable("message must name the file: " + message));
    }

    // Every cut of a valid file is rejected cleanly or, at full length, accepted.
    void truncatedAtEveryByte() {
        QTemporaryDir dir;
        const std::string path = dir.filePath("t.safetensors").toStdString();
        const float data[4] = {1, 2, 3, 4};
        writeSafetensors(path, {{"a", DType::F32, {4}, data}, {"b", DType::F32, {2}, data}});
        const auto bytes = fileBytes(path);
        for (std::size_t cut = 0; cut < bytes.size(); ++cut) {
            const std::vector<uint8_t> part(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(cut));
            QVERIFY2(!errorOf(part).isEmpty(), qPrintable(QString("cut at %1 was accepted").arg(cut)));
        }
        QVERIFY(errorOf(bytes).isEmpty());
    }

    void missingFileNamesThePath() {
        try {
            MappedFile::open("/nonexistent/model.safetensors");
            QFAIL("no error");
        } catch (const Error& e) {
            QVERIFY(QString(e.what()).contains("/nonexistent/model.safetensors"));
        }
    }
};

QTEST_APPLESS_MAIN(TestSafetensors)
#include "tst_safetensors.moc"
