// Tests for the torch-free pytorch_model.bin reader: zip container, restricted unpickler and
// the tensor records built from them. Files are made by tests/support/torch_bin_writer, which
// mirrors the bytes CPython's pickler and PyTorch's zip writer produce.

#include <QByteArray>
#include <QDir>
#include <QFile>
#include <QList>
#include <QtTest>

#include <cstring>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "checkpoint/torch_bin.h"
#include "common/error.h"
#include "support/torch_bin_writer.h"

using tokenscope::DType;
using tokenscope::TensorInfo;
using tokenscope::testing::Bytes;
using tokenscope::testing::makeGlobalCallPickle;
using tokenscope::testing::makeTorchZip;
using tokenscope::testing::patternBytes;
using tokenscope::testing::PickleWriter;
using tokenscope::testing::TorchBinTensor;
using tokenscope::testing::TorchBinWriter;
using tokenscope::testing::ZipWriter;

namespace {

const std::string kFileName = "pytorch_model.bin";

std::map<std::string, TensorInfo> parse(const Bytes& file) {
    return tokenscope::parseTorchBin(file.data(), file.size(), kFileName);
}

// The message of the tokenscope::Error that parsing throws; "" when it succeeds. Any other
// exception escapes and fails the test.
std::string parseError(const Bytes& file) {
    try {
        parse(file);
    } catch (const tokenscope::Error& error) {
        return error.what();
    }
    return {};
}

QByteArray toQByteArray(const Bytes& bytes) {
    return QByteArray(reinterpret_cast<const char*>(bytes.data()), static_cast<qsizetype>(bytes.size()));
}

Bytes toBytes(const QByteArray& bytes) {
    return Bytes(reinterpret_cast<const uint8_t*>(bytes.constData()),
                 reinterpret_cast<const uint8_t*>(bytes.constData()) + bytes.size());
}

std::vector<int64_t> toVector(const QList<qint64>& values) { return std::vector<int64_t>(values.begin(), values.end()); }

// The span of elements a view touches: the index of its last element + 1, 0 when empty.
uint64_t elementExtent(const TensorInfo& info) {
    uint64_t last = 0;
    for (std::size_t d = 0; d < info.shape.size(); ++d) {
        if (info.shape[d] == 0) return 0;
        last += static_cast<uint64_t>(info.shape[d] - 1) * static_cast<uint64_t>(info.strides[d]);
    }
    return last + 1;
}

// Checks one record against what was written: metadata, and that the bytes at byteOffset are
// the storage's bytes from storageOffset on.
void verifyTensor(const Bytes& file, const TensorInfo& info, const Bytes& storage, DType dtype,
                  const std::vector<int64_t>& shape, const std::vector<int64_t>& strides, int64_t storageOffset) {
    QCOMPARE(info.dtype, dtype);
    QCOMPARE(info.shape, shape);
    QCOMPARE(info.strides, strides);
    const uint64_t elementSize = tokenscope::dtypeSize(dtype);
    const uint64_t skipped = static_cast<uint64_t>(storageOffset) * elementSize;
    QCOMPARE(info.byteLength, uint64_t(storage.size()) - skipped);
    QVERIFY(info.byteOffset + info.byteLength <= file.size());
    QVERIFY(elementExtent(info) * elementSize <= info.byteLength);
    QVERIFY(std::memcmp(file.data() + info.byteOffset, storage.data() + skipped, info.byteLength) == 0);
}

Bytes concat(std::initializer_list<Bytes> parts) {
    Bytes out;
    for (const Bytes& part : parts) out.insert(out.end(), part.begin(), part.end());
    return out;
}

// A file whose one tensor `t` views a storage of storageBytes bytes of dtype.
Bytes singleView(DType dtype, std::size_t storageBytes, TorchBinTensor t) {
    TorchBinWriter writer;
    writer.addStorage("0", dtype, patternBytes(storageBytes, 3));
    t.storageKey = "0";
    writer.addTensor(t);
    return writer.write();
}

Bytes wrapPickle(const PickleWriter& pickle) { return makeTorchZip(pickle.bytes()); }

// A small but complete file: parameters, views of a shared storage, several dtypes.
Bytes referenceFile(bool zip64) {
    TorchBinWriter writer("pytorch_model");
    writer.setZip64(zip64);
    writer.addContiguous("embeddings.weight", DType::F32, {5, 4});
    writer.addContiguous("embeddings.norm.bias", DType::F16, {4}, true);
    writer.addStorage("shared", DType::BF16, patternBytes(2 * 24, 9));
    writer.addTensor({"pooler.weight", "shared", {3, 4}, {}, 0, false});
    writer.addTensor({"pooler.weight_t", "shared", {4, 3}, {1, 4}, 0, false});
    writer.addTensor({"pooler.bias", "shared", {2}, {}, 22, true});
    writer.addContiguous("position_ids", DType::I64, {1, 7});
    writer.addContiguous("scale", DType::F64, {});
    return writer.write();
}

}  // namespace

