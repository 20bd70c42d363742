// Tests for the torch-free PyTorch Lightning .ckpt reader: METER's checkpoint layout (the
// fixture tests/data/meter/model.ckpt against model.safetensors made from it), bookkeeping that
// names arbitrary classes (skipped, never executed), hyper_parameters.config extraction, and
// the refusals (a foreign global inside state_dict, damaged archives, the limits). Crafted files
// come from tests/support/torch_bin_writer, which mirrors CPython's protocol-2 pickler.

#include <QByteArray>
#include <QDir>
#include <QFile>
#include <QTemporaryDir>
#include <QtTest>

#include <cstring>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "checkpoint/lightning_ckpt.h"
#include "checkpoint/safetensors.h"
#include "checkpoint/torch_bin.h"
#include "common/error.h"
#include "io/mapped_file.h"
#include "support/test_paths.h"
#include "support/torch_bin_writer.h"

using tokenscope::DType;
using tokenscope::LightningCheckpoint;
using tokenscope::TensorInfo;
using tokenscope::test::dataPath;
using tokenscope::testing::Bytes;
using tokenscope::testing::makeTorchZip;
using tokenscope::testing::patternBytes;
using tokenscope::testing::PickleWriter;
using tokenscope::testing::pushGlobalCall;
using tokenscope::testing::TorchBinTensor;
using tokenscope::testing::TorchBinWriter;
using json = nlohmann::json;

