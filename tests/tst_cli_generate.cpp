// tokenscope-cli generate / bench-generate end to end (LLaVA-NeXT, issue 6): raw tensors reproduce
// the transformers fixtures (expanded batch and legacy prompt); random models with grouped and
// multi-query KV heads, images whose padding leaves narrower last crops, and a model that generates
// the <image> id: the CLI's cached greedy ids agree with a recomputation without a cache; the
// streamed answer equals the final one; HiRED's record adds up; errors are one line.

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QTemporaryDir>
#include <QTest>
#include <fstream>
#include <torch/torch.h>

#include "support/cli_process.h"
#include "checkpoint/checkpoint.h"
#include "checkpoint/tensor_file.h"
#include "config/model_config.h"
#include "image/anyres.h"
#include "io/json_file.h"
#include "models/llava_next.h"
#include "support/tensor_compare.h"

using namespace tokenscope;
using tokenscope::test::allClose;
using tokenscope::test::dataPath;
using tokenscope::test::equal;

namespace {

using Run = tokenscope::test::CliRun;

Run cli(const QStringList& args) { return tokenscope::test::runCli(args, 300000); }

const QString kFixtureDir = QString::fromStdString(dataPath("llava_next"));
const QString kTinyDir = QString::fromStdString(dataPath("../../resources/models/llava-next-tiny-random"));
const QString kPhoto = QString::fromStdString(dataPath("images/photo.png"));

torch::Tensor validRows(const torch::Tensor& x, const torch::Tensor& mask) {
    std::vector<torch::Tensor> parts;
    for (int64_t b = 0; b < x.size(0); ++b) parts.push_back(x[b].index({mask[b].to(torch::kBool)}));
    return torch::cat(parts, 0);
}

void copyFile(const std::string& from, const std::string& to) {
    std::ifstream in(from, std::ios::binary);
    std::ofstream out(to, std::ios::binary);
    out << in.rdbuf();
}

constexpr int64_t kImageId = 95;
constexpr int64_t kOtherId = 7;

// A random model folder from the fixture's config with other KV heads. With imageTokenDrift the
// final norm keeps only dimension 0, lm_head reads it as +<image> / -kOtherId, and every embedding
// row but <image>'s has a large positive dimension 0 (<image>'s a large negative one): greedy
// decoding then alternates <image>, kOtherId, <image>, ...
LlavaNext writeRandomModel(const QString& dir, int kvHeads, bool imageTokenDrift, uint64_t seed) {
    auto json = readJsonObjectFile(dataPath("llava_next/config.json"), "config");
    json["text_config"]["num_key_value_heads"] = kvHeads;
    std::ofstream(dir.toStdString() + "/config.json") << json.dump(2);
    copyFile(dataPath("llava_next/preprocessor_config.json"), dir.toStdString() + "/preprocessor_config.json");
    copyFile(dataPath("llava_next/generation_config.json"), dir.toStdString() + "/generation_config.json");
    const auto config = parseModelConfig(json.dump(), "config.json");
    LlavaNext model(config.llavaNext);
    model->eval();
    torch::manual_seed(seed);
    torch::NoGradGuard noGrad;
    std::map<std::string, torch::Tensor> tensors;
    for (auto& item : model->named_parameters()) {
        auto& p = item.value();
        p.normal_(0.0, 0.2);
        if (imageTokenDrift && item.key() == "language_model.model.norm.weight") {
            p.zero_();
            p[0] = 1.0;
        }
        if (imageTokenDrift && item.key() == "language_model.model.embed_tokens.weight") {
            p.select(1, 0).fill_(10.0);
            p[kImageId][0] = -10.0;
        }
        if (imageTokenDrift && item.key() == "language_model.lm_head.weight") {
            p.select(1, 0).zero_();
            p[kImageId][0] = 1.0;
            p[kOtherId][0] = -1.0;
        }
        tensors[item.key()] = p.detach().clone();
    }
    writeTensorFile(dir.toStdString() + "/model.safetensors", tensors);
    return model;
}

ImageU8 patternImage(int height, int width) {
    ImageU8 image{width, height, 3, std::vector<uint8_t>(static_cast<std::size_t>(width * height * 3))};
    for (std::size_t i = 0; i < image.pixels.size(); ++i) image.pixels[i] = static_cast<uint8_t>(i * 7 % 251);
    return image;
}

}  // namespace

