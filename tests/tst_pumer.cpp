// PuMer (csarron/PuMer) at reference parity: the reducer.py helpers (tests/data/pumer
// function_cases), one vit_vilt.Block reduce layer for 7 settings (block_cases), PuMer's
// ViltForQuestionAnswering end to end on the tiny ViLT fixture (e2e_outputs), and token counts
// against PuMer's count formulas (csarron/PuMer vit_vilt.py Block.forward) in both modes.

#include <fstream>
#include <map>
#include <string>

#include <QTest>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "checkpoint/checkpoint.h"
#include "checkpoint/tensor_file.h"
#include "config/model_config.h"
#include "engine/version.h"
#include "models/vilt.h"
#include "reduce/pumer.h"
#include "support/tensor_compare.h"
#include "support/vilt_fixture.h"

using namespace tokenscope;
using tokenscope::test::allClose;
using tokenscope::test::dataPath;
using tokenscope::test::fixtureViltInputs;
using tokenscope::test::loadFixtureVilt;

Q_DECLARE_METATYPE(std::string)
Q_DECLARE_METATYPE(std::vector<int64_t>)

namespace {

// A plan running PuMer with `config` in `layers` (and its attention numerics in every layer), as the
// method's plan builder makes it.
ReductionPlan pumerPlan(const PumerConfig& config, const std::vector<int>& layers) {
    ReductionPlan plan;
    plan.numerics = config.mode;
    for (int l : layers) {
        LayerStep step;
        step.op = LayerStep::Op::Pumer;
        step.pumer = config;
        plan.steps[{Stage::Fusion, l}] = step;
    }
    return plan;
}
constexpr double kFunctionAtol = 1e-5;
constexpr double kBlockAtol = 1e-4;

const std::map<std::string, torch::Tensor>& tensors(const std::string& file) {
    static std::map<std::string, std::map<std::string, torch::Tensor>> cache;
    auto found = cache.find(file);
    if (found == cache.end()) found = cache.emplace(file, readTensorFile(dataPath("pumer/" + file))).first;
    return found->second;
}

nlohmann::json cases() {
    std::ifstream in(dataPath("pumer/cases.json"));
    if (!in) throw std::runtime_error("missing fixture pumer/cases.json");
    return nlohmann::json::parse(in);
}

PumerConfig configFromKwargs(const nlohmann::json& kwargs, ReductionMode mode) {
    PumerConfig c;
    c.mode = mode;
    c.pruneRatio = kwargs.value("prune_r", 0.0);
    c.mergeRatio = kwargs.value("merge_r", 0.0);
    c.textMergeRatio = kwargs.value("merge_text", 0.0);
    const auto sim = kwargs.value("sim_method", std::string("mh"));
    c.score = (sim == "fh" || sim == "first_head")  ? PruneScore::FirstHead
              : (sim == "km" || sim == "k_metric") ? PruneScore::KeyMetric
              : sim == "qk"                        ? PruneScore::QueryKey
                                                   : PruneScore::MeanHead;
    const auto style = kwargs.value("merge_style", std::string("tome"));
    c.mergeStyle = style == "tip" ? ImageMergeStyle::Tip : style == "diff" ? ImageMergeStyle::Diff : ImageMergeStyle::Tome;
    return c;
}

// vit_vilt.Block(dim=32, heads=2, mlp_ratio=4, qkv_bias=True, LayerNorm eps 1e-6) from timm names.
PreNormBlock loadBlock() {
    const BlockShape shape{32, 2, 128, 1e-6, true, Activation::Gelu};
    const BlockNames names{"norm1", "norm2", "attn", "q", "k", "v", "attn", "proj", "mlp.fc1", "mlp.fc2"};
    PreNormBlock block(shape, names);
    const auto& w = tensors("block_weights.safetensors");
    auto qkvWeight = w.at("attn.qkv.weight").chunk(3, 0);
    auto qkvBias = w.at("attn.qkv.bias").chunk(3, 0);
    std::map<std::string, torch::Tensor> source = w;
    const char* parts[] = {"q", "k", "v"};
    for (int i = 0; i < 3; ++i) {
        source[std::string("attn.") + parts[i] + ".weight"] = qkvWeight[i];
        source[std::string("attn.") + parts[i] + ".bias"] = qkvBias[i];
    }
    torch::NoGradGuard noGrad;
    for (auto& p : block->named_parameters()) p.value().copy_(source.at(p.key()));
    block->eval();
    return block;
}

// Logs the max |difference| so the achieved precision shows in the test output.
void logMaxError(const std::string& what, const torch::Tensor& actual, const torch::Tensor& expected) {
    if (!actual.defined() || actual.sizes() != expected.sizes()) return;
    const auto diff = (actual.to(torch::kDouble) - expected.to(torch::kDouble)).abs().max().item<double>();
    qInfo("%s max |diff| %.3g", what.c_str(), diff);
}

// PuMer's per-layer counts (vit_vilt.py Block.forward; Fixed gates each step on its own count), written
// independently of pumerCounts().
struct Expected {
    int64_t imageOut, textOut;
};
Expected expectedCounts(int64_t image, int64_t text, double p, double r, double t, ReductionMode mode) {
    auto rhe = [](double v) { return static_cast<int64_t>(std::nearbyint(v)); };
    const auto pruned = rhe(p * static_cast<double>(image));
    if (mode == ReductionMode::Reference && pruned == 0) {
        return {image, text};  // gated off; int(r) = 0 for ratios below 1
    }
    const auto kept = std::max<int64_t>(image - std::min(pruned, image - 1), 1);
    const auto merged = std::min(rhe(r * static_cast<double>(image)), (kept - 1) / 2);
    const auto textMerged = std::min(rhe(t * static_cast<double>(text)), (text - 1) / 2);
    return {kept - merged, text - textMerged};
}
}  // namespace