class TestTorchBin : public QObject {
    Q_OBJECT

private slots:
    void initTestCase();

    void roundTrip_data();
    void roundTrip();
    void containers_data();
    void containers();
    void sharedStorageViews();
    void manyTensors();
    void largeIntegers();
    void protocol4Opcodes();
    void plainDictAndParameterState();

    void refusedGlobalMessage();
    void rejects_data();
    void rejects();
    void truncated_data();
    void truncated();
    void corruptedBytes();
};

void TestTorchBin::initTestCase() {
    // Seeds for tests/fuzz/fuzz_pickle: TOKENSCOPE_FUZZ_SEED_DIR=dir ./tst_torch_bin
    const QString seedDir = qEnvironmentVariable("TOKENSCOPE_FUZZ_SEED_DIR");
    if (seedDir.isEmpty()) return;
    QDir().mkpath(seedDir);
    const std::vector<std::pair<QString, Bytes>> seeds = {
        {"reference.bin", referenceFile(false)},
        {"reference_zip64.bin", referenceFile(true)},
        {"reference.pkl", [] {
             TorchBinWriter writer;
             writer.addContiguous("w", DType::F32, {2, 3}, true);
             writer.addContiguous("b", DType::F16, {3});
             return writer.pickle();
         }()},
    };
    for (const auto& [name, bytes] : seeds) {
        QFile file(seedDir + "/" + name);
        QVERIFY(file.open(QIODevice::WriteOnly));
        file.write(toQByteArray(bytes));
    }
}

void TestTorchBin::roundTrip_data() {
    QTest::addColumn<int>("dtype");
    QTest::addColumn<QList<qint64>>("shape");
    QTest::addColumn<bool>("asParameter");

    QTest::newRow("F32 matrix") << int(DType::F32) << QList<qint64>{2, 3} << false;
    QTest::newRow("F32 parameter") << int(DType::F32) << QList<qint64>{768, 3} << true;
    QTest::newRow("F16 vector") << int(DType::F16) << QList<qint64>{5} << false;
    QTest::newRow("BF16 3-d") << int(DType::BF16) << QList<qint64>{2, 3, 4} << true;
    QTest::newRow("F64 4-d") << int(DType::F64) << QList<qint64>{2, 1, 3, 2} << false;
    QTest::newRow("I64 position ids") << int(DType::I64) << QList<qint64>{1, 40} << false;
    QTest::newRow("I32") << int(DType::I32) << QList<qint64>{3, 3} << false;
    QTest::newRow("I16") << int(DType::I16) << QList<qint64>{7} << false;
    QTest::newRow("I8") << int(DType::I8) << QList<qint64>{9} << false;
    QTest::newRow("U8") << int(DType::U8) << QList<qint64>{3, 1} << false;
    QTest::newRow("BOOL mask") << int(DType::Bool) << QList<qint64>{1, 1, 6, 6} << false;
    QTest::newRow("scalar") << int(DType::F32) << QList<qint64>{} << false;
    QTest::newRow("scalar parameter") << int(DType::I64) << QList<qint64>{} << true;
    QTest::newRow("zero-size 1-d") << int(DType::F32) << QList<qint64>{0} << false;
    QTest::newRow("zero-size inner") << int(DType::F16) << QList<qint64>{3, 0, 2} << false;
    QTest::newRow("large 1-d") << int(DType::F32) << QList<qint64>{70000} << false;
}

void TestTorchBin::roundTrip() {
    QFETCH(int, dtype);
    QFETCH(QList<qint64>, shape);
    QFETCH(bool, asParameter);
    const auto type = static_cast<DType>(dtype);

    TorchBinWriter writer;
    writer.addContiguous("layer.weight", type, toVector(shape), asParameter);
    const Bytes file = writer.write();

    const auto tensors = parse(file);
    QCOMPARE(tensors.size(), std::size_t(1));
    QCOMPARE(tensors.begin()->first, std::string("layer.weight"));
    verifyTensor(file, tensors.begin()->second, writer.storageBytes("0"), type, toVector(shape),
                 tokenscope::contiguousStrides(toVector(shape)), 0);
}