namespace {

const std::string kFileName = "model.ckpt";
using Entries = std::function<void(PickleWriter&)>;

LightningCheckpoint parse(const Bytes& file) {
    return tokenscope::parseLightningCheckpoint(file.data(), file.size(), kFileName);
}

// The message of the tokenscope::Error that parsing throws; "" when it succeeds.
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

// The span of elements a view touches: the index of its last element + 1, 0 when empty.
uint64_t elementExtent(const TensorInfo& info) {
    uint64_t last = 0;
    for (std::size_t d = 0; d < info.shape.size(); ++d) {
        if (info.shape[d] == 0) return 0;
        last += static_cast<uint64_t>(info.shape[d] - 1) * static_cast<uint64_t>(info.strides[d]);
    }
    return last + 1;
}

// The elements a record views, gathered in row-major order (strides honoured).
Bytes gather(const uint8_t* file, const TensorInfo& info) {
    const std::size_t elementSize = tokenscope::dtypeSize(info.dtype);
    const int64_t count = tokenscope::numel(info.shape);
    Bytes out;
    out.reserve(static_cast<std::size_t>(count) * elementSize);
    std::vector<int64_t> index(info.shape.size(), 0);
    for (int64_t n = 0; n < count; ++n) {
        uint64_t element = 0;
        for (std::size_t d = 0; d < index.size(); ++d) element += static_cast<uint64_t>(index[d] * info.strides[d]);
        const uint8_t* p = file + info.byteOffset + element * elementSize;
        out.insert(out.end(), p, p + elementSize);
        for (std::size_t d = index.size(); d-- > 0;) {
            if (++index[d] < info.shape[d]) break;
            index[d] = 0;
        }
    }
    return out;
}

// A small state dict: three dtypes, a parameter, a view of a shared storage.
TorchBinWriter stateDictWriter() {
    TorchBinWriter writer("archive");
    writer.addContiguous("encoder.weight", DType::F32, {3, 2});
    writer.addContiguous("encoder.bias", DType::F16, {3}, true);
    writer.addContiguous("text.position_ids", DType::I64, {1, 5});
    writer.addStorage("shared", DType::F32, patternBytes(4 * 12, 7));
    writer.addTensor({"pooler.weight_t", "shared", {3, 4}, {1, 3}, 0, false});
    return writer;
}

void verifyStateDict(const Bytes& file, const LightningCheckpoint& checkpoint, const TorchBinWriter& writer) {
    QCOMPARE(checkpoint.tensors.size(), std::size_t(4));
    const auto& weight = checkpoint.tensors.at("encoder.weight");
    QCOMPARE(weight.dtype, DType::F32);
    QCOMPARE(weight.shape, (std::vector<int64_t>{3, 2}));
    QVERIFY(gather(file.data(), weight) == writer.storageBytes("0"));
    const auto& bias = checkpoint.tensors.at("encoder.bias");
    QCOMPARE(bias.dtype, DType::F16);
    QVERIFY(gather(file.data(), bias) == writer.storageBytes("1"));
    const auto& ids = checkpoint.tensors.at("text.position_ids");
    QCOMPARE(ids.dtype, DType::I64);
    QCOMPARE(ids.shape, (std::vector<int64_t>{1, 5}));
    QVERIFY(gather(file.data(), ids) == writer.storageBytes("2"));
    const auto& transposed = checkpoint.tensors.at("pooler.weight_t");
    QCOMPARE(transposed.strides, (std::vector<int64_t>{1, 3}));
    QCOMPARE(transposed.byteLength, uint64_t(48));
    QVERIFY(std::memcmp(file.data() + transposed.byteOffset, writer.storageBytes("shared").data(), 48) == 0);
}

// ---- pieces of bookkeeping, pushed as the pickler would write them ---------------------------

void key(PickleWriter& p, const std::string& name) {
    p.string(name);
    p.put();
}

// A tensor outside state_dict, on a storage the archive may not even hold (optimizer moments).
void pushTensor(PickleWriter& p, const std::string& storageKey, int64_t numel) {
    p.global("torch._utils", "_rebuild_tensor_v2");
    p.mark().mark().string("storage").global("torch", "FloatStorage").string(storageKey).string("cuda:0");
    p.integer(numel).tuple().binPersId();
    p.integer(0).integer(numel).tupleN(1).integer(1).tupleN(1).boolean(false);
    p.global("collections", "OrderedDict").emptyTuple().reduce();
    p.tuple().reduce();
}

// numpy.float64(value) as numpy pickles it under protocol 2: scalar(dtype('f8'), bytes), the
// dtype rebuilt by REDUCE + BUILD, the bytes through _codecs.encode(latin-1 text, 'latin1').
void pushNumpyScalar(PickleWriter& p, double value) {
    p.global("numpy.core.multiarray", "scalar");
    p.global("numpy", "dtype").string("f8").boolean(false).boolean(true).tupleN(3).reduce();
    p.mark().integer(3).string("<").none().none().none().integer(-1).integer(-1).integer(0).tuple().build();
    uint8_t raw[8];
    std::memcpy(raw, &value, sizeof raw);
    std::string latin1;
    for (uint8_t byte : raw) {
        if (byte < 0x80) {
            latin1 += static_cast<char>(byte);
        } else {
            latin1 += static_cast<char>(0xc0 | (byte >> 6));
            latin1 += static_cast<char>(0x80 | (byte & 0x3f));
        }
    }
    p.global("_codecs", "encode").string(latin1).string("latin1").tupleN(2).reduce();
    p.tupleN(2).reduce();
}

// "callbacks": {ModelCheckpoint: {"best_model_score": numpy scalar, "best_model_path": ...,
// "payload": <attack>}}, keyed by the callback's class as Lightning 1.3 does.
void pushCallbacks(PickleWriter& p, const std::function<void(PickleWriter&)>& attack) {
    key(p, "callbacks");
    p.emptyDict();
    p.put();
    p.global("pytorch_lightning.callbacks.model_checkpoint", "ModelCheckpoint");
    p.put();
    p.emptyDict();
    p.put();
    p.mark();
    key(p, "monitor");
    p.string("val/the_metric");
    key(p, "best_model_score");
    pushNumpyScalar(p, 0.7734375);
    key(p, "best_model_path");
    p.string("/results/meter/last.ckpt");
    key(p, "payload");
    attack(p);
    p.setItems();
    p.setItem();
}

void pushOptimizerStates(PickleWriter& p) {
    key(p, "optimizer_states");
    p.emptyList().emptyDict();
    key(p, "state");
    p.emptyDict().integer(0).emptyDict();
    p.mark();
    key(p, "step");
    p.integer(1000);
    key(p, "exp_avg");
    pushTensor(p, "opt_missing", 4);
    key(p, "exp_avg_sq");
    pushTensor(p, "opt_missing_too", 4);
    p.setItems().setItem().setItem();
    key(p, "param_groups");
    p.emptyList().emptyDict().mark();
    key(p, "lr");
    p.binFloat(1e-5);
    key(p, "betas");
    p.binFloat(0.9).binFloat(0.98).tupleN(2);
    key(p, "params");
    p.emptyList().integer(0).append();
    p.setItems().append().setItem();
    p.append();
    key(p, "lr_schedulers");
    p.emptyList().emptyDict().mark();
    key(p, "_last_lr");
    p.emptyList().binFloat(1e-5).append();
    key(p, "lr_lambdas");
    p.emptyList().none().append();
    key(p, "scheduler");
    p.global("torch.optim.lr_scheduler", "LambdaLR").emptyTuple().newObj().emptyDict().build();
    p.setItems().append();
}

// hyper_parameters = <container>({"config": {...}}), as Lightning stores save_hyperparameters().
void pushMeterConfig(PickleWriter& p) {
    p.emptyDict().mark();
    key(p, "exp_name");
    p.string("finetune_vqa");
    key(p, "hidden_size");
    p.integer(768);
    key(p, "num_heads");
    p.integer(12);
    key(p, "drop_rate");
    p.binFloat(0.1);
    key(p, "learning_rate");
    p.binFloat(1e-5);
    key(p, "datasets");
    p.emptyList().string("vqa").append();
    key(p, "loss_names");
    p.emptyDict().mark();
    key(p, "vqa");
    p.integer(1);
    key(p, "itm");
    p.integer(0);
    p.setItems();
    key(p, "resume_from");
    p.none();
    key(p, "test_only");
    p.boolean(true);
    p.setItems();
}

json meterConfigJson() {
    return json{{"exp_name", "finetune_vqa"},
                {"hidden_size", 768},
                {"num_heads", 12},
                {"drop_rate", 0.1},
                {"learning_rate", 1e-5},
                {"datasets", {"vqa"}},
                {"loss_names", {{"vqa", 1}, {"itm", 0}}},
                {"resume_from", nullptr},
                {"test_only", true}};
}

void pushHyperParameters(PickleWriter& p, const QString& container) {
    key(p, "hyper_parameters");
    if (container == "dict") {
        p.emptyDict();
        key(p, "config");
        pushMeterConfig(p);
        p.setItem();
    } else if (container == "AttributeDict") {
        // A dict subclass: copyreg.__newobj__ then the items through SETITEMS.
        p.global("pytorch_lightning.utilities.parsing", "AttributeDict").emptyTuple().newObj();
        p.mark();
        key(p, "config");
        pushMeterConfig(p);
        key(p, "lr");
        p.binFloat(3e-4);
        p.setItems();
    } else if (container == "Namespace") {
        // A plain object: copyreg.__newobj__ then its __dict__ through BUILD.
        p.global("argparse", "Namespace").emptyTuple().newObj();
        p.emptyDict();
        key(p, "config");
        pushMeterConfig(p);
        p.setItem().build();
    } else if (container == "Namespace with slots") {
        p.global("argparse", "Namespace").emptyTuple().newObj();
        p.none().emptyDict();
        key(p, "config");
        pushMeterConfig(p);
        p.setItem().tupleN(2).build();
    }
}

// Every bookkeeping entry a METER training run leaves, plus `attack` inside the callbacks.
Bytes realisticCheckpoint(const TorchBinWriter& writer, const std::function<void(PickleWriter&)>& attack,
                          const QString& hyperContainer = "dict") {
    return writer.writeLightning([&](PickleWriter& p) {
        pushCallbacks(p, attack);
        pushOptimizerStates(p);
        key(p, "native_amp_scaling_state");
        p.emptyDict();
        key(p, "hparams_name");
        p.string("kwargs");
        pushHyperParameters(p, hyperContainer);
    });
}

Bytes withHyperConfig(const std::function<void(PickleWriter&)>& config) {
    return stateDictWriter().writeLightning([&](PickleWriter& p) {
        key(p, "hyper_parameters");
        p.emptyDict();
        key(p, "config");
        config(p);
        p.setItem();
    });
}

Bytes withStateDictEntry(const std::function<void(PickleWriter&)>& value) {
    // state_dict = OrderedDict([("encoder.weight", tensor), ("evil", value)])
    PickleWriter p;
    p.proto(2).emptyDict().mark();
    key(p, "epoch");
    p.integer(3);
    key(p, "state_dict");
    p.global("collections", "OrderedDict").emptyTuple().reduce();
    key(p, "encoder.weight");
    pushTensor(p, "0", 6);
    p.setItem();
    key(p, "evil");
    value(p);
    p.setItem();
    p.setItems().stop();
    return makeTorchZip(p.bytes(), {{"0", patternBytes(24, 1)}});
}

}  // namespace