class TestPumer : public QObject {
    Q_OBJECT
private slots:
    void initTestCase() { torch::set_num_threads(1); }

    // The block's linears pad short float inputs with zero rows on OpenBLAS's AVX2 kernels (8 to 15
    // rows past a multiple of 16, inference only). Every row count from 1 to 40, in one and in three
    // samples, gives what the same block computes in double precision, where nothing is padded.
    void paddedRowsMatchDouble() {
        auto block = loadBlock();
        auto exact = loadBlock();
        exact->to(torch::kDouble);
        qInfo("OpenBLAS kernel set: '%s'", openblasCore().c_str());
        torch::manual_seed(3);
        c10::InferenceMode inference;
        for (const int64_t batch : {1, 3}) {
            for (int64_t n = 1; n <= 40; ++n) {
                const auto x = torch::randn({batch, n, 32});
                const auto attention = block->attentionHalf(x, {}, nullptr, nullptr);
                const auto expectedAttention = exact->attentionHalf(x.to(torch::kDouble), {}, nullptr, nullptr);
                const auto mlp = block->mlpHalf(attention);
                const auto expectedMlp = exact->mlpHalf(attention.to(torch::kDouble));
                const auto what = "batch " + std::to_string(batch) + ", " + std::to_string(n) + " tokens";
                QCOMPARE(attention.sizes().vec(), x.sizes().vec());
                QCOMPARE(mlp.sizes().vec(), x.sizes().vec());
                QVERIFY2(torch::allclose(attention.to(torch::kDouble), expectedAttention, 1e-5, 1e-5), what.c_str());
                QVERIFY2(torch::allclose(mlp.to(torch::kDouble), expectedMlp, 1e-5, 1e-5), what.c_str());
            }
        }
    }

    void functionCase_data() {
        QTest::addColumn<int>("index");
        QTest::addColumn<int>("r");
        const auto all = cases();
        QCOMPARE(all.at("functions").size(), std::size_t(4));
        for (const auto& c : all.at("functions")) {
            QTest::newRow(("case" + std::to_string(c.at("case").get<int>())).c_str()) << c.at("case").get<int>()
                                                                                       << c.at("r").get<int>();
        }
    }

