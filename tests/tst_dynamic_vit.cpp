// DynamicViT in ViLT (core/models/dynamic_vit.h; raoyongming/DynamicViT): per-stage budgets
// int(P0 · ρ^i) written out by hand, the image CLS always kept, top-scored patches kept, provenance
// and per-layer owners, identity at ρ = 1, predictor names and shapes of DynamicViT's PredictorLG, loading
// from a model folder through the engine (and the errors without predictors), the training forward
// (keep fractions, gradients to the predictors only when the backbone is frozen), the ratio loss
// pulling the keep fraction to its target, and trainVilt writing a DynamicViT folder.

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>

#include <QTemporaryDir>
#include <QTest>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "checkpoint/checkpoint.h"
#include "checkpoint/tensor_file.h"
#include "common/error.h"
#include "config/model_config.h"
#include "engine/engine.h"
#include "engine/trace_builder.h"
#include "methods/reduction_plan.h"
#include "models/dynamic_vit.h"
#include "models/vilt.h"
#include "support/tensor_compare.h"
#include "train/vilt_trainer.h"

using namespace tokenscope;
using tokenscope::test::allClose;

Q_DECLARE_METATYPE(std::vector<int64_t>)

namespace fs = std::filesystem;

namespace {

constexpr int kLayers = 12;
constexpr int kHidden = 32;
const std::vector<int> kLocations{3, 6, 9};  // DynamicViT's default for 12 blocks (main.py pruning_loc)

ViltConfig smallConfig(bool withPredictors) {
    ViltConfig c;
    c.hiddenSize = kHidden;
    c.numHiddenLayers = kLayers;
    c.numAttentionHeads = 2;
    c.intermediateSize = 64;
    c.vocabSize = 100;
    c.imageSize = 128;
    c.patchSize = 16;
    c.head = ViltHead::QuestionAnswering;
    c.id2label = {"a", "b", "c", "d", "e"};
    if (withPredictors) c.dynamicVit = DynamicVitConfig{kLocations, 0.7};
    return c;
}

// Random weights wide enough that the predictors' scores differ from patch to patch.
Vilt randomModel(const ViltConfig& config, uint64_t seed) {
    torch::manual_seed(static_cast<int64_t>(seed));
    Vilt model(config);
    torch::NoGradGuard noGrad;
    for (auto& p : model->named_parameters()) {
        const bool isNormWeight = p.value().dim() == 1 && p.key().find("weight") != std::string::npos &&
                                  (p.key().find("orm") != std::string::npos || p.key().find("in_conv.0") != std::string::npos);
        if (isNormWeight) p.value().fill_(1.0);
        else p.value().normal_(0.0, 0.2);
    }
    model->eval();
    return model;
}

// Two samples of 128x128 pixels (8x8 = 64 patches): the second one's valid region 96 rows x 128
// columns (6x8 = 48 patches, the rest padding). 10 text tokens, the second with 3 padded.
ViltInputs smallInputs() {
    torch::manual_seed(3);
    ViltInputs x;
    x.inputIds = torch::randint(5, 100, {2, 10}, torch::kLong);
    x.attentionMask = torch::ones({2, 10}, torch::kLong);
    x.attentionMask[1].slice(0, 7).fill_(0);
    x.pixelValues = torch::randn({2, 3, 128, 128});
    x.pixelMask = torch::ones({2, 128, 128}, torch::kLong);
    x.pixelMask[1].slice(0, 96).fill_(0);
    return x;
}

ReductionPlan dynamicVit(double keepRatio, bool training = false) {
    ReductionPlan plan;
    DynamicVitSettings d;
    d.locations = kLocations;
    d.keepRatio = keepRatio;
    d.training = training;
    plan.dynamicVit = d;
    return plan;
}

ViltOutputs run(Vilt& model, const std::optional<ReductionPlan>& reduction) {
    ViltForwardOptions options;
    options.keepHiddenStates = true;
    options.plan = reduction ? &*reduction : nullptr;
    return model->forward(smallInputs(), options);
}

bool isBinary(const torch::Tensor& x) { return (x.eq(0) | x.eq(1)).all().item<bool>(); }

void writeText(const fs::path& path, const std::string& text) {
    std::ofstream out(path);
    out << text;
}

// A ViLT VQA folder the engine and the trainer read: config.json (optionally with
// dynamicvit_config), vocab.txt, preprocessor_config.json (128 px), model.safetensors from `model`.
void writeFolder(const fs::path& dir, const ViltConfig& config, Vilt* model, bool writeDynamicVitConfig) {
    fs::create_directories(dir);
    nlohmann::json json = {
        {"architectures", {"ViltForQuestionAnswering"}}, {"model_type", "vilt"},
        {"hidden_size", config.hiddenSize}, {"num_hidden_layers", config.numHiddenLayers},
        {"num_attention_heads", config.numAttentionHeads}, {"intermediate_size", config.intermediateSize},
        {"vocab_size", config.vocabSize}, {"image_size", config.imageSize}, {"patch_size", config.patchSize},
        {"max_position_embeddings", 40}};
    for (std::size_t i = 0; i < config.id2label.size(); ++i) json["id2label"][std::to_string(i)] = config.id2label[i];
    if (writeDynamicVitConfig && config.dynamicVit)
        json["dynamicvit_config"] = {{"prune_locations", config.dynamicVit->pruneLocations},
                                     {"keep_ratio", config.dynamicVit->keepRatio}};
    writeText(dir / "config.json", json.dump(2));
    std::string vocab = "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n";
    for (const char* w : {"what", "colour", "is", "the", "circle", "how", "many", "red", "shapes", "are", "there", "?"})
        vocab += std::string(w) + "\n";
    for (int i = 17; i < config.vocabSize; ++i) vocab += "w" + std::to_string(i) + "\n";
    writeText(dir / "vocab.txt", vocab);
    writeText(dir / "preprocessor_config.json",
              R"({"size": {"shortest_edge": 128}, "size_divisor": 32, "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5]})");
    if (model) {
        std::map<std::string, torch::Tensor> tensors;
        for (const auto& p : (*model)->named_parameters()) tensors[p.key()] = p.value().detach().clone();
        writeTensorFile((dir / "model.safetensors").string(), tensors);
    }
}