class TestLightningCkpt : public QObject {
    Q_OBJECT

private slots:
    void initTestCase();

    void meterFixtureMatchesSafetensors();
    void meterFixtureConfig();
    void bookkeepingIsSkippedNotRun_data();
    void bookkeepingIsSkippedNotRun();
    void hyperParameterContainers_data();
    void hyperParameterContainers();
    void configValues();
    void laterProtocolBookkeeping();
    void plainStateDict();
    void strictReaderStillRefuses();

    void refusedGlobalInStateDict();
    void rejects_data();
    void rejects();
    void truncated();
    void corruptedBytes();
};

void TestLightningCkpt::initTestCase() {
    // Seeds for tests/fuzz/fuzz_lightning: TOKENSCOPE_FUZZ_SEED_DIR=dir ./tst_lightning_ckpt
    const QString seedDir = qEnvironmentVariable("TOKENSCOPE_FUZZ_SEED_DIR");
    if (seedDir.isEmpty()) return;
    QDir().mkpath(seedDir);
    const auto attack = [](PickleWriter& p) { pushGlobalCall(p, "os", "system", "true"); };
    const std::vector<std::pair<QString, Bytes>> seeds = {
        {"realistic.ckpt", realisticCheckpoint(stateDictWriter(), attack)},
        {"realistic.pkl", stateDictWriter().lightningPickle([&](PickleWriter& p) {
             pushCallbacks(p, attack);
             pushOptimizerStates(p);
             pushHyperParameters(p, "Namespace");
         })},
        {"attribute_dict.pkl",
         stateDictWriter().lightningPickle([](PickleWriter& p) { pushHyperParameters(p, "AttributeDict"); })},
    };
    for (const auto& [name, bytes] : seeds) {
        QFile file(seedDir + "/" + name);
        QVERIFY(file.open(QIODevice::WriteOnly));
        file.write(toQByteArray(bytes));
    }
}