class TestCliGenerate : public QObject {
    Q_OBJECT
private slots:
    void inputsReproduceFixture() {
        QTemporaryDir dir;
        const QString out = dir.filePath("out.safetensors");
        const auto run = cli({"generate", "--model", kFixtureDir, "--inputs", kFixtureDir + "/inputs.safetensors", "--out", out,
                              "--max-new-tokens", "8"});
        QVERIFY2(run.exitCode == 0, qPrintable(run.err));
        const auto actual = readTensorFile(out.toStdString());
        const auto inputs = readTensorFile(dataPath("llava_next/inputs.safetensors"));
        const auto expected = readTensorFile(dataPath("llava_next/outputs.safetensors"));
        const auto mask = inputs.at("attention_mask");
        QCOMPARE(actual.at("logits").scalar_type(), torch::kFloat);
        QCOMPARE(actual.at("logits").sizes().vec(), (std::vector<int64_t>{2, 79, 96}));
        QVERIFY(allClose(validRows(actual.at("logits"), mask), validRows(expected.at("logits"), mask), 1e-4, "logits"));
        QCOMPARE(actual.at("generated_new_tokens").scalar_type(), torch::kLong);
        QVERIFY(equal(actual.at("generated_new_tokens"), expected.at("generated_new_tokens"), "generated_new_tokens"));
    }

    void legacyInputReproducesFixture() {
        QTemporaryDir dir;
        const auto inputs = readTensorFile(dataPath("llava_next/inputs.safetensors"));
        const auto expected = readTensorFile(dataPath("llava_next/outputs_legacy.safetensors"));
        const auto ids = inputs.at("legacy_input_ids");
        const QString in = dir.filePath("legacy.safetensors"), out = dir.filePath("out.safetensors");
        writeTensorFile(in.toStdString(), {{"input_ids", ids},
                                           {"pixel_values", inputs.at("pixel_values").slice(0, 0, 1)},
                                           {"image_sizes", inputs.at("image_sizes").slice(0, 0, 1)}});
        const auto run = cli({"generate", "--model", kFixtureDir, "--inputs", in, "--out", out, "--max-new-tokens", "8"});
        QVERIFY2(run.exitCode == 0, qPrintable(run.err));
        const auto actual = readTensorFile(out.toStdString());
        QVERIFY(allClose(actual.at("logits"), expected.at("legacy_logits"), 1e-4, "legacy logits"));
        QVERIFY(equal(actual.at("generated_new_tokens"), expected.at("legacy_generated_sequences").slice(1, ids.size(1)),
                      "legacy new tokens"));
    }

