// LLaVA-NeXT against the transformers v4.45.2 fixtures (tests/data/llava_next, a tiny seeded
// model): AnyRes preprocessing, the processor's token count, packed image features, every LM
// hidden state and attention, logits, greedy generation (left-padded batch and legacy single
// <image>), the KV cache, grouped and multi-query KV heads, and the newer checkpoint layout.

#include <QImage>
#include <QTemporaryDir>
#include <QTest>
#include <torch/torch.h>

#include "checkpoint/checkpoint.h"
#include "checkpoint/tensor_file.h"
#include "common/error.h"
#include "config/model_config.h"
#include "image/anyres.h"
#include "models/llava_next.h"
#include "support/png_image.h"
#include "support/tensor_compare.h"

using namespace tokenscope;
using tokenscope::test::allClose;
using tokenscope::test::dataPath;
using tokenscope::test::loadRgbImage;
using tokenscope::test::equal;

namespace {

constexpr double kAtol = 1e-4;

LlavaNext loadFixtureModel() {
    const auto config = loadModelConfig(dataPath("llava_next/config.json"));
    LlavaNext model(config.llavaNext);
    model->eval();
    const auto report = loadLlavaNextWeights(*model, Checkpoint::open(dataPath("llava_next/model.safetensors")));
    if (!report.unexpected.empty()) qWarning("unexpected tensors: %zu", report.unexpected.size());
    return model;
}

double maxAbsDiff(const torch::Tensor& a, const torch::Tensor& b) {
    return (a.to(torch::kDouble) - b.to(torch::kDouble)).abs().max().item<double>();
}

// Rows of [B, T, ...] at the valid (mask 1) positions of each batch row, concatenated.
torch::Tensor validRows(const torch::Tensor& x, const torch::Tensor& mask) {
    std::vector<torch::Tensor> parts;
    for (int64_t b = 0; b < x.size(0); ++b) parts.push_back(x[b].index({mask[b].to(torch::kBool)}));
    return torch::cat(parts, 0);
}

LlavaNextConfig randomConfig(int kvHeads) {
    LlavaNextConfig c;
    c.vision.hiddenSize = 16;
    c.vision.intermediateSize = 32;
    c.vision.numHiddenLayers = 2;
    c.vision.numAttentionHeads = 2;
    c.vision.imageSize = 28;
    c.vision.patchSize = 14;
    c.text.vocabSize = 40;
    c.text.hiddenSize = 32;
    c.text.intermediateSize = 48;
    c.text.numHiddenLayers = 2;
    c.text.numAttentionHeads = 4;
    c.text.numKeyValueHeads = kvHeads;
    c.text.headDim = 8;
    c.text.ropeTheta = 1e6;
    c.imageGridPinpoints = {{28, 56}, {56, 28}, {56, 56}};
    c.imageTokenIndex = 39;
    c.imageSeqLength = 4;
    return c;
}

void randomise(torch::nn::Module& module, uint64_t seed) {
    torch::manual_seed(seed);
    torch::NoGradGuard noGrad;
    for (auto& p : module.parameters()) p.normal_(0.0, 0.2);
}

}  // namespace

class TestLlavaNext : public QObject {
    Q_OBJECT
private slots:
    void config() {
        const auto config = loadModelConfig(dataPath("llava_next/config.json"));
        QCOMPARE(config.family, ModelFamily::LlavaNext);
        QCOMPARE(config.architecture, std::string("LlavaNextForConditionalGeneration"));
        const auto& c = config.llavaNext;
        QCOMPARE(c.text.modelType, std::string("llama"));
        QCOMPARE(c.text.numKeyValueHeads, 2);
        QCOMPARE(c.text.headDim, 12);
        QCOMPARE(c.text.rmsNormEps, 1e-6);
        QCOMPARE(c.text.ropeTheta, 10000.0);
        QCOMPARE(c.vision.hiddenSize, 32);
        QCOMPARE(c.vision.imageSize, 56);
        QVERIFY(c.vision.hiddenAct == Activation::QuickGelu);
        QCOMPARE(c.imageTokenIndex, 95);
        QCOMPARE(c.visionFeatureLayer, -2);
        QCOMPARE(c.imageGridPinpoints.size(), std::size_t(5));
        QCOMPARE(c.imageGridPinpoints[0], std::make_pair(56, 112));
        QCOMPARE(c.imageSeqLength, 16);
    }

