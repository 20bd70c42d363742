// Parity of the C++ ViLT and CLIP vision models with transformers v4.45.2 (tests/data fixtures):
// every hidden state, attention map, pooled output and logit, fp32 on the CPU, atol 1e-4.

#include <QTest>
#include <torch/torch.h>

#include "checkpoint/checkpoint.h"
#include "checkpoint/tensor_file.h"
#include "config/model_config.h"
#include "models/clip_vision.h"
#include "models/vilt.h"
#include "support/tensor_compare.h"
#include "support/vilt_fixture.h"

using namespace tokenscope;
using tokenscope::test::allClose;
using tokenscope::test::dataPath;
using tokenscope::test::equal;
using tokenscope::test::fixtureViltInputs;
using tokenscope::test::loadFixtureVilt;

namespace {
constexpr double kAtol = 1e-4;

}  // namespace

class TestModelParity : public QObject {
    Q_OBJECT
private slots:
    void initTestCase() { torch::set_num_threads(1); }

    void viltRasterOrderEveryOutput() {
        c10::InferenceMode guard;
        auto model = loadFixtureVilt();
        const auto expected = readTensorFile(dataPath("vilt/outputs_raster.safetensors"));
        ViltForwardOptions options;
        options.keepHiddenStates = options.keepAttentions = true;
        const auto out = model->forward(fixtureViltInputs(), options);
        const auto& e = out.images.at(0);
        QVERIFY(allClose(out.logits, expected.at("logits"), 1e-5, "logits"));
        QVERIFY(allClose(e.poolerOutput, expected.at("pooler_output"), kAtol, "pooler_output"));
        QVERIFY(allClose(e.lastHiddenState, expected.at("last_hidden_state"), kAtol, "last_hidden_state"));
        QCOMPARE(e.hiddenStates.size(), std::size_t(3));
        QCOMPARE(e.attentions.size(), std::size_t(2));
        for (std::size_t i = 0; i < e.hiddenStates.size(); ++i) {
            const auto name = "hidden_states." + std::to_string(i);
            QVERIFY(allClose(e.hiddenStates[i], expected.at(name), kAtol, name));
        }
        for (std::size_t i = 0; i < e.attentions.size(); ++i) {
            const auto name = "attentions." + std::to_string(i);
            QVERIFY(allClose(e.attentions[i], expected.at(name), kAtol, name));
        }
        QVERIFY(equal(e.imagePatchIndex, expected.at("image_patch_index"), "image_patch_index"));
        QVERIFY(equal(e.imageTokenMask, expected.at("image_token_mask"), "image_token_mask"));
        QVERIFY(equal(e.fullAttentionMask, expected.at("full_attention_mask"), "full_attention_mask"));
        QVERIFY(equal(torch::tensor({e.gridHeight, e.gridWidth}), expected.at("patch_grid_hw"), "patch_grid_hw"));
    }

    // The genuine run permuted patches at random; per-sequence outputs do not depend on the order.
    void viltRandomOrderLogits() {
        c10::InferenceMode guard;
        auto model = loadFixtureVilt();
        const auto expected = readTensorFile(dataPath("vilt/outputs.safetensors"));
        const auto out = model->forward(fixtureViltInputs());
        QVERIFY(allClose(out.logits, expected.at("logits"), 1e-5, "logits"));
        QVERIFY(allClose(out.images.at(0).poolerOutput, expected.at("pooler_output"), kAtol, "pooler_output"));
    }

    // Fused attention (no probabilities asked for) gives the same result as the unfused path.
    void viltFusedAttentionMatches() {
        c10::InferenceMode guard;
        auto model = loadFixtureVilt();
        const auto inputs = fixtureViltInputs();
        ViltForwardOptions unfused;
        unfused.keepAttentions = true;
        const auto a = model->forward(inputs, unfused);
        const auto b = model->forward(inputs);
        QVERIFY(allClose(b.logits, a.logits, 1e-5, "logits fused vs unfused"));
    }

    void clipVisionEveryOutput() {
        c10::InferenceMode guard;
        const auto config = loadModelConfig(dataPath("clip_vision/config.json"));
        QCOMPARE(config.family, ModelFamily::ClipVision);
        ClipVision model(config.clipVision);
        model->eval();
        loadStateDict(*model, Checkpoint::open(dataPath("clip_vision/model.safetensors")), {});
        const auto inputs = readTensorFile(dataPath("clip_vision/inputs.safetensors"));
        const auto expected = readTensorFile(dataPath("clip_vision/outputs.safetensors"));
        ClipVisionOptions options;
        options.keepHiddenStates = options.keepAttentions = true;
        const auto out = model->forward(inputs.at("pixel_values"), options);
        QVERIFY(allClose(out.lastHiddenState, expected.at("last_hidden_state"), kAtol, "last_hidden_state"));
        QVERIFY(allClose(out.poolerOutput, expected.at("pooler_output"), kAtol, "pooler_output"));
        QCOMPARE(out.hiddenStates.size(), std::size_t(3));
        for (std::size_t i = 0; i < out.hiddenStates.size(); ++i) {
            const auto name = "hidden_states." + std::to_string(i);
            QVERIFY(allClose(out.hiddenStates[i], expected.at(name), kAtol, name));
        }
        for (std::size_t i = 0; i < out.attentions.size(); ++i) {
            const auto name = "attentions." + std::to_string(i);
            QVERIFY(allClose(out.attentions[i], expected.at(name), kAtol, name));
        }
    }

    // bf16 runs and stays close to fp32 (loose tolerance: 8 mantissa bits).
    void viltBfloat16Close() {
        c10::InferenceMode guard;
        auto model = loadFixtureVilt();
        const auto inputs = fixtureViltInputs();
        const auto reference = model->forward(inputs).logits;
        model->to(torch::kBFloat16);
        const auto low = model->forward(inputs).logits;
        QCOMPARE(low.scalar_type(), torch::kBFloat16);
        QVERIFY(allClose(low.to(torch::kFloat), reference, 0.25, "bf16 logits"));
    }
};

QTEST_APPLESS_MAIN(TestModelParity)
#include "tst_model_parity.moc"