ImageU8 noiseImage(int side, uint32_t seed) {
    ImageU8 image;
    image.width = image.height = side;
    image.pixels.resize(static_cast<std::size_t>(side * side * 3));
    uint32_t state = seed * 2654435761u + 1;
    for (auto& p : image.pixels) {
        state = state * 1664525u + 1013904223u;
        p = static_cast<uint8_t>(state >> 24);
    }
    return image;
}

}  // namespace

class TestDynamicVit : public QObject {
    Q_OBJECT
private slots:
    void initTestCase() { torch::set_num_threads(1); }

    // Stage i keeps int(64 · ρ^i) patches plus the image CLS (values computed by hand); the block
    // at each location sees the shorter sequence; survivors are the best-scored patches.
    void keepsBudgetPerStage_data() {
        QTest::addColumn<double>("keepRatio");
        QTest::addColumn<std::vector<int64_t>>("kept");
        QTest::newRow("0.7") << 0.7 << std::vector<int64_t>{44, 31, 21};   // 44.8, 31.36, 21.952
        QTest::newRow("0.5") << 0.5 << std::vector<int64_t>{32, 16, 8};
        QTest::newRow("0.9") << 0.9 << std::vector<int64_t>{57, 51, 46};   // 57.6, 51.84, 46.656
        QTest::newRow("0.25") << 0.25 << std::vector<int64_t>{16, 4, 1};
    }