void TestTorchBin::containers_data() {
    QTest::addColumn<QString>("folder");
    QTest::addColumn<bool>("zip64");
    QTest::addColumn<QString>("byteOrder");

    QTest::newRow("archive") << "archive" << false << "little";
    QTest::newRow("file stem") << "pytorch_model" << false << "little";
    QTest::newRow("odd folder, torch < 1.13") << "my model.v2" << false << "";
    QTest::newRow("zip64") << "archive" << true << "little";
    QTest::newRow("zip64, no byteorder") << "checkpoint" << true << "";
}

void TestTorchBin::containers() {
    QFETCH(QString, folder);
    QFETCH(bool, zip64);
    QFETCH(QString, byteOrder);

    TorchBinWriter writer(folder.toStdString());
    writer.setZip64(zip64);
    writer.setByteOrder(byteOrder.toStdString());
    writer.addContiguous("a", DType::F32, {3, 2});
    writer.addContiguous("b", DType::F16, {4}, true);
    writer.addContiguous("c", DType::I64, {});
    const Bytes file = writer.write();

    const auto tensors = parse(file);
    QCOMPARE(tensors.size(), std::size_t(3));
    verifyTensor(file, tensors.at("a"), writer.storageBytes("0"), DType::F32, {3, 2}, {2, 1}, 0);
    verifyTensor(file, tensors.at("b"), writer.storageBytes("1"), DType::F16, {4}, {1}, 0);
    verifyTensor(file, tensors.at("c"), writer.storageBytes("2"), DType::I64, {}, {}, 0);
    // The writer aligns entries like PyTorch: data offsets come from the local headers.
    for (const auto& entry : tensors) QCOMPARE(entry.second.byteOffset % 64, uint64_t(0));
}

void TestTorchBin::sharedStorageViews() {
    TorchBinWriter writer;
    const Bytes storage = patternBytes(100 * 4, 5);
    writer.addStorage("0", DType::F32, storage);
    writer.addTensor({"head", "0", {10}, {}, 0, false});
    writer.addTensor({"block", "0", {5, 4}, {}, 20, true});
    writer.addTensor({"block_t", "0", {4, 5}, {1, 4}, 20, false});
    writer.addTensor({"strided", "0", {3, 3}, {30, 2}, 1, false});
    writer.addTensor({"last", "0", {}, {}, 99, false});
    writer.addTensor({"empty_at_end", "0", {0}, {1}, 100, false});
    writer.addTensor({"expanded", "0", {3, 4}, {0, 1}, 50, false});
    const Bytes file = writer.write();

    const auto tensors = parse(file);
    QCOMPARE(tensors.size(), std::size_t(7));
    verifyTensor(file, tensors.at("head"), storage, DType::F32, {10}, {1}, 0);
    verifyTensor(file, tensors.at("block"), storage, DType::F32, {5, 4}, {4, 1}, 20);
    verifyTensor(file, tensors.at("block_t"), storage, DType::F32, {4, 5}, {1, 4}, 20);
    verifyTensor(file, tensors.at("strided"), storage, DType::F32, {3, 3}, {30, 2}, 1);
    verifyTensor(file, tensors.at("last"), storage, DType::F32, {}, {}, 99);
    verifyTensor(file, tensors.at("empty_at_end"), storage, DType::F32, {0}, {1}, 100);
    verifyTensor(file, tensors.at("expanded"), storage, DType::F32, {3, 4}, {0, 1}, 50);
    QCOMPARE(tensors.at("block").byteOffset, tensors.at("head").byteOffset + 80);
}

void TestTorchBin::manyTensors() {
    // > 1000 entries: several SETITEMS batches, memo indices past 255 (LONG_BINPUT/LONG_BINGET).
    TorchBinWriter writer;
    constexpr int kCount = 2001;
    for (int i = 0; i < kCount; ++i) {
        writer.addContiguous("encoder.layer." + std::to_string(i) + ".weight", DType::F16, {2, 1 + i % 5});
    }
    const Bytes file = writer.write();
    const auto tensors = parse(file);
    QCOMPARE(tensors.size(), std::size_t(kCount));
    for (int i = 0; i < kCount; i += 97) {
        const std::vector<int64_t> shape{2, 1 + i % 5};
        verifyTensor(file, tensors.at("encoder.layer." + std::to_string(i) + ".weight"),
                     writer.storageBytes(std::to_string(i)), DType::F16, shape, tokenscope::contiguousStrides(shape), 0);
    }
}