    void configDefaultsAndErrors_data() {
        QTest::addColumn<QString>("json");
        QTest::addColumn<QString>("expected");  // "" = parses; otherwise a fragment of the error
        QTest::newRow("hub defaults") << R"({"model_type": "llava_next", "text_config": {"model_type": "mistral", "rope_theta": 1000000.0, "sliding_window": null}})"
                                      << "";
        QTest::newRow("text model_type") << R"({"model_type": "llava_next", "text_config": {"model_type": "gpt2"}})"
                                         << "x.json (text_config): key 'model_type'";
        QTest::newRow("kv heads") << R"({"model_type": "llava_next", "text_config": {"num_attention_heads": 32, "num_key_value_heads": 5}})"
                                  << "num_key_value_heads";
        QTest::newRow("pinpoints") << R"({"model_type": "llava_next", "image_grid_pinpoints": [[336, 600]]})"
                                   << "x.json: key 'image_grid_pinpoints'";
        QTest::newRow("strategy") << R"({"model_type": "llava_next", "vision_feature_select_strategy": "cls"})"
                                  << "vision_feature_select_strategy";
        QTest::newRow("rope scaling") << R"({"model_type": "llava_next", "text_config": {"rope_scaling": {"type": "linear"}}})"
                                      << "rope_scaling";
        QTest::newRow("vision layer") << R"({"model_type": "llava_next", "vision_feature_layer": 30})"
                                      << "vision_feature_layer";
    }
    void configDefaultsAndErrors() {
        QFETCH(QString, json);
        QFETCH(QString, expected);
        try {
            const auto config = parseModelConfig(json.toStdString(), "x.json");
            QVERIFY2(expected.isEmpty(), "no error");
            const auto& c = config.llavaNext;
            QCOMPARE(c.vision.numHiddenLayers, 24);
            QCOMPARE(c.vision.imageSize, 336);
            QCOMPARE(c.imageTokenIndex, 32000);
            QCOMPARE(c.text.modelType, std::string("mistral"));
            QCOMPARE(c.text.numKeyValueHeads, 8);
            QCOMPARE(c.text.headDim, 128);
            QCOMPARE(c.text.slidingWindow, 0);
            QCOMPARE(c.text.ropeTheta, 1e6);
            QCOMPARE(c.imageGridPinpoints.size(), std::size_t(5));
        } catch (const Error& e) {
            QVERIFY2(!expected.isEmpty(), e.what());
            QVERIFY2(QString(e.what()).contains(expected), e.what());
        }
    }

    void preprocessingMatchesProcessor() {
        const auto config = loadAnyResConfig(dataPath("llava_next/preprocessor_config.json"));
        const auto inputs = readTensorFile(dataPath("llava_next/inputs.safetensors"));
        const auto batch = preprocessAnyRes({loadRgbImage(dataPath("images/photo.png")), loadRgbImage(dataPath("images/nonsquare.png"))}, config);
        QCOMPARE(batch.cropCounts, (std::vector<int>{5, 3}));
        QVERIFY(equal(batch.imageSizes, inputs.at("image_sizes"), "image_sizes"));
        QVERIFY(allClose(batch.pixelValues, inputs.at("pixel_values"), 0.0, "pixel_values"));
    }

    // An odd (target - new) remainder leaves the canvas 1 px short: narrower last tiles, which
    // the per-crop resize + center crop bring back to the crop size.
    void oddPaddingRemainder() {
        const auto config = loadAnyResConfig(dataPath("llava_next/preprocessor_config.json"));
        ImageU8 image{100, 40, 3, std::vector<uint8_t>(100 * 40 * 3)};
        for (std::size_t i = 0; i < image.pixels.size(); ++i) image.pixels[i] = static_cast<uint8_t>(i * 7 % 251);
        QCOMPARE(selectBestResolution(40, 100, config.gridPinpoints), std::make_pair(56, 112));
        QCOMPARE(patchOutputSize(40, 100, 56, 112), std::make_pair(45, 112));
        const auto crops = anyResCrops(image, config);
        QCOMPARE(crops.size(), std::size_t(3));
        QCOMPARE(crops[0].width, 56);
        QCOMPARE(crops[0].height, 56);
        QCOMPARE(crops[1].height, 55);  // 45 + 2 * 5: one row short of 56
        QCOMPARE(crops[2].width, 56);
        QCOMPARE(crops[1].pixels[0], uint8_t(0));  // black padding on top
        const auto values = preprocessCrop(crops[1], config);
        QCOMPARE(values.sizes().vec(), (std::vector<int64_t>{3, 56, 56}));
        const auto batch = preprocessAnyRes({image}, config);
        QCOMPARE(batch.pixelValues.sizes().vec(), (std::vector<int64_t>{1, 3, 3, 56, 56}));
    }