void TestLightningCkpt::meterFixtureMatchesSafetensors() {
    // model.safetensors was written from ckpt["state_dict"] of the same file (fixture README):
    // the same 199 names, no prefix to map, and every tensor bit for bit.
    const auto ckptFile = tokenscope::MappedFile::open(dataPath("meter/model.ckpt"));
    const auto safetensorsFile = tokenscope::MappedFile::open(dataPath("meter/model.safetensors"));
    const auto checkpoint =
        tokenscope::parseLightningCheckpoint(ckptFile->data(), ckptFile->size(), "model.ckpt");
    const auto reference =
        tokenscope::parseSafetensors(safetensorsFile->data(), safetensorsFile->size(), "model.safetensors");
    QVERIFY(checkpoint.isLightning);
    QCOMPARE(checkpoint.tensors.size(), std::size_t(199));
    QCOMPARE(reference.tensors.size(), checkpoint.tensors.size());
    int int64Tensors = 0;
    for (const auto& [name, expected] : reference.tensors) {
        QVERIFY2(checkpoint.tensors.count(name), name.c_str());
        const TensorInfo& actual = checkpoint.tensors.at(name);
        QCOMPARE(actual.dtype, expected.dtype);
        QCOMPARE(actual.shape, expected.shape);
        const Bytes bytes = gather(ckptFile->data(), actual);
        QCOMPARE(uint64_t(bytes.size()), expected.byteLength);
        QVERIFY2(std::memcmp(bytes.data(), safetensorsFile->data() + expected.byteOffset, bytes.size()) == 0,
                 name.c_str());
        if (actual.dtype == DType::I64) ++int64Tensors;
    }
    QCOMPARE(int64Tensors, 1);  // text_transformer.embeddings.position_ids
    QCOMPARE(checkpoint.tensors.at("text_transformer.embeddings.position_ids").shape, (std::vector<int64_t>{1, 14}));
    QCOMPARE(checkpoint.tensors.at("token_type_embeddings.weight").shape, (std::vector<int64_t>{3, 32}));

    // The file-level entry point lists the same records.
    const auto listed = tokenscope::readLightningCheckpointFile(dataPath("meter/model.ckpt"));
    QCOMPARE(listed.tensors.size(), checkpoint.tensors.size());
    QCOMPARE(listed.tensors.at("vit_model.visual.conv1.weight").shape,
             checkpoint.tensors.at("vit_model.visual.conv1.weight").shape);
}

void TestLightningCkpt::meterFixtureConfig() {
    const auto checkpoint = tokenscope::readLightningCheckpointFile(dataPath("meter/model.ckpt"));
    QCOMPARE(checkpoint.skippedConfigEntries, std::vector<std::string>{});
    const json& config = checkpoint.config;
    // What the fixture README states: MeterConfig(vqa_label_size=10, max_text_len=12, vocab_size=381,
    // token_types=3, image_size=64, vit_patch_size=16, num_top_layer=2, hidden_size=32, num_heads=4,
    // num_layers=2, mlp_ratio=4, drop_rate=0.0); tiny CLIP width 32, 3 layers, 4 heads; head counts
    // recorded as num_heads / vit_heads / text_config; RoBERTa: hidden 32, 2 layers, 4 heads,
    // intermediate 128, layer_norm_eps 1e-05, max_position_embeddings 14, type_vocab_size 1,
    // pad_token_id 1. The remaining values are the fixture's own (its pickle holds them).
    const json expected = {
        {"exp_name", "refgen_tiny_meter_public"},
        {"seed", 1234},
        {"datasets", json::array()},
        {"loss_names", {{"vqa", 1}, {"nlvr2", 1}}},
        {"vit", "tiny CLIP ViT (width 32, 3 layers -> 2 residual blocks, 4 heads)"},
        {"tokenizer", "roberta_tiny"},
        {"vocab_size", 381},
        {"max_text_len", 12},
        {"image_size", 64},
        {"patch_size", 16},
        {"resolution_before", 64},
        {"input_image_embed_size", 32},
        {"input_text_embed_size", 32},
        {"hidden_size", 32},
        {"num_heads", 4},
        {"num_layers", 2},
        {"num_top_layer", 2},
        {"mlp_ratio", 4},
        {"drop_rate", 0.0},
        {"vqav2_label_size", 10},
        {"token_types", 3},
        {"precision", 32},
        {"vit_width", 32},
        {"vit_layers", 3},
        {"vit_heads", 4},
        {"text_config",
         {{"attention_probs_dropout_prob", 0.0},
          {"bos_token_id", 0},
          {"classifier_dropout", nullptr},
          {"eos_token_id", 2},
          {"hidden_act", "gelu"},
          {"hidden_dropout_prob", 0.0},
          {"hidden_size", 32},
          {"initializer_range", 0.02},
          {"intermediate_size", 128},
          {"layer_norm_eps", 1e-05},
          {"max_position_embeddings", 14},
          {"model_type", "roberta"},
          {"num_attention_heads", 4},
          {"num_hidden_layers", 2},
          {"pad_token_id", 1},
          {"position_embedding_type", "absolute"},
          {"transformers_version", "4.44.0.dev0"},
          {"type_vocab_size", 1},
          {"use_cache", true},
          {"vocab_size", 381}}},
    };
    QVERIFY2(config == expected, config.dump().c_str());
    // BINFLOATs stay floats, integers stay integers (an architecture reader relies on both).
    QVERIFY(config.at("drop_rate").is_number_float());
    QVERIFY(config.at("text_config").at("layer_norm_eps").is_number_float());
    QCOMPARE(config.at("text_config").at("layer_norm_eps").get<double>(), 1e-05);
    QVERIFY(config.at("num_heads").is_number_integer());
}

