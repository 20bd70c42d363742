// Checkpoint loading end to end: the tiny ViLT fixture saved as pytorch_model.bin, as sharded
// safetensors and as F16 gives the same model; METER's Lightning .ckpt gives the tensors of its
// safetensors twin and its config; missing, unexpected and mis-shaped tensors, bad indexes,
// progress and cancel behave as documented.

#include <filesystem>
#include <fstream>

#include <QTemporaryDir>
#include <QTest>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "checkpoint/checkpoint.h"
#include "checkpoint/tensor_file.h"
#include "common/error.h"
#include "config/model_config.h"
#include "engine/engine.h"
#include "models/vilt.h"
#include "support/tensor_compare.h"
#include "support/vilt_fixture.h"
#include "support/torch_bin_writer.h"

using namespace tokenscope;
using tokenscope::test::allClose;
using tokenscope::test::dataPath;
namespace fs = std::filesystem;

namespace {

std::map<std::string, torch::Tensor> fixtureWeights() { return readTensorFile(dataPath("vilt/model.safetensors")); }

torch::Tensor logitsOf(const std::string& weightsPath) {
    c10::InferenceMode guard;
    return tokenscope::test::loadFixtureVilt(weightsPath)->forward(tokenscope::test::fixtureViltInputs()).logits;
}

void writeBytes(const std::string& path, const std::vector<uint8_t>& bytes) {
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

QString errorOf(const std::function<void()>& f) {
    try {
        f();
    } catch (const Error& e) {
        return e.what();
    }
    return {};
}

}  // namespace

class TestCheckpoint : public QObject {
    Q_OBJECT
private:
    torch::Tensor m_reference;

private slots:
    void initTestCase() { m_reference = logitsOf(dataPath("vilt/model.safetensors")); }

    void pytorchBinGivesSameModel() {
        QTemporaryDir dir;
        testing::TorchBinWriter writer("pytorch_model");
        int key = 0;
        for (const auto& [name, tensor] : fixtureWeights()) {
            const auto bytes = static_cast<const uint8_t*>(tensor.data_ptr());
            const std::string storage = std::to_string(key++);
            writer.addStorage(storage, DType::F32, std::vector<uint8_t>(bytes, bytes + tensor.nbytes()));
            writer.addTensor({name, storage, tensor.sizes().vec(), {}, 0, false});
        }
        // transformers' checkpoints also carry this int64 buffer; the loader ignores it.
        writer.addContiguous("vilt.embeddings.text_embeddings.position_ids", DType::I64, {1, 40});
        const std::string folder = dir.path().toStdString();
        writeBytes(folder + "/pytorch_model.bin", writer.write());
        fs::copy_file(dataPath("vilt/config.json"), folder + "/config.json");
        QVERIFY(allClose(logitsOf(folder + "/pytorch_model.bin"), m_reference, 0, "logits from .bin"));
        auto engine = Engine::open(folder);
        QVERIFY(engine->summary().warnings.empty());  // position_ids is expected, not a warning
    }

    void shardedSafetensors() {
        QTemporaryDir dir;
        const std::string folder = dir.path().toStdString();
        std::map<std::string, torch::Tensor> shards[2];
        nlohmann::json index;
        int i = 0;
        for (const auto& [name, tensor] : fixtureWeights()) {
            const int shard = i++ % 2;
            shards[shard][name] = tensor;
            index["weight_map"][name] = "model-0000" + std::to_string(shard + 1) + "-of-00002.safetensors";
        }
        writeTensorFile(folder + "/model-00001-of-00002.safetensors", shards[0]);
        writeTensorFile(folder + "/model-00002-of-00002.safetensors", shards[1]);
        std::ofstream(folder + "/model.safetensors.index.json") << index.dump();
        const auto checkpoint = Checkpoint::open(folder);
        QCOMPARE(checkpoint.files().size(), std::size_t(2));
        QVERIFY(allClose(logitsOf(folder), m_reference, 0, "logits from shards"));

        // An index that puts a tensor in the wrong shard, or a shard outside the folder.
        auto wrong = index;
        wrong["weight_map"][index["weight_map"].begin().key()] = "model-00002-of-00002.safetensors";
        std::ofstream(folder + "/model.safetensors.index.json") << wrong.dump();
        QVERIFY(errorOf([&] { Checkpoint::open(folder); }).contains("which does not hold it"));
        wrong["weight_map"][index["weight_map"].begin().key()] = "../escape.safetensors";
        std::ofstream(folder + "/model.safetensors.index.json") << wrong.dump();
        QVERIFY(errorOf([&] { Checkpoint::open(folder); }).contains("outside the model folder"));
    }