void TestTorchBin::largeIntegers() {
    // Size-1 dimensions may carry any stride; these need LONG1 (> 32 bits) and BININT.
    const int64_t huge = int64_t(1) << 40;
    const Bytes file = singleView(DType::F32, 64, {"x", "", {1, 1, 2}, {huge, 70000, 1}, 3, false});
    const auto tensors = parse(file);
    QCOMPARE(tensors.at("x").strides, (std::vector<int64_t>{huge, 70000, 1}));
    QCOMPARE(tensors.at("x").byteLength, uint64_t(64 - 12));
}

void TestTorchBin::protocol4Opcodes() {
    // Hand-written protocol-4 pickle: FRAME, MEMOIZE, SHORT_BINUNICODE, STACK_GLOBAL, a plain
    // dict at the top, SETITEM.
    auto shortString = [](PickleWriter& p, const std::string& text) {
        p.raw({0x8c, static_cast<uint8_t>(text.size())});
        p.raw(Bytes(text.begin(), text.end()));
        p.raw({0x94});
    };
    PickleWriter p;
    p.proto(4).raw({0x95, 0, 0, 0, 0, 0, 0, 0, 0});
    p.raw({'}', 0x94});
    shortString(p, "w");
    shortString(p, "torch._utils");
    shortString(p, "_rebuild_tensor_v2");
    p.raw({0x93, 0x94});
    p.mark().mark();
    shortString(p, "storage");
    shortString(p, "torch");
    shortString(p, "HalfStorage");
    p.raw({0x93, 0x94});
    shortString(p, "0");
    shortString(p, "cuda:0");
    p.integer(6).tuple().raw({0x94}).binPersId();
    p.integer(0).integer(2).integer(3).tupleN(2).integer(3).integer(1).tupleN(2).boolean(false);
    shortString(p, "collections");
    shortString(p, "OrderedDict");
    p.raw({0x93}).emptyTuple().reduce();
    p.tuple().reduce().raw({0x94}).setItem().stop();

    const Bytes storage = patternBytes(12, 1);
    const Bytes file = makeTorchZip(p.bytes(), {{"0", storage}});
    const auto tensors = parse(file);
    QCOMPARE(tensors.size(), std::size_t(1));
    verifyTensor(file, tensors.at("w"), storage, DType::F16, {2, 3}, {3, 1}, 0);
}

void TestTorchBin::plainDictAndParameterState() {
    // NEWOBJ of OrderedDict, BUILD on a tensor, BINSTRING keys: accepted forms torch does not
    // usually write but a restricted unpickler should not trip over.
    PickleWriter p;
    p.proto(2).global("collections", "OrderedDict");
    p.put();
    p.emptyTuple().raw({0x81});
    p.put();
    p.raw({'T', 1, 0, 0, 0, 'k'});
    p.global("torch._utils", "_rebuild_tensor_v2");
    p.mark().mark().string("storage").global("torch", "ByteStorage").string("s").string("cpu").integer(4).tuple();
    p.binPersId().integer(1).integer(3).tupleN(1).integer(1).tupleN(1).integer(0).none().tuple().reduce();
    p.emptyDict().build();
    p.setItem().emptyDict().build().stop();

    const Bytes storage = patternBytes(4, 2);
    const Bytes file = makeTorchZip(p.bytes(), {{"s", storage}});
    const auto tensors = parse(file);
    verifyTensor(file, tensors.at("k"), storage, DType::U8, {3}, {1}, 1);
}

void TestTorchBin::refusedGlobalMessage() {
    const Bytes file = makeTorchZip(makeGlobalCallPickle("os", "system"));
    QCOMPARE(QString::fromStdString(parseError(file)),
             QString("pytorch_model.bin: refuses to load: the pickle names the global 'os.system', which is "
                     "not part of a tensor state dict"));
}