    void keepsBudgetPerStage() {
        QFETCH(double, keepRatio);
        QFETCH(std::vector<int64_t>, kept);
        c10::InferenceMode guard;
        auto model = randomModel(smallConfig(true), 1);
        const auto out = run(model, dynamicVit(keepRatio));
        QVERIFY(torch::isfinite(out.logits).all().item<bool>());
        const auto& e = out.images.at(0);
        const int64_t text = 10;
        QCOMPARE(e.reductions.size(), std::size_t(3));
        int64_t before = 1 + 64;
        for (std::size_t i = 0; i < 3; ++i) {
            const auto& step = e.reductions[i];
            const auto& r = step.record;
            QCOMPARE(step.layer, kLocations[i]);
            QVERIFY(step.method == ReductionMethod::DynamicVit);
            QCOMPARE(r.counts.imageIn, before);
            QCOMPARE(r.counts.imageOut, 1 + kept[i]);
            QCOMPARE(r.counts.tokensPruned, before - 1 - kept[i]);
            // Block l's input is hiddenStates[l]: the location's block sees the pruned sequence.
            QCOMPARE(e.hiddenStates.at(static_cast<std::size_t>(step.layer)).size(1), text + before);
            QCOMPARE(e.hiddenStates.at(static_cast<std::size_t>(step.layer) + 1).size(1), text + 1 + kept[i]);
            // The image CLS first, in every sample.
            QVERIFY(r.keptIndex.select(1, 0).eq(0).all().item<bool>());
            QCOMPARE(r.keptIndex.size(1), 1 + kept[i]);
            // Sample 0 (no padding): every kept patch scores at least as high as every dropped one.
            const auto scores = r.imageScore[0].to(torch::kFloat);  // [I_in]
            auto isKept = torch::zeros({before}, torch::kBool);
            isKept.index_put_({r.keptIndex[0]}, true);
            const auto patchScores = scores.slice(0, 1), keptPatches = isKept.slice(0, 1);
            if (kept[i] < before - 1)
                QVERIFY2(patchScores.masked_select(keptPatches).min().item<float>() >=
                             patchScores.masked_select(~keptPatches).max().item<float>(),
                         ("stage " + std::to_string(i + 1)).c_str());
            // Sample 1 (48 valid patches): at stage 1 no padding patch survives while a valid one is dropped.
            if (i == 0) {
                const auto validKept = r.keptIndex[1].slice(0, 1).le(48).sum().item<int64_t>();
                QCOMPARE(validKept, std::min<int64_t>(kept[0], 48));
            }
            before = 1 + kept[i];
        }
        QCOMPARE(e.lastHiddenState.size(1), text + 1 + kept.back());
    }

    // Provenance: binary sources, at most one owner per original, the CLS always owned; in the
    // trace every original patch has an owner at the end or exactly one drop layer, a prune location;
    // no padding patch survives while valid ones are dropped.
    void provenanceAndOwners() {
        c10::InferenceMode guard;
        auto model = randomModel(smallConfig(true), 2);
        const auto out = run(model, dynamicVit(0.6));
        const auto& e = out.images.at(0);
        const auto imageOriginals = e.imageTokenMask.size(1);  // 65
        const auto valid = e.imageTokenMask.to(torch::kFloat);
        for (const auto& step : e.reductions) {
            const auto& r = step.record;
            QVERIFY(r.imageSource.defined());
            QCOMPARE(r.imageSource.size(2), imageOriginals);
            QVERIFY(isBinary(r.imageSource));
            const auto owners = r.imageSource.sum(1);  // [B, I0]
            QVERIFY(owners.le(1).all().item<bool>());
            QVERIFY(owners.select(1, 0).eq(1).all().item<bool>());
            QVERIFY(torch::equal(r.imageSize, r.imageSource.sum(-1)));
            QVERIFY(r.imageSize.eq(1).all().item<bool>());  // pruning never merges
            QVERIFY(!r.textSource.defined());
            // Sample 1 (48 valid patches): padding is kept only when every valid patch is.
            const auto validKept = (owners[1] * valid[1]).sum().item<double>();
            const auto paddingKept = (owners[1] * (1 - valid[1])).sum().item<double>();
            if (paddingKept > 0) QCOMPARE(validKept, valid[1].sum().item<double>());
        }
        const std::vector<std::string> words(10, "w");
        for (int64_t sample = 0; sample < 2; ++sample) {
            const auto trace = buildTrace(e, sample, words, TraceGeometry{16, 128, 128, kLayers});
            const std::set<int> locations(kLocations.begin(), kLocations.end());
            const auto& last = trace.layers.back();
            for (std::size_t o = 0; o < trace.image.droppedAt.size(); ++o) {
                const int dropped = trace.image.droppedAt[o];
                QVERIFY((last.image.owner[o] >= 0) != (dropped >= 0));
                if (dropped >= 0) QVERIFY(locations.count(dropped) == 1);
                // Once dropped, never owned again.
                for (const auto& layer : trace.layers)
                    QCOMPARE(layer.image.owner[o] >= 0, dropped < 0 || layer.index < dropped);
            }
            QCOMPARE(trace.image.droppedAt.at(0), -1);  // the image CLS
            for (const auto& layer : trace.layers) {
                if (locations.count(layer.index)) {
                    QVERIFY(layer.reduced);
                    // The location's block attends over the pruned tokens.
                    QCOMPARE(layer.image.tokensIn, layer.image.tokens);
                }
                // Owned valid originals never exceed the current tokens.
                int owned = 0;
                for (const int owner : layer.image.owner) owned += owner >= 0;
                QVERIFY(owned <= layer.image.tokens);
            }
        }
    }