    void imageTokenCounts() {
        const auto config = loadModelConfig(dataPath("llava_next/config.json")).llavaNext;
        const auto& pins = config.imageGridPinpoints;
        QCOMPARE(llavaNextImageTokenCount(64, 80, pins, 56, 14), 70);
        QCOMPARE(llavaNextImageTokenCount(70, 56, pins, 56, 14), 46);
        // With round(..., 7) the model's unpadding agrees with the processor everywhere, including
        // 47x188 / 188x47 where transformers v4.45's model gives 42 / 52 features.
        QCOMPARE(llavaNextImageTokenCount(47, 188, pins, 56, 14), 68);
        QCOMPARE(llavaNextFeatureCount(config, 47, 188), int64_t(68));
        QCOMPARE(llavaNextFeatureCount(config, 188, 47), int64_t(76));
        int mismatches = 0;
        for (int h = 1; h <= 240; ++h) {
            for (int w = 1; w <= 240; ++w) {
                if (llavaNextFeatureCount(config, h, w) != llavaNextImageTokenCount(h, w, pins, 56, 14)) ++mismatches;
            }
        }
        QCOMPARE(mismatches, 0);
        // llava-hf 336 px examples from the model's comments.
        const std::vector<std::pair<int, int>> hub{{336, 672}, {672, 336}, {672, 672}, {1008, 336}, {336, 1008}};
        QCOMPARE(llavaNextImageTokenCount(672, 672, hub, 336, 14), 2928);
        QCOMPARE(llavaNextImageTokenCount(899, 1024, hub, 336, 14), 2634);
        QCOMPARE(llavaNextImageTokenCount(1080, 1920, hub, 336, 14), 1948);
        QCOMPARE(llavaNextImageTokenCount(300, 1000, hub, 336, 14), 2182);
    }

    void expandedBatchEveryOutput() {
        c10::InferenceMode guard;
        auto model = loadFixtureModel();
        const auto inputs = readTensorFile(dataPath("llava_next/inputs.safetensors"));
        const auto expected = readTensorFile(dataPath("llava_next/outputs.safetensors"));
        LlavaNextOptions options;
        options.keepHiddenStates = options.keepAttentions = options.keepInputsEmbeds = true;
        options.keepImageFeatures = options.keepVisionFeatures = true;
        const auto mask = inputs.at("attention_mask");
        const auto out = model->forward(inputs.at("input_ids"), mask, inputs.at("position_ids"), inputs.at("pixel_values"),
                                        inputs.at("image_sizes"), options);
        QVERIFY(allClose(out.visionFeatures, expected.at("vision_selected_layer_output"), kAtol, "vision_selected_layer_output"));
        QCOMPARE(out.featureLengths, (std::vector<int64_t>{70, 46}));
        QVERIFY(allClose(out.imageFeatures, expected.at("image_features_packed"), kAtol, "image_features_packed"));
        QVERIFY(allClose(validRows(out.inputsEmbeds, mask), validRows(expected.at("inputs_embeds"), mask), kAtol, "inputs_embeds"));
        QCOMPARE(out.hiddenStates.size(), std::size_t(3));
        for (std::size_t i = 0; i < out.hiddenStates.size(); ++i) {
            const auto name = "lm_hidden_states." + std::to_string(i);
            QVERIFY(allClose(validRows(out.hiddenStates[i], mask), validRows(expected.at(name), mask), kAtol, name));
        }
        QCOMPARE(out.attentions.size(), std::size_t(2));
        for (std::size_t i = 0; i < out.attentions.size(); ++i) {
            const auto name = "lm_attentions." + std::to_string(i);
            // [B, H, T, T] -> [B, T, H, T]: valid query rows (masked keys are exactly 0 in both).
            QVERIFY(allClose(validRows(out.attentions[i].transpose(1, 2), mask),
                             validRows(expected.at(name).transpose(1, 2), mask), kAtol, name));
        }
        const auto logits = validRows(out.logits, mask), reference = validRows(expected.at("logits"), mask);
        QVERIFY(allClose(logits, reference, kAtol, "logits"));
        qInfo("max |logits - reference| = %.3g, packed features %.3g", maxAbsDiff(logits, reference),
              maxAbsDiff(out.imageFeatures, expected.at("image_features_packed")));
    }