void TestLightningCkpt::bookkeepingIsSkippedNotRun_data() {
    QTest::addColumn<QString>("module");
    QTest::addColumn<QString>("name");
    QTest::newRow("os.system") << "os" << "system";
    QTest::newRow("posix.system") << "posix" << "system";
    QTest::newRow("builtins.eval") << "builtins" << "eval";
    QTest::newRow("builtins.exec") << "builtins" << "exec";
    QTest::newRow("subprocess.Popen") << "subprocess" << "Popen";
}

void TestLightningCkpt::bookkeepingIsSkippedNotRun() {
    QFETCH(QString, module);
    QFETCH(QString, name);
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const std::string marker = dir.filePath("executed").toStdString();
    // What would create `marker` if anything ran it: a shell command, Python source, an argv.
    const auto attack = [&](PickleWriter& p) {
        p.global(module.toStdString(), name.toStdString());
        if (module == "subprocess") {
            p.emptyList().string("touch").append().string(marker).append();
        } else if (module == "builtins") {
            p.string("open('" + marker + "', 'w')");
        } else {
            p.string("touch '" + marker + "'");
        }
        p.tupleN(1).reduce();
        // ... and what an attacker would do with the result: call it, set its state, fill it.
        p.emptyTuple().reduce();
        p.emptyDict().build();
        p.mark().string("k").integer(1).setItems();
        p.mark().integer(2).raw({'e'});
    };
    const TorchBinWriter writer = stateDictWriter();
    const Bytes file = realisticCheckpoint(writer, attack);

    const LightningCheckpoint checkpoint = parse(file);
    QVERIFY(checkpoint.isLightning);
    verifyStateDict(file, checkpoint, writer);
    QVERIFY2(checkpoint.config == meterConfigJson(), checkpoint.config.dump().c_str());
    QVERIFY(checkpoint.skippedConfigEntries.empty());
    QVERIFY2(!QFile::exists(QString::fromStdString(marker)), "a bookkeeping payload was executed");
}

void TestLightningCkpt::hyperParameterContainers_data() {
    QTest::addColumn<QString>("container");
    QTest::newRow("dict") << "dict";
    QTest::newRow("AttributeDict (dict subclass, SETITEMS)") << "AttributeDict";
    QTest::newRow("argparse.Namespace (BUILD of __dict__)") << "Namespace";
    QTest::newRow("Namespace, (dict, slots) state") << "Namespace with slots";
}

void TestLightningCkpt::hyperParameterContainers() {
    QFETCH(QString, container);
    const TorchBinWriter writer = stateDictWriter();
    const Bytes file = writer.writeLightning([&](PickleWriter& p) { pushHyperParameters(p, container); });
    const LightningCheckpoint checkpoint = parse(file);
    verifyStateDict(file, checkpoint, writer);
    QVERIFY2(checkpoint.config == meterConfigJson(), checkpoint.config.dump().c_str());
}

void TestLightningCkpt::configValues() {
    const Bytes good = withHyperConfig([](PickleWriter& p) {
        p.emptyDict().mark();
        key(p, "lr");
        p.binFloat(1e-4);
        key(p, "negative");
        p.binFloat(-2.5);
        key(p, "tiny");
        p.binFloat(5e-324);
        key(p, "big");
        p.integer(int64_t(1) << 40);
        key(p, "minus");
        p.integer(-7);
        key(p, "flags");
        p.boolean(false).boolean(true).none().tupleN(3);
        key(p, "image_sizes");
        p.emptyList().mark().integer(224).integer(288).integer(384).raw({'e'});
        key(p, "by_layer");
        p.emptyDict().integer(3).string("merge").setItem();
        key(p, "text");
        p.string("caf\xc3\xa9 \xe2\x9c\x93");
        key(p, "momentum");
        pushNumpyScalar(p, 0.9);
        key(p, "blob");
        p.raw({'C', 2, 0xde, 0xad});
        key(p, "huge");
        p.raw({0x8a, 9, 0, 0, 0, 0, 0, 0, 0, 0, 1});
        key(p, "schedule");
        p.emptyList().mark().integer(1);
        pushGlobalCall(p, "os", "system", "true");
        p.integer(3).raw({'e'});
        key(p, "surrogate");
        p.string("\xed\xa0\x80");  // a lone surrogate, as Python's surrogatepass writes it
        p.setItems();
    });
    const LightningCheckpoint checkpoint = parse(good);
    const json expected = {
        {"lr", 1e-4},
        {"negative", -2.5},
        {"tiny", 5e-324},
        {"big", int64_t(1) << 40},
        {"minus", -7},
        {"flags", {false, true, nullptr}},
        {"image_sizes", {224, 288, 384}},
        {"by_layer", {{"3", "merge"}}},
        {"text", "caf\xc3\xa9 \xe2\x9c\x93"},
        {"schedule", {1, nullptr, 3}},
    };
    QVERIFY2(checkpoint.config == expected, checkpoint.config.dump().c_str());
    QCOMPARE(checkpoint.config.at("lr").get<double>(), 1e-4);
    QCOMPARE(checkpoint.config.at("tiny").get<double>(), 5e-324);
    const std::vector<std::string> skipped = {
        "config.momentum: numpy.core.multiarray.scalar",
        "config.blob: a bytes",
        "config.huge: an int wider than 64 bits",
        "config.schedule[1]: os.system",
        "config.surrogate: a str that is not valid UTF-8",
    };
    QCOMPARE(checkpoint.skippedConfigEntries, skipped);
    QVERIFY(!checkpoint.config.dump().empty());
}