void TestTorchBin::rejects_data() {
    QTest::addColumn<QByteArray>("file");
    QTest::addColumn<QString>("expected");
    auto row = [](const char* name, const Bytes& file, const char* expected) {
        QTest::newRow(name) << toQByteArray(file) << QString(expected);
    };

    // Not a torch.save zip.
    row("empty file", {}, "does not start with a zip signature");
    row("text", Bytes{'h', 'e', 'l', 'l', 'o', ' ', 'w', 'o', 'r', 'l', 'd'}, "does not start with a zip signature");
    row("legacy format",
        concat({Bytes{0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e},
                Bytes(64, 0x71)}),
        "legacy torch.save format");
    row("bare pickle", makeGlobalCallPickle("collections", "OrderedDict"), "bare pickle");
    row("zip signature, no directory", concat({Bytes{'P', 'K', 3, 4}, Bytes(200, 0)}),
        "no end-of-central-directory record");

    // Container problems.
    {
        ZipWriter zip;
        zip.add("archive/data.pkl", TorchBinWriter().pickle(), 8);
        row("compressed entry", zip.finish(), "'archive/data.pkl' is compressed (method 8)");
    }
    {
        ZipWriter zip;
        zip.add("archive/version", Bytes{'3'});
        zip.add("archive/data/0", Bytes(16, 0));
        row("missing data.pkl", zip.finish(), "no 'archive/data.pkl' in the zip archive");
    }
    row("empty zip", ZipWriter().finish(), "the zip archive is empty");
    {
        ZipWriter zip;
        zip.add("data.pkl", TorchBinWriter().pickle());
        row("no top folder", zip.finish(), "is not inside a folder");
    }
    {
        ZipWriter zip;
        zip.add("archive/data.pkl", TorchBinWriter().pickle());
        zip.add("archive/data.pkl", TorchBinWriter().pickle());
        row("duplicate zip entry", zip.finish(), "'archive/data.pkl' appears twice");
    }
    {
        Bytes file = referenceFile(true);
        // Point the zip64 locator at a far-away record.
        for (std::size_t pos = file.size() - 22 - 20; pos < file.size(); ++pos) {
            if (std::memcmp(file.data() + pos, "PK\x06\x07", 4) == 0) file[pos + 8 + 5] = 0x7f;
        }
        row("zip64 locator outside", file, "zip64 end-of-central-directory record at byte");
    }
    {
        TorchBinWriter writer;
        writer.setByteOrder("big");
        writer.addContiguous("w", DType::F32, {2});
        row("big-endian", writer.write(), "big-endian");
    }

    // Tensors that do not fit their storage.
    {
        TorchBinWriter writer;
        writer.addContiguous("encoder.weight", DType::F32, {2, 2});
        row("storage key not in zip", makeTorchZip(writer.pickle()),
            "tensor 'encoder.weight' uses storage '0', but the archive has no entry 'archive/data/0'");
    }
    row("range past storage", singleView(DType::F32, 40, {"w", "", {11}, {}, 0, false}),
        "tensor 'w' reaches past the end of storage '0' (10 elements of F32)");
    row("strided range past storage", singleView(DType::F16, 24, {"w", "", {3, 4}, {5, 1}, 0, false}),
        "tensor 'w' reaches past the end of storage");
    row("scalar at the end", singleView(DType::I64, 80, {"w", "", {}, {}, 10, false}),
        "tensor 'w' reaches past the end of storage");
    row("offset past storage", singleView(DType::F32, 40, {"w", "", {0}, {1}, 11, false}),
        "tensor 'w' starts at element 11 of storage '0', which has only 10 elements");
    row("negative size", singleView(DType::F32, 40, {"w", "", {2, -1}, {1, 1}, 0, false}),
        "tensor 'w' has a negative size -1 in dimension 1");
    row("negative stride", singleView(DType::F32, 40, {"w", "", {2}, {-1}, 4, false}),
        "tensor 'w' has a negative stride -1 in dimension 0");
    row("negative offset", singleView(DType::F32, 40, {"w", "", {2}, {1}, -1, false}),
        "tensor 'w' has a negative storage offset");
    row("element count overflow",
        singleView(DType::F32, 40, {"w", "", {int64_t(1) << 62, 4}, {0, 0}, 0, false}),
        "tensor 'w' has more elements than fit in 64 bits");
    row("extent overflow", singleView(DType::F32, 40, {"w", "", {5}, {int64_t(1) << 62}, 0, false}),
        "tensor 'w' reaches past the end of storage");
    {
        TorchBinWriter writer;
        writer.addStorage("0", DType::F32, patternBytes(100, 0));
        writer.addTensor({"w", "0", {4}, {}, 0, false});
        row("storage larger than its entry", makeTorchZip(writer.pickle(), {{"0", patternBytes(40, 0)}}),
            "storage '0' claims 25 elements of F32 but its entry holds only 40 bytes");
    }

    // Globals outside the allow-list.
    row("os.system", makeTorchZip(makeGlobalCallPickle("os", "system")), "the global 'os.system'");
    row("posix.system", makeTorchZip(makeGlobalCallPickle("posix", "system")), "the global 'posix.system'");
    row("builtins.eval", makeTorchZip(makeGlobalCallPickle("builtins", "eval")), "the global 'builtins.eval'");
    row("__builtin__.eval", makeTorchZip(makeGlobalCallPickle("__builtin__", "eval")),
        "the global '__builtin__.eval'");
    row("subprocess.Popen", makeTorchZip(makeGlobalCallPickle("subprocess", "Popen")),
        "the global 'subprocess.Popen'");
    row("legacy _rebuild_tensor", makeTorchZip(makeGlobalCallPickle("torch._utils", "_rebuild_tensor")),
        "the global 'torch._utils._rebuild_tensor'");
    row("torch.load", makeTorchZip(makeGlobalCallPickle("torch", "load")), "the global 'torch.load'");
    row("numpy reconstruct", makeTorchZip(makeGlobalCallPickle("numpy.core.multiarray", "_reconstruct")),
        "the global 'numpy.core.multiarray._reconstruct'");
    {
        PickleWriter p;
        p.proto(4).raw({0x8c, 2, 'o', 's', 0x8c, 6, 's', 'y', 's', 't', 'e', 'm', 0x93}).stop();
        row("STACK_GLOBAL os.system", wrapPickle(p), "the global 'os.system'");
    }

    // Malformed pickles.
    {
        PickleWriter p;
        p.proto(2).raw({'I', '1', '\n'}).stop();
        row("unsupported opcode", wrapPickle(p), "unsupported pickle opcode 0x49 ('I')");
    }
    {
        PickleWriter p;
        p.proto(2).raw(Bytes(100000, '('));
        row("deeply nested MARKs", wrapPickle(p), "nesting deeper than 256 MARKs");
    }
    {
        PickleWriter p;
        p.proto(2).raw(Bytes((std::size_t(1) << 20) + 10, ']'));
        row("stack overflow", wrapPickle(p), "the pickle stack holds more than 1048576 values");
    }
    {
        PickleWriter p;
        p.proto(2).emptyDict();
        row("no STOP", wrapPickle(p), "ends without a STOP opcode");
    }
    {
        PickleWriter p;
        p.proto(2).raw({'X', 0xf0, 0xff, 0xff, 0xff, 'a', 'b'});
        row("string past the end", wrapPickle(p), "a string of 4294967280 bytes runs past the end of the pickle");
    }
    {
        PickleWriter p;
        p.proto(2).raw({0x8a, 9, 1, 2, 3, 4, 5, 6, 7, 8, 9}).stop();
        row("integer wider than 64 bits", wrapPickle(p), "integer of 9 bytes does not fit in 64 bits");
    }
    {
        PickleWriter p;
        p.proto(2).get(7).stop();
        row("memo entry never stored", wrapPickle(p), "memo entry 7 was never stored");
    }
    {
        PickleWriter p;
        p.proto(2).global("torch", "FloatStorage").emptyTuple().reduce().stop();
        row("calling a storage type", wrapPickle(p), "'torch.FloatStorage' cannot be called");
    }
    {
        PickleWriter p;
        p.proto(2).mark().string("module").global("torch", "FloatStorage").string("0").string("cpu").integer(1);
        p.tuple().binPersId().stop();
        row("persistent id that is not a storage", wrapPickle(p), "persistent id tag 'module' is not 'storage'");
    }
    {
        PickleWriter p;
        p.proto(2).string("x").emptyTuple().reduce().stop();
        row("REDUCE on a string", wrapPickle(p), "REDUCE/NEWOBJ on a str, which is not callable");
    }
    {
        PickleWriter p;
        p.proto(2).emptyList();
        p.put();
        p.get(0).append().stop();
        row("list containing itself", wrapPickle(p), "data.pkl holds a list, not a state dict");
    }
    {
        PickleWriter p;
        p.proto(2).emptyDict();
        p.put();
        p.string("k").get(0).setItem().stop();
        row("dict containing itself", wrapPickle(p), "state dict entry 'k' is a dict, not a tensor");
    }
    {
        PickleWriter p;
        p.proto(2).emptyDict().string("epoch").integer(3).setItem().stop();
        row("training checkpoint", wrapPickle(p), "state dict entry 'epoch' is a int, not a tensor");
    }
    {
        PickleWriter p;
        p.proto(2).emptyDict().integer(3).integer(3).setItem().stop();
        row("integer key", wrapPickle(p), "state dict key 0 is a int, not a string");
    }
    {
        TorchBinWriter writer;
        writer.addStorage("0", DType::F32, patternBytes(8, 0));
        writer.addTensor({"w", "0", {2}, {}, 0, false});
        writer.addTensor({"w", "0", {1}, {}, 1, false});
        row("duplicate tensor name", writer.write(), "state dict names tensor 'w' twice");
    }
    {
        PickleWriter p;
        p.proto(2).global("torch._utils", "_rebuild_tensor_v2").mark().integer(1).tuple().reduce().stop();
        row("rebuild with wrong arguments", wrapPickle(p), "_rebuild_tensor_v2 takes 6 or 7 arguments, got 1");
    }
    {
        PickleWriter p;
        p.proto(2).mark().stop();
        row("STOP inside a MARK", wrapPickle(p), "STOP inside an unclosed MARK");
    }
    {
        PickleWriter p;
        p.proto(2).emptyDict().mark().setItem().stop();
        row("SETITEM reaching below a MARK", wrapPickle(p), "pop from an empty stack");
    }
    {
        PickleWriter p;
        p.proto(9).stop();
        row("future protocol", wrapPickle(p), "unsupported pickle protocol 9");
    }
}