    void halfPrecisionWeightsConverted() {
        QTemporaryDir dir;
        std::map<std::string, torch::Tensor> half;
        for (const auto& [name, tensor] : fixtureWeights()) half[name] = tensor.to(torch::kHalf);
        const std::string path = dir.filePath("model.safetensors").toStdString();
        writeTensorFile(path, half);
        QCOMPARE(Checkpoint::open(path).info("vilt.pooler.dense.weight").dtype, DType::F16);
        QVERIFY(allClose(logitsOf(path), m_reference, 2e-2, "logits from F16 weights"));
    }

    void missingUnexpectedAndMisshaped() {
        QTemporaryDir dir;
        auto weights = fixtureWeights();
        weights.erase("vilt.pooler.dense.bias");
        weights["extra.tensor"] = torch::zeros({2});
        const std::string path = dir.filePath("model.safetensors").toStdString();
        writeTensorFile(path, weights);
        Vilt model(loadModelConfig(dataPath("vilt/config.json")).vilt);
        const auto missing = errorOf([&] { loadStateDict(*model, Checkpoint::open(path), {}); });
        QVERIFY2(missing.contains("model.safetensors: 1 parameter(s) missing: vilt.pooler.dense.bias"), qPrintable(missing));

        weights["vilt.pooler.dense.bias"] = torch::zeros({32});
        writeTensorFile(path, weights);
        const auto report = loadStateDict(*model, Checkpoint::open(path), {});
        QCOMPARE(report.unexpected, std::vector<std::string>{"extra.tensor"});

        weights["vilt.pooler.dense.bias"] = torch::zeros({31});
        writeTensorFile(path, weights);
        const auto shape = errorOf([&] { loadStateDict(*model, Checkpoint::open(path), {}); });
        QVERIFY2(shape.contains("'vilt.pooler.dense.bias' has shape [31] but the model expects [32]"), qPrintable(shape));
    }

    void folderWithoutWeights() {
        QTemporaryDir dir;
        QVERIFY(errorOf([&] { Checkpoint::open(dir.path().toStdString()); }).contains("no weights found"));
    }

    void maliciousBinRefused() {
        QTemporaryDir dir;
        const std::string path = dir.filePath("pytorch_model.bin").toStdString();
        writeBytes(path, testing::makeTorchZip(testing::makeGlobalCallPickle("os", "system")));
        const auto message = errorOf([&] { Checkpoint::open(path); });
        QVERIFY2(message.contains("pytorch_model.bin") && message.contains("os.system"), qPrintable(message));
    }

    void lightningCheckpointFolder() {
        // A folder holding only a Lightning checkpoint (any name, as METER's releases) opens it.
        QTemporaryDir dir;
        const std::string folder = dir.path().toStdString();
        fs::copy_file(dataPath("meter/model.ckpt"), folder + "/meter_clip16_288_roberta_vqa.ckpt");
        const auto checkpoint = Checkpoint::open(folder);
        QCOMPARE(checkpoint.files().size(), std::size_t(1));
        const auto reference = readTensorFile(dataPath("meter/model.safetensors"));
        QCOMPARE(checkpoint.names().size(), reference.size());
        for (const auto& [name, tensor] : reference) {
            QVERIFY2(torch::equal(checkpoint.tensor(name), tensor), name.c_str());
        }
        QCOMPARE(checkpoint.info("token_type_embeddings.weight").shape, (std::vector<int64_t>{3, 32}));
        QCOMPARE(checkpoint.info("text_transformer.embeddings.position_ids").dtype, DType::I64);
        const auto& config = checkpoint.hyperParameterConfig();
        QCOMPARE(config.at("num_heads").get<int>(), 4);
        QCOMPARE(config.at("vit_heads").get<int>(), 4);
        QCOMPARE(config.at("text_config").at("layer_norm_eps").get<double>(), 1e-05);
        QVERIFY(checkpoint.skippedConfigEntries().empty());
        // The file itself opens the same way.
        QCOMPARE(Checkpoint::open(folder + "/meter_clip16_288_roberta_vqa.ckpt").names(), checkpoint.names());

        // safetensors beside it is preferred (and has no hyper-parameters).
        fs::copy_file(dataPath("meter/model.safetensors"), folder + "/model.safetensors");
        const auto preferred = Checkpoint::open(folder);
        QCOMPARE(fileNameOf(preferred.files().front()), std::string("model.safetensors"));
        QVERIFY(preferred.hyperParameterConfig().is_null());
        fs::remove(folder + "/model.safetensors");

        // Two checkpoints: which one is meant is not guessed.
        fs::copy_file(dataPath("meter/model.ckpt"), folder + "/last.ckpt");
        const auto several = errorOf([&] { Checkpoint::open(folder); });
        QVERIFY2(several.contains("holds several Lightning checkpoints (last.ckpt, meter_clip16_288_roberta_vqa.ckpt)"),
                 qPrintable(several));
    }