void TestLightningCkpt::laterProtocolBookkeeping() {
    // Opcodes a protocol-4/5 pickler writes for bookkeeping (sets, NEWOBJ_EX, bytearray, stack
    // manipulation), all under a foreign global or outside state_dict: accepted and skipped.
    const TorchBinWriter writer = stateDictWriter();
    const Bytes file = writer.writeLightning([](PickleWriter& p) {
        key(p, "sets");
        p.raw({0x8f, '(', 'K', 1, 'K', 2, 0x90});                  // EMPTY_SET, ADDITEMS
        key(p, "frozen");
        p.raw({'(', 'K', 1, 0x91});                               // FROZENSET
        key(p, "kwargs_object");
        p.global("callbacks.custom", "Tracker").emptyTuple().emptyDict().raw({0x92});  // NEWOBJ_EX
        key(p, "buffer");
        p.raw({0x96, 3, 0, 0, 0, 0, 0, 0, 0, 'a', 'b', 'c'});     // BYTEARRAY8
        key(p, "stack_games");
        p.integer(5).raw({'2', '0'});                             // DUP, POP
        p.raw({'(', 'K', 9, 'K', 9, '1'});                        // POP_MARK
    });
    const LightningCheckpoint checkpoint = parse(file);
    verifyStateDict(file, checkpoint, writer);
    QVERIFY(checkpoint.config.is_null());
    QVERIFY(checkpoint.skippedConfigEntries.empty());
}

void TestLightningCkpt::plainStateDict() {
    // torch.save(model.state_dict(), "x.ckpt"): the top level is the state dict itself.
    const TorchBinWriter writer = stateDictWriter();
    const Bytes file = writer.write();
    const LightningCheckpoint checkpoint = parse(file);
    QVERIFY(!checkpoint.isLightning);
    QVERIFY(checkpoint.config.is_null());
    verifyStateDict(file, checkpoint, writer);
}

void TestLightningCkpt::strictReaderStillRefuses() {
    // pytorch_model.bin keeps refusing any foreign global, bookkeeping or not.
    const Bytes file = realisticCheckpoint(stateDictWriter(), [](PickleWriter& p) { p.none(); });
    try {
        tokenscope::parseTorchBin(file.data(), file.size(), "pytorch_model.bin");
        QFAIL("the strict reader accepted a Lightning checkpoint");
    } catch (const tokenscope::Error& error) {
        QCOMPARE(QString(error.what()),
                 QString("pytorch_model.bin: refuses to load: the pickle names the global "
                         "'pytorch_lightning.callbacks.model_checkpoint.ModelCheckpoint', which is not part of a "
                         "tensor state dict"));
    }
}

void TestLightningCkpt::refusedGlobalInStateDict() {
    const Bytes file = withStateDictEntry([](PickleWriter& p) { pushGlobalCall(p, "os", "system", "touch pwned"); });
    QCOMPARE(QString::fromStdString(parseError(file)),
             QString("model.ckpt: refuses to load: the pickle names the global 'os.system', which is not part of a "
                     "tensor state dict (state_dict entry 'evil')"));
}