void TestTorchBin::rejects() {
    QFETCH(QByteArray, file);
    QFETCH(QString, expected);
    const QString message = QString::fromStdString(parseError(toBytes(file)));
    QVERIFY2(message.startsWith(QString::fromStdString(kFileName + ": ")), qPrintable(message));
    QVERIFY2(message.contains(expected), qPrintable(message));
    QVERIFY2(!message.contains('\n'), qPrintable(message));
}

void TestTorchBin::truncated_data() {
    QTest::addColumn<QByteArray>("file");
    QTest::newRow("zip") << toQByteArray(referenceFile(false));
    QTest::newRow("zip64") << toQByteArray(referenceFile(true));
}

void TestTorchBin::truncated() {
    QFETCH(QByteArray, file);
    const Bytes whole = toBytes(file);
    QVERIFY(parse(whole).size() == 7);
    for (std::size_t cut = 0; cut < whole.size(); ++cut) {
        // A copy of exactly `cut` bytes, so that ASan sees any read past the end.
        const Bytes part(whole.begin(), whole.begin() + static_cast<std::ptrdiff_t>(cut));
        const std::string message = parseError(part);
        QVERIFY2(message.rfind(kFileName + ": ", 0) == 0, qPrintable(QString("cut at %1: '%2'").arg(cut).arg(
                                                              QString::fromStdString(message))));
    }
}