    // ρ = 1 keeps every patch (in score order): the logits equal the unreduced model's.
    void keepAllEqualsUnreduced() {
        c10::InferenceMode guard;
        auto model = randomModel(smallConfig(true), 3);
        const auto plain = run(model, std::nullopt);
        const auto reduced = run(model, dynamicVit(1.0));
        QVERIFY(allClose(reduced.logits, plain.logits, 1e-5, "logits at rho 1"));
        const auto& e = reduced.images.at(0);
        QCOMPARE(e.reductions.size(), std::size_t(3));
        for (const auto& step : e.reductions) QCOMPARE(step.record.counts.tokensPruned, int64_t(0));
        // And pruning does change them.
        const auto pruned = run(model, dynamicVit(0.5));
        QVERIFY(!torch::allclose(pruned.logits, plain.logits, 1e-4, 1e-4));
    }

    // The predictor modules carry the names and shapes of PredictorLG (raoyongming/DynamicViT models/dyvit.py)
    // for C = 32.
    void predictorNamesAndShapes() {
        Vilt model(smallConfig(true));
        std::map<std::string, std::vector<int64_t>> actual;
        for (const auto& p : model->named_parameters())
            if (isDynamicVitParameter(p.key())) actual[p.key()] = p.value().sizes().vec();
        std::map<std::string, std::vector<int64_t>> expected;
        for (int i = 0; i < 3; ++i) {
            const std::string prefix = "dynamicvit.predictors." + std::to_string(i) + ".";
            expected[prefix + "in_conv.0.weight"] = {32};
            expected[prefix + "in_conv.0.bias"] = {32};
            expected[prefix + "in_conv.1.weight"] = {32, 32};
            expected[prefix + "in_conv.1.bias"] = {32};
            expected[prefix + "out_conv.0.weight"] = {16, 32};
            expected[prefix + "out_conv.0.bias"] = {16};
            expected[prefix + "out_conv.2.weight"] = {8, 16};
            expected[prefix + "out_conv.2.bias"] = {8};
            expected[prefix + "out_conv.4.weight"] = {2, 8};
            expected[prefix + "out_conv.4.bias"] = {2};
        }
        QCOMPARE(actual, expected);
        // No predictors without dynamicvit_config.
        Vilt plain(smallConfig(false));
        for (const auto& p : plain->named_parameters()) QVERIFY(!isDynamicVitParameter(p.key()));
        // The predictor's output is a log-probability pair per patch.
        torch::NoGradGuard noGrad;
        const auto logp = model->dynamicVitPredictor(0)->forward(torch::randn({2, 5, 32}), torch::ones({2, 5, 1}));
        QCOMPARE(logp.sizes().vec(), (std::vector<int64_t>{2, 5, 2}));
        QVERIFY(allClose(logp.exp().sum(-1), torch::ones({2, 5}), 1e-5, "probabilities sum to 1"));
    }