void TestLightningCkpt::rejects_data() {
    QTest::addColumn<QByteArray>("file");
    QTest::addColumn<QString>("expected");
    auto row = [](const char* name, const Bytes& file, const QString& expected) {
        QTest::newRow(name) << toQByteArray(file) << expected;
    };

    // Foreign globals inside state_dict, however they are reached.
    row("builtins.eval value",
        withStateDictEntry([](PickleWriter& p) { pushGlobalCall(p, "builtins", "eval", "1"); }),
        "refuses to load: the pickle names the global 'builtins.eval', which is not part of a tensor state dict "
        "(state_dict entry 'evil')");
    row("subprocess.Popen value",
        withStateDictEntry([](PickleWriter& p) {
            p.global("subprocess", "Popen").emptyList().string("id").append().tupleN(1).reduce();
        }),
        "the global 'subprocess.Popen'");
    row("object made by NEWOBJ + BUILD",
        withStateDictEntry([](PickleWriter& p) {
            p.global("torch.nn.modules.linear", "Linear").emptyTuple().newObj().emptyDict().build();
        }),
        "the global 'torch.nn.modules.linear.Linear'");
    row("foreign class as a value",
        withStateDictEntry([](PickleWriter& p) { p.global("numpy", "ndarray"); }), "the global 'numpy.ndarray'");
    row("numpy scalar value", withStateDictEntry([](PickleWriter& p) { pushNumpyScalar(p, 1.0); }),
        "the global 'numpy.core.multiarray.scalar'");
    {
        PickleWriter p;
        p.proto(4).raw({'}', 0x8c, 10}).raw(Bytes{'s', 't', 'a', 't', 'e', '_', 'd', 'i', 'c', 't'});
        p.raw({'}', 0x8c, 1, 'w', 0x8c, 2, 'o', 's', 0x8c, 6, 's', 'y', 's', 't', 'e', 'm', 0x93});
        p.raw({0x8c, 2, 'i', 'd', 0x85, 'R', 's', 's', '.'});
        row("STACK_GLOBAL value", makeTorchZip(p.bytes()),
            "the global 'os.system', which is not part of a tensor state dict (state_dict entry 'w')");
    }
    {
        PickleWriter p;
        p.proto(2).global("collections", "OrderedDict").emptyTuple().reduce();
        key(p, "w");
        pushGlobalCall(p, "os", "system", "id");
        p.setItem().stop();
        row("plain state dict with os.system", makeTorchZip(p.bytes()),
            "the global 'os.system', which is not part of a tensor state dict (state dict entry 'w')");
    }
    {
        PickleWriter p;
        p.proto(2).emptyDict();
        key(p, "state_dict");
        p.global("collections", "defaultdict").emptyTuple().reduce();
        p.setItem().stop();
        row("state_dict itself foreign", makeTorchZip(p.bytes()),
            "the global 'collections.defaultdict', which is not part of a tensor state dict (state_dict)");
    }
    row("top object foreign", makeTorchZip(tokenscope::testing::makeGlobalCallPickle("os", "system")),
        "the global 'os.system', which is not part of a tensor state dict (data.pkl's top object)");

    // Other things that are not tensors.
    row("int in state_dict", withStateDictEntry([](PickleWriter& p) { p.integer(3); }),
        "state_dict entry 'evil' is a int, not a tensor");
    row("set in state_dict", withStateDictEntry([](PickleWriter& p) { p.raw({0x8f}); }),
        "state_dict entry 'evil' is a set, not a tensor");
    row("wide int in state_dict",
        withStateDictEntry([](PickleWriter& p) { p.raw({0x8a, 9, 1, 2, 3, 4, 5, 6, 7, 8, 9}); }),
        "state_dict entry 'evil' is an int wider than 64 bits, not a tensor");
    row("tensor with bad arguments",
        withStateDictEntry([](PickleWriter& p) {
            p.global("torch._utils", "_rebuild_tensor_v2").mark().integer(1).tuple().reduce();
        }),
        "state_dict entry 'evil' is not a tensor: _rebuild_tensor_v2 takes 6 or 7 arguments, got 1");
    row("tensor with an opaque storage",
        withStateDictEntry([](PickleWriter& p) {
            p.global("torch._utils", "_rebuild_tensor_v2").mark();
            pushGlobalCall(p, "os", "system", "id");
            p.integer(0).emptyTuple().emptyTuple().boolean(false).none().tuple().reduce();
        }),
        "state_dict entry 'evil' is not a tensor: tensor storage is a opaque object, expected a storage");
    {
        TorchBinWriter writer;
        writer.addStorage("0", DType::F32, patternBytes(8, 0));
        writer.addTensor({"w", "0", {2}, {}, 0, false});
        writer.addTensor({"w", "0", {1}, {}, 1, false});
        row("duplicate tensor name", writer.writeLightning(), "state_dict names tensor 'w' twice");
    }
    {
        PickleWriter p;
        p.proto(2).emptyDict().mark();
        key(p, "epoch");
        p.integer(3);
        key(p, "global_step");
        p.integer(10);
        key(p, "hyper_parameters");
        p.emptyDict();
        p.setItems().stop();
        row("missing state_dict", makeTorchZip(p.bytes()),
            "a Lightning checkpoint (it has epoch, global_step, hyper_parameters) without a 'state_dict' entry");
    }

    // The archive.
    {
        const TorchBinWriter writer = stateDictWriter();
        row("storage key missing in the zip", makeTorchZip(writer.lightningPickle()),
            "tensor 'encoder.weight' uses storage '0', but the archive has no entry 'archive/data/0'");
        row("storage smaller than claimed",
            makeTorchZip(writer.lightningPickle(), {{"0", patternBytes(8, 0)}}),
            "tensor 'encoder.weight': storage '0' claims 6 elements of F32 but its entry holds only 8 bytes");
    }
    row("view past its storage",
        [] {
            TorchBinWriter writer;
            writer.addStorage("0", DType::F32, patternBytes(16, 0));
            writer.addTensor({"w", "0", {5}, {}, 0, false});
            return writer.writeLightning();
        }(),
        "tensor 'w' reaches past the end of storage '0' (4 elements of F32)");
    {
        QFile fixture(QString::fromStdString(dataPath("meter/model.ckpt")));
        QVERIFY(fixture.open(QIODevice::ReadOnly));
        const Bytes whole = toBytes(fixture.readAll());
        row("truncated fixture", Bytes(whole.begin(), whole.begin() + whole.size() / 2),
            "not a zip archive or truncated: no end-of-central-directory record found");
    }
    {
        const TorchBinWriter writer = stateDictWriter();
        const Bytes pickle = writer.lightningPickle();
        row("truncated data.pkl", writer.archive(Bytes(pickle.begin(), pickle.begin() + pickle.size() / 2)),
            "archive/data.pkl byte");
    }
    row("not a zip", Bytes{'h', 'e', 'l', 'l', 'o'}, "does not start with a zip signature");
    row("bare pickle", stateDictWriter().lightningPickle(), "is a bare pickle, not a torch.save zip archive");

    // Limits: the pickle's and the config conversion's.
    {
        PickleWriter p;
        p.proto(2).raw(Bytes(300, '('));
        row("MARKs deeper than the limit", makeTorchZip(p.bytes()), "nesting deeper than 256 MARKs");
    }
    {
        PickleWriter p;
        p.proto(2).raw(Bytes((std::size_t(1) << 20) + 10, 'N'));
        row("stack past the limit", makeTorchZip(p.bytes()), "the pickle stack holds more than 1048576 values");
    }
    row("config nested too deep", withHyperConfig([](PickleWriter& p) {
            for (int i = 0; i < 70; ++i) p.emptyList();
            for (int i = 0; i < 69; ++i) p.append();
        }),
        "hyper_parameters.config nests deeper than 64 levels");
    row("config expanding exponentially", withHyperConfig([](PickleWriter& p) {
            // l0 = []; l(k) = [l(k-1), l(k-1)]: 2^22 values once expanded.
            p.emptyList();
            std::size_t previous = p.put();
            for (int k = 0; k < 21; ++k) {
                p.raw({'0'});  // POP: only the memo keeps l(k-1)
                p.emptyList().mark().get(previous).get(previous).raw({'e'});
                previous = p.put();
            }
        }),
        "hyper_parameters.config expands to more than 1048576 values");
}