    // Other sizes than the fixture's: cached generation (the CLI) = recomputation without a cache.
    void randomModelsSelfConsistent_data() {
        QTest::addColumn<int>("kvHeads");
        QTest::addColumn<bool>("imageTokenDrift");
        QTest::newRow("GQA 2, narrow last crop") << 2 << false;
        QTest::newRow("MQA 1, narrow last crop") << 1 << false;
        QTest::newRow("MQA 1, generates <image>") << 1 << true;
    }
    void randomModelsSelfConsistent() {
        QFETCH(int, kvHeads);
        QFETCH(bool, imageTokenDrift);
        QTemporaryDir dir;
        c10::InferenceMode guard;
        auto model = writeRandomModel(dir.path(), kvHeads, imageTokenDrift, 11 + kvHeads);
        const auto& config = model->config();

        // Two images of other sizes; 40×100 pads by an odd remainder (45 of 56 rows): narrower last crops.
        const auto processor = loadAnyResConfig(dataPath("llava_next/preprocessor_config.json"));
        const std::vector<std::pair<int, int>> sizes{{40, 100}, {70, 30}};
        const auto batch = preprocessAnyRes({patternImage(40, 100), patternImage(70, 30)}, processor);
        std::vector<std::vector<int64_t>> rows;
        for (const auto& [h, w] : sizes) {
            const auto n = llavaNextImageTokenCount(h, w, config.imageGridPinpoints, 56, 14);
            std::vector<int64_t> row{1, 5, 9};
            row.insert(row.end(), static_cast<std::size_t>(n), kImageId);
            row.insert(row.end(), {12, 3, 40});
            rows.push_back(row);
        }
        const int64_t t = static_cast<int64_t>(std::max(rows[0].size(), rows[1].size()));
        auto ids = torch::zeros({2, t}, torch::kLong), mask = torch::zeros({2, t}, torch::kLong);
        for (int b = 0; b < 2; ++b) {
            const auto length = static_cast<int64_t>(rows[b].size());
            ids[b].slice(0, t - length).copy_(torch::tensor(rows[b], torch::kLong));
            mask[b].slice(0, t - length).fill_(1);
        }
        QVERIFY(rows[0].size() != rows[1].size());  // left padding in the batch
        const QString in = dir.filePath("in.safetensors"), out = dir.filePath("out.safetensors");
        writeTensorFile(in.toStdString(), {{"input_ids", ids}, {"attention_mask", mask}, {"pixel_values", batch.pixelValues},
                                           {"image_sizes", batch.imageSizes}});
        const int steps = 8;
        const auto run = cli({"generate", "--model", dir.path(), "--inputs", in, "--out", out, "--max-new-tokens", QString::number(steps)});
        QVERIFY2(run.exitCode == 0, qPrintable(run.err));
        const auto actual = readTensorFile(out.toStdString());
        const auto generated = actual.at("generated_new_tokens");
        QCOMPARE(generated.sizes().vec(), (std::vector<int64_t>{2, steps}));  // eos (2) never comes here
        if (imageTokenDrift) QVERIFY2((generated == kImageId).any().item<bool>(), "the model never generated <image>");

        // The CLI ran the folder's weights: its prompt logits equal this process's forward.
        const auto images = model->encodeImages(batch.pixelValues, batch.imageSizes);
        LlavaNextOptions keep;
        keep.keepInputsEmbeds = true;
        const auto prompt = model->forwardEncoded(ids, mask, {}, &images, keep);
        QVERIFY(allClose(validRows(actual.at("logits"), mask), validRows(prompt.logits, mask), 1e-5, "prompt logits"));

        // No cache: the prompt's embeddings plus the generated tokens' (the <image> id included, as
        // an ordinary embedding row), one forward over everything, argmax at every step's position.
        auto& lm = *model->languageModel();
        const auto embeds = torch::cat({prompt.inputsEmbeds, lm.embed(generated.slice(1, 0, steps - 1))}, 1);
        const auto fullMask = torch::cat({mask, torch::ones({2, steps - 1}, torch::kLong)}, 1);
        const auto positions = (fullMask.cumsum(-1) - 1).masked_fill(fullMask == 0, 1);
        const auto logits = lm.forward(embeds, fullMask, positions).logits;  // [2, T + steps - 1, V]
        const auto recomputed = logits.slice(1, t - 1).argmax(-1);          // [2, steps]
        QVERIFY(equal(recomputed, generated, "cached vs recomputed greedy ids"));
    }

    // The bundled tiny model: the streamed answer is the JSON's answer; HiRED's record adds up.
    void streamsAndRecords() {
        const QStringList common{"generate", "--model", kTinyDir, "--image", kPhoto, "--prompt", "What is the man doing?",
                                 "--max-new-tokens", "12"};
        const auto streamed = cli(common);
        QVERIFY2(streamed.exitCode == 0, qPrintable(streamed.err));
        const auto full = cli(common + QStringList{"--json"});
        QVERIFY2(full.exitCode == 0, qPrintable(full.err));
        const auto json = QJsonDocument::fromJson(full.out.toUtf8()).object();
        const auto answer = json["answer"].toString();
        QVERIFY(!answer.isEmpty());
        QVERIFY2(streamed.out.startsWith(answer + "\n\n"), qPrintable(streamed.out));
        QVERIFY(streamed.out.contains("TTFT"));
        QVERIFY(streamed.out.contains("visual tokens  70 kept of 70"));
        QCOMPARE(json["visual_tokens"].toInt(), 70);
        QVERIFY(json["token_ids"].toArray().size() <= 12);
        QVERIFY(json["timings_ms"].toObject()["ttft"].toDouble() > 0);

        const auto hired = cli(common + QStringList{"--json", "--method", "hired", "--budget", "0.5", "--mode", "reference"});
        QVERIFY2(hired.exitCode == 0, qPrintable(hired.err));
        const auto h = QJsonDocument::fromJson(hired.out.toUtf8()).object();
        const auto record = h["reduction"].toObject();
        QCOMPARE(record["total_budget"].toInt(), 40);  // int(5 · 16 · 0.5)
        QCOMPARE(record["full_image_budget"].toInt(), 16);  // min(int(40 · 0.5), 16)
        QCOMPARE(record["flagged_tokens"].toInt(), 8);
        int kept = 0;
        const auto partitions = record["partitions"].toArray();
        QCOMPARE(partitions.size(), 5);
        for (const auto& p : partitions) {
            const auto o = p.toObject();
            kept += o["kept"].toArray().size();
            QCOMPARE(o["cls_attention_final"].toArray().size(), 16);
            QVERIFY(o["kept"].toArray().size() <= o["selected"].toArray().size());
        }
        QCOMPARE(kept, h["visual_tokens"].toInt());
        QCOMPARE(record["tokens_kept"].toInt(), kept);
        QVERIFY(kept <= 40);
        QCOMPARE(h["prompt_tokens"].toInt(), json["prompt_tokens"].toInt() - 70 + kept);
    }