    void expandedBatchGreedy() {
        c10::InferenceMode guard;
        auto model = loadFixtureModel();
        const auto inputs = readTensorFile(dataPath("llava_next/inputs.safetensors"));
        const auto expected = readTensorFile(dataPath("llava_next/outputs.safetensors"));
        GenerateOptions options;
        options.maxNewTokens = 8;
        options.padTokenId = 0;
        std::vector<torch::Tensor> scores;
        options.keepScores = &scores;
        int calls = 0;
        const auto tokens = model->generate(inputs.at("input_ids"), inputs.at("attention_mask"), inputs.at("pixel_values"),
                                            inputs.at("image_sizes"), options, [&](int step, const torch::Tensor& ids) {
                                                if (step != calls || ids.sizes() != torch::IntArrayRef({2})) return false;
                                                ++calls;
                                                return true;
                                            });
        QCOMPARE(calls, 8);
        QVERIFY(equal(tokens, expected.at("generated_new_tokens"), "generated_new_tokens"));
        QVERIFY(allClose(torch::stack(scores), expected.at("generation_step_scores"), kAtol, "generation_step_scores"));
        qInfo("max |step scores - reference| = %.3g",
              maxAbsDiff(torch::stack(scores), expected.at("generation_step_scores")));

        // A stop token ends a row (pad afterwards) and, when all rows stopped, the loop.
        GenerateOptions stopping;
        stopping.maxNewTokens = 8;
        stopping.stopTokenIds = {54};
        const auto stopped = model->generate(inputs.at("input_ids"), inputs.at("attention_mask"), inputs.at("pixel_values"),
                                             inputs.at("image_sizes"), stopping);
        QCOMPARE(stopped.size(1), int64_t(8));  // row 1 never says 54
        QCOMPARE(stopped[0][0].item<int64_t>(), int64_t(54));
        QCOMPARE(stopped[0].slice(0, 1).abs().sum().item<int64_t>(), int64_t(0));
        QVERIFY(equal(stopped[1], expected.at("generated_new_tokens")[1], "row 1 unaffected"));
    }

    void legacySingleImageToken() {
        c10::InferenceMode guard;
        auto model = loadFixtureModel();
        const auto inputs = readTensorFile(dataPath("llava_next/inputs.safetensors"));
        const auto expected = readTensorFile(dataPath("llava_next/outputs_legacy.safetensors"));
        const auto pixels = inputs.at("pixel_values").slice(0, 0, 1);
        const auto sizes = inputs.at("image_sizes").slice(0, 0, 1);
        const auto ids = inputs.at("legacy_input_ids");
        const auto out = model->forward(ids, {}, {}, pixels, sizes);
        QVERIFY(allClose(out.logits, expected.at("legacy_logits"), kAtol, "legacy_logits"));
        GenerateOptions options;
        options.maxNewTokens = 8;
        const auto tokens = model->generate(ids, {}, pixels, sizes, options);
        QVERIFY(equal(tokens, expected.at("legacy_generated_sequences").slice(1, ids.size(1)), "legacy new tokens"));
    }

    void promptImageCountMismatchIsAnError() {
        c10::InferenceMode guard;
        auto model = loadFixtureModel();
        const auto inputs = readTensorFile(dataPath("llava_next/inputs.safetensors"));
        auto ids = inputs.at("input_ids").slice(0, 0, 1).clone();
        ids.index_put_({0, -1}, 95);  // one <image> too many
        try {
            model->forward(ids, {}, {}, inputs.at("pixel_values").slice(0, 0, 1), inputs.at("image_sizes").slice(0, 0, 1));
            QFAIL("no error");
        } catch (const Error& e) {
            QVERIFY2(QString(e.what()).contains("71 <image> tokens"), e.what());
        }
    }

    // Incremental decoding with the KV cache equals a full forward's last position, for
    // multi-head, grouped and multi-query KV heads, on a left-padded batch.
    void kvCacheMatchesFullForward_data() {
        QTest::addColumn<int>("kvHeads");
        QTest::newRow("MHA 4") << 4;
        QTest::newRow("GQA 2") << 2;
        QTest::newRow("MQA 1") << 1;
    }
    void kvCacheMatchesFullForward() {
        QFETCH(int, kvHeads);
        c10::InferenceMode guard;
        Llama model(randomConfig(kvHeads).text);
        model->eval();
        randomise(*model, 7 + kvHeads);
        const auto ids = torch::randint(1, 39, {2, 12}, torch::kLong);
        auto mask = torch::ones({2, 12}, torch::kLong);
        mask[1].slice(0, 0, 3).zero_();  // left padding
        const auto positions = (mask.cumsum(-1) - 1).masked_fill(mask == 0, 1);
        const auto full = model->forward(model->embed(ids), mask, positions).logits;  // [2, 12, V]

        KvCache cache;
        LlamaOptions prefill;
        prefill.cache = &cache;
        const int split = 7;
        model->forward(model->embed(ids.slice(1, 0, split)), mask.slice(1, 0, split), positions.slice(1, 0, split), prefill);
        QCOMPARE(cache.length(), int64_t(split));
        QCOMPARE(cache.keys[0].size(1), int64_t(kvHeads));
        for (int i = split; i < 12; ++i) {
            const auto step = model->forward(model->embed(ids.slice(1, i, i + 1)), mask.slice(1, 0, i + 1),
                                             positions.slice(1, i, i + 1), prefill);
            const auto valid = validRows(step.logits, mask.slice(1, i, i + 1));
            QVERIFY(allClose(valid, validRows(full.slice(1, i, i + 1), mask.slice(1, i, i + 1)), kAtol,
                             "step " + std::to_string(i)));
        }
    }