    // A folder with predictors: the engine loads them and runs dynamicvit with the trace showing the
    // stages; without predictors the method is a clear error; a config that promises predictors the
    // weights lack names the missing tensor.
    void engineLoadsPredictorsFromFolder() {
        QTemporaryDir tmp;
        QVERIFY(tmp.isValid());
        const fs::path root(tmp.path().toStdString());
        auto model = randomModel(smallConfig(true), 4);
        writeFolder(root / "with", smallConfig(true), &model, true);
        auto engine = Engine::open((root / "with").string());
        QVERIFY(engine->summary().config.vilt.dynamicVit.has_value());
        QCOMPARE(engine->summary().config.vilt.dynamicVit->pruneLocations, kLocations);
        QVERIFY(engine->summary().warnings.empty());
        RunRequest request;
        request.image = noiseImage(128, 1);
        request.question = "what colour is the circle ?";
        request.method = MethodSettings("dynamicvit");
        request.method.set("keep-ratio", 0.7);
        const auto result = engine->run(request);
        QCOMPARE(result.trace.layers.size(), std::size_t(kLayers));
        const std::vector<int> expectedTokens{65, 65, 65, 45, 45, 45, 32, 32, 32, 22, 22, 22};  // 1 + int(64 · 0.7^i)
        for (int l = 0; l < kLayers; ++l) {
            QCOMPARE(result.trace.layers[l].image.tokens, expectedTokens[l]);
            QCOMPARE(result.trace.layers[l].reduced, l == 3 || l == 6 || l == 9);
        }
        // The same weights through the model directly (the engine loaded the predictors, not fresh ones).
        const auto checkpoint = Checkpoint::open((root / "with").string());
        QVERIFY(checkpoint.contains("dynamicvit.predictors.2.out_conv.4.weight"));

        // Other locations of the same count are accepted; another count is not.
        request.method.set("prune-loc", std::vector<int>{2, 4, 8});
        const auto moved = engine->run(request);
        QVERIFY(moved.trace.layers[2].reduced && moved.trace.layers[8].reduced && !moved.trace.layers[3].reduced);
        request.method.set("prune-loc", std::vector<int>{3, 6});
        QVERIFY_THROWS_EXCEPTION(Error, engine->run(request));
        request.method.set("prune-loc", std::vector<int>{});

        // No predictors: a clear error naming the way to train them.
        auto plainModel = randomModel(smallConfig(false), 4);
        writeFolder(root / "without", smallConfig(false), &plainModel, false);
        auto plainEngine = Engine::open((root / "without").string());
        try {
            plainEngine->run(request);
            QFAIL("dynamicvit ran on a model without predictors");
        } catch (const Error& e) {
            const std::string what = e.what();
            QVERIFY2(what.find("no DynamicViT predictor weights") != std::string::npos, what.c_str());
            QVERIFY2(what.find("--method dynamicvit") != std::string::npos, what.c_str());
        }
        // dynamicvit_config without the tensors: the missing tensor is named.
        writeFolder(root / "promised", smallConfig(true), &plainModel, true);
        try {
            Engine::open((root / "promised").string());
            QFAIL("a config with dynamicvit_config loaded weights without predictors");
        } catch (const Error& e) {
            QVERIFY2(std::string(e.what()).find("dynamicvit.predictors.0.") != std::string::npos, e.what());
        }
    }