    void functionCase() {
        QFETCH(int, index);
        QFETCH(int, r);
        const auto& t = tensors("function_cases.safetensors");
        const std::string p = "case" + std::to_string(index) + ".";
        const auto x = t.at(p + "x"), metric = t.at(p + "metric"), scores = t.at(p + "attn_scores");
        const auto soft = mergeWeightedAverage(bipartiteSoftMatching(metric, r, true), x);
        QVERIFY(allClose(soft.x, t.at(p + "soft_x_merged"), kFunctionAtol, "soft_x_merged"));
        QVERIFY(allClose(soft.size, t.at(p + "soft_size"), kFunctionAtol, "soft_size"));
        const auto tip = applyMerge(tipMatching(metric, scores, r), x, MergeReduce::Sum);
        QVERIFY(allClose(tip, t.at(p + "weighted_sum"), kFunctionAtol, "weighted_sum"));
        const auto diff = applyMerge(diffMatching(scores, r), x, MergeReduce::Sum);
        QVERIFY(allClose(diff, t.at(p + "diff_sum"), kFunctionAtol, "diff_sum"));
        logMaxError(p + "soft/tip/diff", torch::stack({(soft.x - t.at(p + "soft_x_merged")).abs().max(),
                                                      (tip - t.at(p + "weighted_sum")).abs().max(),
                                                      (diff - t.at(p + "diff_sum")).abs().max()}).max(),
                    torch::zeros({}));
    }

    void blockCase_data() {
        QTest::addColumn<std::string>("name");
        QTest::addColumn<std::string>("kwargs");
        QTest::addColumn<int>("textLengthOut");
        QTest::addColumn<int>("tokensOut");
        const auto all = cases();
        QCOMPARE(all.at("blocks").at("settings").size(), std::size_t(7));
        for (const auto& s : all.at("blocks").at("settings")) {
            const auto name = s.at("name").get<std::string>();
            QTest::newRow(name.c_str()) << name << s.at("kwargs").dump() << s.at("text_len_out").get<int>()
                                        << s.at("tokens_out").get<int>();
        }
    }

    void blockCase() {
        QFETCH(std::string, name);
        QFETCH(std::string, kwargs);
        QFETCH(int, textLengthOut);
        QFETCH(int, tokensOut);
        c10::InferenceMode guard;
        auto block = loadBlock();
        const auto& t = tensors("block_cases.safetensors");
        const auto config = configFromKwargs(nlohmann::json::parse(kwargs), ReductionMode::Reference);
        ViltLayerState state;
        state.hidden = t.at("x");
        state.mask = t.at("mask");
        state.textLength = 10;
        QVERIFY(torch::equal(t.at("mask").slice(1, 0, 10), t.at("text_masks")));
        const auto step = runViltLayer(*block, state, ReductionMode::Reference, &config, true);
        QVERIFY(allClose(step.attention, t.at(name + ".attn"), kBlockAtol, "attn"));
        QCOMPARE(step.state.textLength, int64_t(textLengthOut));
        QCOMPARE(step.state.hidden.size(1), int64_t(tokensOut));
        QVERIFY(allClose(step.state.hidden, t.at(name + ".x_out"), kBlockAtol, "x_out"));
        logMaxError(name + " x_out", step.state.hidden, t.at(name + ".x_out"));
        QVERIFY(allClose(step.state.mask, t.at(name + ".mask_out"), 1e-6, "mask_out"));
        QVERIFY(step.record.has_value());
        QCOMPARE(step.record->counts.tokensOut(), config.pruneRatio > 0 ? int64_t(tokensOut) : int64_t(23));
    }

    void endToEnd_data() {
        QTest::addColumn<std::string>("name");
        const auto all = cases();
        for (const auto& run : all.at("e2e").at("runs")) {
            const auto name = run.at("name").get<std::string>();
            QTest::newRow(name.c_str()) << name;
        }
    }