    // A random tiny LLaVA-NeXT with one KV head runs end to end (expanded and legacy agree).
    void multiQueryRandomModel() {
        c10::InferenceMode guard;
        const auto config = randomConfig(1);
        LlavaNext model(config);
        model->eval();
        randomise(*model, 3);
        const int n = static_cast<int>(llavaNextFeatureCount(config, 30, 70));
        QCOMPARE(n, llavaNextImageTokenCount(30, 70, config.imageGridPinpoints, 28, 14));
        const auto crops = llavaNextCropCount(config, 30, 70);
        const auto pixels = torch::randn({1, crops, 3, 28, 28});
        const auto sizes = torch::tensor({30, 70}, torch::kLong).view({1, 2});
        std::vector<int64_t> expanded{1, 5, 6};
        expanded.insert(expanded.end(), n, 39);
        expanded.insert(expanded.end(), {7, 8});
        const auto ids = torch::tensor(expanded, torch::kLong).view({1, -1});
        const auto legacy = torch::tensor(std::vector<int64_t>{1, 5, 6, 39, 7, 8}, torch::kLong).view({1, -1});
        const auto a = model->forward(ids, {}, {}, pixels, sizes).logits;
        const auto b = model->forward(legacy, {}, {}, pixels, sizes).logits;
        QCOMPARE(a.sizes().vec(), (std::vector<int64_t>{1, n + 5, 40}));
        QVERIFY(allClose(b, a, 1e-5, "legacy vs expanded"));
        QVERIFY(torch::isfinite(a).all().item<bool>());
        GenerateOptions options;
        options.maxNewTokens = 4;
        QCOMPARE(model->generate(ids, {}, pixels, sizes, options).sizes().vec(), (std::vector<int64_t>{1, 4}));
    }

    // The transformers >= 4.52 names load into the same model.
    void newerCheckpointLayout() {
        c10::InferenceMode guard;
        auto reference = loadFixtureModel();
        const auto tensors = readTensorFile(dataPath("llava_next/model.safetensors"));
        std::map<std::string, torch::Tensor> renamed;
        const auto rename = [](const std::string& name) {
            const std::vector<std::pair<std::string, std::string>> rules{
                {"language_model.model.", "model.language_model."}, {"language_model.lm_head.", "lm_head."},
                {"vision_tower.", "model.vision_tower."}, {"multi_modal_projector.", "model.multi_modal_projector."},
                {"image_newline", "model.image_newline"}};
            for (const auto& [from, to] : rules) {
                if (name.rfind(from, 0) == 0) return to + name.substr(from.size());
            }
            return name;
        };
        for (const auto& [name, tensor] : tensors) renamed[rename(name)] = tensor;
        QTemporaryDir dir;
        const auto path = dir.filePath("model.safetensors").toStdString();
        writeTensorFile(path, renamed);
        LlavaNext model(loadModelConfig(dataPath("llava_next/config.json")).llavaNext);
        model->eval();
        loadLlavaNextWeights(*model, Checkpoint::open(path));
        const auto inputs = readTensorFile(dataPath("llava_next/inputs.safetensors"));
        const auto ids = inputs.at("legacy_input_ids");
        const auto pixels = inputs.at("pixel_values").slice(0, 0, 1), sizes = inputs.at("image_sizes").slice(0, 0, 1);
        QVERIFY(allClose(model->forward(ids, {}, {}, pixels, sizes).logits,
                         reference->forward(ids, {}, {}, pixels, sizes).logits, 0.0, "newer layout"));
    }
};

QTEST_APPLESS_MAIN(TestLlavaNext)
#include "tst_llava_next.moc"