    void configValidation() {
        const auto parse = [](const std::string& dynamicVit) {
            return parseModelConfig(R"({"model_type": "vilt", "architectures": ["ViltModel"], "hidden_size": 32,
                "num_hidden_layers": 12, "num_attention_heads": 2, "intermediate_size": 64, "dynamicvit_config": )" +
                                        dynamicVit + "}",
                                    "config.json");
        };
        const auto c = parse(R"({"prune_locations": [2, 4, 6, 8], "keep_ratio": 0.5})");
        QVERIFY(c.vilt.dynamicVit.has_value());
        QCOMPARE(c.vilt.dynamicVit->pruneLocations, (std::vector<int>{2, 4, 6, 8}));
        QCOMPARE(c.vilt.dynamicVit->keepRatio, 0.5);
        for (const char* bad : {R"({"prune_locations": []})", R"({"prune_locations": [3, 3]})",
                                R"({"prune_locations": [0, 6]})", R"({"prune_locations": [3, 12]})",
                                R"({"prune_locations": [3], "keep_ratio": 0})", R"([3, 6, 9])"}) {
            try {
                parse(bad);
                QFAIL(bad);
            } catch (const Error& e) {
                QVERIFY2(std::string(e.what()).find("dynamicvit_config") != std::string::npos, e.what());
            }
        }
        QCOMPARE(defaultDynamicVitLocations(12), kLocations);
        QCOMPARE(defaultDynamicVitLocations(4), (std::vector<int>{1, 2, 3}));
        QCOMPARE(methodDescriptor("dynamicvit").id, std::string("dynamicvit"));
        MethodSettings s("dynamicvit");
        s.set("keep-ratio", 0.5);
        QCOMPARE(describe(s), std::string("dynamicvit rho 0.5"));
        QVERIFY_THROWS_EXCEPTION(Error, s.set("keep-ratio", 0.0));
        // Without predictors the plan is refused, saying how to train them.
        QVERIFY_THROWS_EXCEPTION(Error, makePlan(s, viltPlanContext(smallConfig(false))));
    }

    // Training forward: no token removed, one keep fraction per stage in [0, 1] and non-increasing;
    // gradients reach the predictors, and the backbone only when it is not frozen.
    void trainingModeFractionsAndGradients() {
        auto model = randomModel(smallConfig(true), 5);
        model->train();
        for (const bool predictorOnly : {true, false}) {
            const auto trainable = dynamicVitTrainableParameters(*model, predictorOnly);
            for (auto& p : model->parameters())
                if (p.grad().defined()) p.mutable_grad() = torch::Tensor();
            ViltForwardOptions options;
            const auto plan = dynamicVit(0.7, true);
            options.plan = &plan;
            const auto out = model->forward(smallInputs(), options);
            const auto& e = out.images.at(0);
            QVERIFY(e.reductions.empty());
            QCOMPARE(e.lastHiddenState.size(1), int64_t(10 + 65));
            QCOMPARE(e.keepFractions.size(), std::size_t(3));
            for (std::size_t i = 0; i < 3; ++i) {
                QCOMPARE(e.keepFractions[i].sizes().vec(), std::vector<int64_t>{2});
                QVERIFY(e.keepFractions[i].ge(0).all().item<bool>() && e.keepFractions[i].le(1).all().item<bool>());
                if (i > 0) QVERIFY(e.keepFractions[i].le(e.keepFractions[i - 1] + 1e-6).all().item<bool>());
            }
            const auto loss = out.logits.pow(2).sum() + dynamicVitRatioLoss(e.keepFractions, 0.7);
            loss.backward();
            int predictorsWithGradient = 0, backboneWithGradient = 0, backbone = 0;
            for (const auto& p : model->named_parameters()) {
                const bool hasGradient = p.value().grad().defined() && p.value().grad().abs().sum().item<double>() > 0;
                if (isDynamicVitParameter(p.key())) {
                    predictorsWithGradient += hasGradient;
                } else {
                    ++backbone;
                    backboneWithGradient += hasGradient;
                    if (predictorOnly) QVERIFY2(!p.value().grad().defined(), p.key().c_str());
                }
            }
            // Every predictor's last layer learns (the ratio loss reaches each stage).
            for (int i = 0; i < 3; ++i) {
                const auto& g = model->named_parameters()["dynamicvit.predictors." + std::to_string(i) + ".out_conv.4.weight"].grad();
                QVERIFY(g.defined() && torch::isfinite(g).all().item<bool>() && g.abs().sum().item<double>() > 0);
            }
            QVERIFY(predictorsWithGradient > 0);
            if (predictorOnly) {
                QCOMPARE(backboneWithGradient, 0);
                QCOMPARE(trainable.size(), std::size_t(30));
            } else {
                QVERIFY(backboneWithGradient > backbone / 2);
            }
        }
    }

    // Minimising the ratio loss alone moves the keep fractions to ρ^i: the loss falls and every
    // stage's mean kept fraction ends closer to its target than it started.
    void ratioLossPullsKeepFraction() {
        constexpr double kTarget = 0.3;  // far below where random predictors start (about 0.7, 0.5, 0.35)
        auto model = randomModel(smallConfig(true), 6);
        model->train();
        const auto trainable = dynamicVitTrainableParameters(*model, true);
        std::vector<torch::Tensor> parameters;
        for (const auto& [name, p] : trainable) parameters.push_back(p);
        torch::optim::Adam optimizer(parameters, torch::optim::AdamOptions(1e-2));
        torch::manual_seed(11);
        std::vector<double> losses;
        std::vector<std::vector<double>> fractions(3);
        const auto inputs = smallInputs();
        for (int step = 0; step < 40; ++step) {
            ViltForwardOptions options;
            const auto plan = dynamicVit(kTarget, true);
            options.plan = &plan;
            const auto out = model->forward(inputs, options);
            const auto loss = dynamicVitRatioLoss(out.images.at(0).keepFractions, kTarget);
            optimizer.zero_grad();
            loss.backward();
            optimizer.step();
            losses.push_back(loss.item<double>());
            for (std::size_t i = 0; i < 3; ++i)
                fractions[i].push_back(out.images.at(0).keepFractions[i].mean().item<double>());
        }
        const auto mean = [](const std::vector<double>& v, std::size_t from, std::size_t to) {
            double sum = 0;
            for (std::size_t i = from; i < to; ++i) sum += v[i];
            return sum / static_cast<double>(to - from);
        };
        const double early = mean(losses, 0, 5), late = mean(losses, 35, 40);
        qInfo("ratio loss %.4f -> %.4f", early, late);
        QVERIFY(late < 0.5 * early);
        for (std::size_t i = 0; i < 3; ++i) {
            const double target = std::pow(kTarget, static_cast<double>(i + 1));
            const double start = mean(fractions[i], 0, 5), end = mean(fractions[i], 35, 40);
            qInfo("stage %zu: kept %.3f -> %.3f (target %.3f)", i + 1, start, end, target);
            QVERIFY(std::abs(end - target) < std::abs(start - target));
        }
    }

    // trainVilt with method dynamicvit and a frozen backbone: config.json gains dynamicvit_config,
    // model.safetensors gains the predictors, the backbone is bit-identical, the log has the ratio.
    void trainerWritesDynamicVitFolder() {
        QTemporaryDir tmp;
        QVERIFY(tmp.isValid());
        const fs::path dir(tmp.path().toStdString());
        auto config = smallConfig(false);
        config.numHiddenLayers = 4;
        config.hiddenSize = 16;
        config.intermediateSize = 32;
        auto backbone = randomModel(config, 7);
        writeFolder(dir, config, &backbone, false);
        const auto before = readTensorFile((dir / "model.safetensors").string());

        TrainOptions o;
        o.modelDir = dir.string();
        o.method = MethodSettings("dynamicvit");
        o.method.set("keep-ratio", 0.7);
        o.trainPredictorOnly = true;
        o.batchSize = 4;
        o.steps = 3;
        o.validationExamples = 4;
        o.validateEvery = 3;
        o.logEvery = 1;
        o.checkpointEvery = 0;
        const auto source = [](uint64_t first, int count, std::vector<TrainExample>& out) {
            for (int i = 0; i < count; ++i) {
                TrainExample e;
                e.image = noiseImage(128, static_cast<uint32_t>(first + i));
                e.question = (first + i) % 2 ? "how many red shapes are there ?" : "what colour is the circle ?";
                e.label = static_cast<int64_t>((first + i) % 5);
                out.push_back(std::move(e));
            }
        };
        o.train = source;
        o.validation = source;
        std::vector<TrainProgress> reports;
        o.progress = [&](const TrainProgress& p) { reports.push_back(p); };
        const auto summary = trainVilt(o);
        QCOMPARE(summary.steps, int64_t(3));

        const auto trained = loadModelConfig((dir / "config.json").string());
        QVERIFY(trained.vilt.dynamicVit.has_value());
        QCOMPARE(trained.vilt.dynamicVit->pruneLocations, (std::vector<int>{1, 2, 3}));
        QCOMPARE(trained.vilt.dynamicVit->keepRatio, 0.7);
        const auto after = readTensorFile((dir / "model.safetensors").string());
        int predictors = 0;
        for (const auto& [name, tensor] : after) {
            if (isDynamicVitParameter(name)) {
                ++predictors;
                continue;
            }
            QVERIFY2(before.count(name) == 1, name.c_str());
            QVERIFY2(torch::equal(tensor, before.at(name)), name.c_str());
        }
        QCOMPARE(predictors, 30);
        QCOMPARE(after.size(), before.size() + 30);
        QVERIFY(!reports.empty());
        QCOMPARE(reports.back().keepFractions.size(), std::size_t(3));
        QVERIFY(reports.back().ratioLoss >= 0);
        std::ifstream log(dir / "train_log.csv");
        std::string header;
        std::getline(log, header);
        QVERIFY2(header.find(",ratio_loss,keep_1,keep_2,keep_3") != std::string::npos, header.c_str());

        // The trained folder opens and runs dynamicvit.
        auto engine = Engine::open(dir.string());
        RunRequest request;
        request.image = noiseImage(128, 9);
        request.question = "what colour is the circle ?";
        request.method = MethodSettings("dynamicvit");
        const auto result = engine->run(request);
        QCOMPARE(result.trace.layers.at(1).image.tokens, 1 + 44);

        // Freezing the backbone is a DynamicViT option only.
        o.method = MethodSettings();
        QVERIFY_THROWS_EXCEPTION(Error, trainVilt(o));
    }
};

QTEST_APPLESS_MAIN(TestDynamicVit)
#include "tst_dynamic_vit.moc"