    void lightningBookkeepingSkippedStateDictChecked() {
        QTemporaryDir dir;
        const std::string path = dir.filePath("model.ckpt").toStdString();
        const std::string marker = dir.filePath("executed").toStdString();
        testing::TorchBinWriter writer;
        writer.addContiguous("classifier.weight", DType::F32, {2, 3});
        writeBytes(path, writer.writeLightning([&](testing::PickleWriter& p) {
            p.string("callbacks");
            testing::pushGlobalCall(p, "os", "system", "touch '" + marker + "'");
        }));
        const auto checkpoint = Checkpoint::open(path);
        QCOMPARE(checkpoint.names(), std::vector<std::string>{"classifier.weight"});
        QCOMPARE(checkpoint.tensor("classifier.weight").sizes(), (c10::IntArrayRef{2, 3}));
        QVERIFY(checkpoint.hyperParameterConfig().is_null());
        QVERIFY(!fs::exists(marker));

        // The same call inside state_dict is refused, naming the file and the global.
        testing::PickleWriter p;
        p.proto(2).emptyDict().string("state_dict").emptyDict().string("classifier.weight");
        testing::pushGlobalCall(p, "os", "system", "touch '" + marker + "'");
        p.setItem().setItem().stop();
        writeBytes(path, testing::makeTorchZip(p.bytes()));
        const auto message = errorOf([&] { Checkpoint::open(path); });
        QCOMPARE(message, QString("model.ckpt: refuses to load: the pickle names the global 'os.system', which is not "
                                  "part of a tensor state dict (state_dict entry 'classifier.weight')"));
        QVERIFY(!fs::exists(marker));
    }

    void progressAndCancel() {
        Vilt model(loadModelConfig(dataPath("vilt/config.json")).vilt);
        const auto checkpoint = Checkpoint::open(dataPath("vilt/model.safetensors"));
        uint64_t last = 0, total = 0;
        int calls = 0;
        StateDictOptions options;
        options.progress = [&](uint64_t done, uint64_t all) {
            QVERIFY(done >= last);
            last = done;
            total = all;
            ++calls;
        };
        loadStateDict(*model, checkpoint, options);
        QVERIFY(calls > 10);
        QCOMPARE(last, total);
        QCOMPARE(total, checkpoint.totalBytes());

        std::atomic<bool> cancel{false};
        options.cancel = &cancel;
        options.progress = [&](uint64_t done, uint64_t) {
            if (done > 0) cancel = true;
        };
        bool cancelled = false;
        try {
            loadStateDict(*model, checkpoint, options);
        } catch (const Cancelled&) {
            cancelled = true;
        }
        QVERIFY(cancelled);
    }

    void randomWeightsAreSeeded() {
        const auto config = loadModelConfig(dataPath("vilt/config.json"));
        EngineOptions options;
        options.seed = 7;
        QTemporaryDir dir;
        const std::string a = dir.filePath("a.safetensors").toStdString(), b = dir.filePath("b.safetensors").toStdString(),
                          c = dir.filePath("c.safetensors").toStdString();
        Engine::fromConfig(config, options)->forwardFile(dataPath("vilt/inputs.safetensors"), a);
        Engine::fromConfig(config, options)->forwardFile(dataPath("vilt/inputs.safetensors"), b);
        options.seed = 8;
        Engine::fromConfig(config, options)->forwardFile(dataPath("vilt/inputs.safetensors"), c);
        const auto la = readTensorFile(a).at("logits"), lb = readTensorFile(b).at("logits"), lc = readTensorFile(c).at("logits");
        QVERIFY(torch::equal(la, lb));
        QVERIFY(!torch::allclose(la, lc));
    }
};

QTEST_APPLESS_MAIN(TestCheckpoint)
#include "tst_checkpoint.moc"