void TestLightningCkpt::rejects() {
    QFETCH(QByteArray, file);
    QFETCH(QString, expected);
    const QString message = QString::fromStdString(parseError(toBytes(file)));
    QVERIFY2(message.startsWith(QString::fromStdString(kFileName + ": ")), qPrintable(message));
    QVERIFY2(message.contains(expected), qPrintable(message));
    QVERIFY2(!message.contains('\n'), qPrintable(message));
}

void TestLightningCkpt::truncated() {
    const Bytes whole = realisticCheckpoint(stateDictWriter(), [](PickleWriter& p) { pushGlobalCall(p, "os", "system", "id"); });
    QCOMPARE(parse(whole).tensors.size(), std::size_t(4));
    for (std::size_t cut = 0; cut < whole.size(); ++cut) {
        // A copy of exactly `cut` bytes, so that ASan sees any read past the end.
        const Bytes part(whole.begin(), whole.begin() + static_cast<std::ptrdiff_t>(cut));
        const std::string message = parseError(part);
        QVERIFY2(message.rfind(kFileName + ": ", 0) == 0,
                 qPrintable(QString("cut at %1: '%2'").arg(cut).arg(QString::fromStdString(message))));
    }
}

void TestLightningCkpt::corruptedBytes() {
    // Every byte of data.pkl's region and the directory replaced in turn: the parse either fails
    // with Error or returns records whose bytes lie inside the file.
    const Bytes original =
        realisticCheckpoint(stateDictWriter(), [](PickleWriter& p) { pushGlobalCall(p, "os", "system", "id"); });
    int parsed = 0;
    int refused = 0;
    for (std::size_t pos = 0; pos < original.size(); ++pos) {
        for (const uint8_t value : {uint8_t(0x00), uint8_t(0xff), uint8_t(original[pos] ^ 0x01)}) {
            if (value == original[pos]) continue;
            Bytes file = original;
            file[pos] = value;
            try {
                const LightningCheckpoint checkpoint = parse(file);
                for (const auto& [name, info] : checkpoint.tensors) {
                    QVERIFY(info.byteOffset <= file.size() && info.byteLength <= file.size() - info.byteOffset);
                    QVERIFY(elementExtent(info) * tokenscope::dtypeSize(info.dtype) <= info.byteLength);
                }
                (void)checkpoint.config.dump();  // whatever was extracted is valid JSON
                ++parsed;
            } catch (const tokenscope::Error& error) {
                QVERIFY(std::string(error.what()).rfind(kFileName + ": ", 0) == 0);
                ++refused;
            }
        }
    }
    qInfo("%d mutated files parsed, %d refused", parsed, refused);
    QVERIFY(parsed > 0);
    QVERIFY(refused > 0);
}

QTEST_APPLESS_MAIN(TestLightningCkpt)
#include "tst_lightning_ckpt.moc"