    void endToEnd() {
        QFETCH(std::string, name);
        c10::InferenceMode guard;
        nlohmann::json run;
        const auto all = cases();
        for (const auto& r : all.at("e2e").at("runs"))
            if (r.at("name") == name) run = r;
        const auto& expected = tensors("e2e_outputs.safetensors");
        auto model = loadFixtureVilt();
        ViltForwardOptions options;
        options.keepAttentions = options.keepHiddenStates = true;
        auto config = configFromKwargs(run.at("kwargs"), ReductionMode::Reference);
        std::vector<int> layers;
        if (run.at("reduce_layers").is_null()) {
            config.pruneRatio = config.mergeRatio = config.textMergeRatio = 0.0;
        } else {
            layers = run.at("reduce_layers").get<std::vector<int>>();
        }
        const auto plan = pumerPlan(config, layers);
        options.plan = &plan;
        const auto out = model->forward(fixtureViltInputs(), options);
        const auto& e = out.images.at(0);
        QVERIFY(allClose(out.logits, expected.at(name + ".logits"), kBlockAtol, "logits"));
        logMaxError(name + " logits", out.logits, expected.at(name + ".logits"));
        logMaxError(name + " last_hidden_states", e.lastHiddenState, expected.at(name + ".last_hidden_states"));
        QVERIFY(allClose(e.poolerOutput, expected.at(name + ".cls_feats"), kBlockAtol, "cls_feats"));
        QVERIFY(allClose(e.lastHiddenState, expected.at(name + ".last_hidden_states"), kBlockAtol, "last_hidden_states"));
        const auto& perBlock = run.at("per_block");
        for (std::size_t i = 0; i < perBlock.size(); ++i) {
            const auto p = name + ".block" + std::to_string(i) + ".";
            QVERIFY(allClose(e.attentions.at(i), expected.at(p + "attn"), kBlockAtol, p + "attn"));
            QVERIFY(allClose(e.hiddenStates.at(i + 1), expected.at(p + "x_out"), kBlockAtol, p + "x_out"));
            QCOMPARE(e.hiddenStates.at(i + 1).size(1), perBlock[i].at("tokens_out").get<int64_t>());
        }
        QCOMPARE(e.textLength, perBlock.back().at("text_len_out").get<int64_t>());
        QVERIFY(allClose(e.finalMask, expected.at(name + ".block" + std::to_string(perBlock.size() - 1) + ".mask_out"),
                         1e-6, "final mask"));
    }

    // p = r = t = 0: Fixed mode is bit-identical to the plain forward; Reference mode equals PuMer's
    // unreduced model (and HF ViLT within the fixtures' 1.2e-6).
    void zeroRatiosChangeNothing() {
        c10::InferenceMode guard;
        auto model = loadFixtureVilt();
        const auto inputs = fixtureViltInputs();
        const auto plain = model->forward(inputs);
        ViltForwardOptions options;
        PumerConfig config;
        config.pruneRatio = config.mergeRatio = config.textMergeRatio = 0.0;
        config.mode = ReductionMode::Fixed;
        const auto fixedPlan = pumerPlan(config, {0, 1});
        options.plan = &fixedPlan;
        const auto fixed = model->forward(inputs, options);
        QVERIFY(torch::equal(fixed.logits, plain.logits));
        config.mode = ReductionMode::Reference;
        const auto referencePlan = pumerPlan(config, {0, 1});
        options.plan = &referencePlan;
        const auto reference = model->forward(inputs, options);
        QVERIFY(allClose(reference.logits, plain.logits, 1e-5, "reference vs plain"));
        QVERIFY(allClose(reference.logits, tensors("e2e_outputs.safetensors").at("noreduce.logits"), kBlockAtol,
                         "reference vs PuMer noreduce"));
    }

    // Output token counts of pumerReduce equal PuMer's count formulas over a grid, in both modes.
    void countGrid_data() {
        QTest::addColumn<int>("image");
        QTest::addColumn<int>("text");
        QTest::addColumn<double>("p");
        QTest::addColumn<double>("r");
        QTest::addColumn<double>("t");
        QTest::addColumn<bool>("reference");
        for (int image : {2, 5, 13, 145}) {
            for (int text : {1, 4, 32}) {
                for (double p : {0.0, 0.1, 0.5}) {
                    for (double r : {0.0, 0.3, 0.5}) {
                        for (double t : {0.0, 0.2, 0.5}) {
                            for (bool reference : {true, false}) {
                                QTest::newRow(("I" + std::to_string(image) + "_T" + std::to_string(text) + "_p" +
                                               std::to_string(p) + "_r" + std::to_string(r) + "_t" + std::to_string(t) +
                                               (reference ? "_ref" : "_fixed"))
                                                  .c_str())
                                    << image << text << p << r << t << reference;
                            }
                        }
                    }
                }
            }
        }
    }