void TestTorchBin::corruptedBytes() {
    // Every byte replaced in turn: the parse either fails with Error or returns tensors whose
    // bytes lie inside the file.
    const Bytes original = referenceFile(false);
    int parsed = 0;
    int refused = 0;
    for (std::size_t pos = 0; pos < original.size(); ++pos) {
        for (const uint8_t value : {uint8_t(0x00), uint8_t(0xff), uint8_t(original[pos] ^ 0x01)}) {
            if (value == original[pos]) continue;
            Bytes file = original;
            file[pos] = value;
            try {
                for (const auto& [name, info] : parse(file)) {
                    const uint64_t elementSize = tokenscope::dtypeSize(info.dtype);
                    QVERIFY(info.byteOffset <= file.size() && info.byteLength <= file.size() - info.byteOffset);
                    QVERIFY(elementExtent(info) * elementSize <= info.byteLength);
                }
                ++parsed;
            } catch (const tokenscope::Error& error) {
                QVERIFY(std::string(error.what()).rfind(kFileName + ": ", 0) == 0);
                ++refused;
            }
        }
    }
    qInfo("%d mutated files parsed, %d refused", parsed, refused);
    QVERIFY(refused > 0);
}

QTEST_APPLESS_MAIN(TestTorchBin)
#include "tst_torch_bin.moc"