    void benchGenerateRows() {
        const auto run = cli({"bench-generate", "--model", kTinyDir, "--budgets", "full,0.2", "--batch", "1,2", "--runs", "1",
                              "--image-size", "64x80", "--max-new-tokens", "3", "--format", "json"});
        QVERIFY2(run.exitCode == 0, qPrintable(run.err));
        const auto rows = QJsonDocument::fromJson(run.out.toUtf8()).array();
        QCOMPARE(rows.size(), 4);
        for (const auto& r : rows) {
            const auto o = r.toObject();
            QVERIFY(o["ttft_ms"].toDouble() > 0);
            QVERIFY(o["end_to_end_ms"].toDouble() >= o["ttft_ms"].toDouble());
            QVERIFY(o["hired_tokens_per_s"].toDouble() > 0);
            QCOMPARE(o["visual_tokens_unreduced"].toInt(), 70);
        }
        QCOMPARE(rows[0].toObject()["visual_tokens_kept"].toInt(), 70);
        QVERIFY(rows[2].toObject()["visual_tokens_kept"].toInt() <= 16);  // int(5 · 16 · 0.2)
    }

    // One bench for every family: `bench` on a model that generates gives bench-generate's rows
    // (the same columns and token counts); options of the other kind are usage errors.
    void benchOnAGeneratingModelIsBenchGenerate() {
        const QStringList options{"--model", kTinyDir, "--budgets", "full,0.2", "--batch", "1", "--runs", "1",
                                  "--image-size", "64x80", "--max-new-tokens", "2", "--format", "json"};
        const auto bench = cli(QStringList{"bench"} + options);
        const auto generate = cli(QStringList{"bench-generate"} + options);
        QVERIFY2(bench.exitCode == 0, qPrintable(bench.err));
        QVERIFY2(generate.exitCode == 0, qPrintable(generate.err));
        const auto a = QJsonDocument::fromJson(bench.out.toUtf8()).array();
        const auto b = QJsonDocument::fromJson(generate.out.toUtf8()).array();
        QCOMPARE(a.size(), 2);
        QCOMPARE(a.size(), b.size());
        for (int i = 0; i < a.size(); ++i) {
            QCOMPARE(a[i].toObject().keys(), b[i].toObject().keys());
            for (const char* key : {"settings", "visual_tokens_unreduced", "visual_tokens_kept", "prompt_tokens", "new_tokens"})
                QCOMPARE(a[i].toObject()[key], b[i].toObject()[key]);
        }
        const auto wrongKind = cli({"bench", "--model", kTinyDir, "--autograd"});
        QCOMPARE(wrongKind.exitCode, 2);
        QVERIFY2(wrongKind.err.contains("--autograd applies to models that answer from labels"), qPrintable(wrongKind.err));
        const auto vilt = cli({"bench", "--model", QString::fromStdString(dataPath("vilt")), "--budgets", "0.2"});
        QCOMPARE(vilt.exitCode, 2);
        QVERIFY2(vilt.err.contains("--budgets applies to models that generate"), qPrintable(vilt.err));
    }

    void errors() {
        const auto vilt = cli({"generate", "--model", QString::fromStdString(dataPath("vilt")), "--image", kPhoto, "--prompt", "x"});
        QCOMPARE(vilt.exitCode, 1);
        QVERIFY2(vilt.err.contains("not a LLaVA-NeXT model"), qPrintable(vilt.err));
        QCOMPARE(vilt.err.count('\n'), 1);
        const auto usage = cli({"generate", "--model", kTinyDir, "--image", kPhoto});
        QCOMPARE(usage.exitCode, 2);
        const auto method = cli({"generate", "--model", kTinyDir, "--image", kPhoto, "--prompt", "x", "--method", "pumer"});
        QCOMPARE(method.exitCode, 2);
        QVERIFY2(method.err.contains("full, hired, spatial or random"), qPrintable(method.err));
        const auto raw = cli({"generate", "--model", kTinyDir, "--image", kPhoto, "--prompt", "no image here", "--raw-prompt"});
        QCOMPARE(raw.exitCode, 1);
        QVERIFY2(raw.err.contains("<image>"), qPrintable(raw.err));
    }
};

QTEST_GUILESS_MAIN(TestCliGenerate)
#include "tst_cli_generate.moc"