    void countGrid() {
        QFETCH(int, image);
        QFETCH(int, text);
        QFETCH(double, p);
        QFETCH(double, r);
        QFETCH(double, t);
        QFETCH(bool, reference);
        const auto mode = reference ? ReductionMode::Reference : ReductionMode::Fixed;
        PumerConfig config;
        config.pruneRatio = p;
        config.mergeRatio = r;
        config.textMergeRatio = t;
        config.mode = mode;
        torch::manual_seed(image * 1000 + text);
        const int64_t b = 2, heads = 2, length = text + image;
        PumerLayerInput input;
        input.hidden = torch::randn({b, length, 8});
        input.textLength = text;
        input.mask = torch::ones({b, length});
        input.keyMean = torch::randn({b, length, 4});
        input.textToImage = torch::rand({b, heads, text, image});
        const auto out = pumerReduce(input, config);
        const auto want = expectedCounts(image, text, p, r, t, mode);
        QCOMPARE(out.textLength, want.textOut);
        QCOMPARE(out.hidden.size(1), want.textOut + want.imageOut);
        QCOMPARE(out.mask.size(1), out.hidden.size(1));
        QCOMPARE(out.record.counts.tokensOut(), want.textOut + want.imageOut);
        if (out.record.isReduced) {
            // Every original image token is pruned or owned by exactly one output token.
            const auto owners = out.record.imageSource.sum(1);  // [B, I0]
            QVERIFY(owners.le(1).all().item<bool>());
            QCOMPARE(owners.sum(-1)[0].item<float>(), float(image - out.record.counts.tokensPruned));
            QCOMPARE(out.record.textSource.sum(1).min().item<float>(), 1.0f);
        }
    }

    // Worked count tables for PuMer's released ViLT settings (cascaded over the reduce layers, reference rounding).
    void workedTables_data() {
        QTest::addColumn<int>("text");
        QTest::addColumn<int>("layers");
        QTest::addColumn<std::vector<int64_t>>("imageOut");
        QTest::addColumn<std::vector<int64_t>>("textOut");
        QTest::addColumn<std::vector<int64_t>>("pruned");
        QTest::addColumn<std::vector<int64_t>>("merged");
        QTest::newRow("VQAv2 T0=32 layers 2,5,8") << 32 << 3 << std::vector<int64_t>{87, 52, 31}
                                                  << std::vector<int64_t>{26, 21, 17} << std::vector<int64_t>{14, 9, 5}
                                                  << std::vector<int64_t>{44, 26, 16};
        QTest::newRow("SNLI-VE T0=40 layers 2,4,6,8")
            << 40 << 4 << std::vector<int64_t>{87, 52, 31, 19} << std::vector<int64_t>{32, 26, 21, 17}
            << std::vector<int64_t>{14, 9, 5, 3} << std::vector<int64_t>{44, 26, 16, 9};
    }

    void workedTables() {
        QFETCH(int, text);
        QFETCH(int, layers);
        QFETCH(std::vector<int64_t>, imageOut);
        QFETCH(std::vector<int64_t>, textOut);
        QFETCH(std::vector<int64_t>, pruned);
        QFETCH(std::vector<int64_t>, merged);
        PumerConfig config;  // defaults: p 0.1, r 0.3, t 0.2, reference
        int64_t image = 145, t = text;
        for (int i = 0; i < layers; ++i) {
            const auto c = pumerCounts(image, t, config);
            QCOMPARE(c.tokensPruned, pruned[i]);
            QCOMPARE(c.tokensMerged, merged[i]);
            QCOMPARE(c.imageOut, imageOut[i]);
            QCOMPARE(c.textOut, textOut[i]);
            image = c.imageOut;
            t = c.textOut;
        }
        QCOMPARE(roundHalfEven(14.5), int64_t(14));
        QCOMPARE(roundHalfEven(43.5), int64_t(44));
        QCOMPARE(roundHalfEven(288.5), int64_t(288));
        QCOMPARE(roundHalfEven(2.5), int64_t(2));
    }
};

QTEST_APPLESS_MAIN(TestPumer)
#include "tst_pumer.moc"
