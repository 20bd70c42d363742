// METER and PuMer-on-METER at parity with the reference fixtures (tests/data/meter, copied from the
// fixtures generated with csarron/PuMer's own METER code and zdou0830/METER for the cross-check):
// every tensor of encoders / outputs_{vqa,nlvr2,interp} / crosscheck_original_meter within the
// fixture README's tolerances (states and attention 1e-4, cls_feats / logits 1e-5, indices and
// counts exact); the config from hyper_parameters vs the shapes; .ckpt vs safetensors; the reducer's
// counts against csarron/PuMer modules_meter.py's formulas; other model sizes; preprocessing; errors.

#include <fstream>
#include <map>
#include <set>
#include <string>

#include <QTest>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "checkpoint/checkpoint.h"
#include "checkpoint/tensor_file.h"
#include "common/error.h"
#include "config/meter_config.h"
#include "engine/timeline.h"
#include "image/meter_preprocess.h"
#include "models/meter.h"
#include "reduce/pumer_meter.h"
#include "support/tensor_compare.h"

using namespace tokenscope;
using tokenscope::test::allClose;
using tokenscope::test::dataPath;
using tokenscope::test::equal;

Q_DECLARE_METATYPE(std::string)
Q_DECLARE_METATYPE(std::vector<int>)

namespace {
constexpr double kStateAtol = 1e-4;   // encoders, fusion states, attention maps, scores, metrics
constexpr double kOutputAtol = 1e-5;  // cls_feats, logits

const std::map<std::string, torch::Tensor>& fixture(const std::string& file) {
    static std::map<std::string, std::map<std::string, torch::Tensor>> cache;
    auto found = cache.find(file);
    if (found == cache.end()) found = cache.emplace(file, readTensorFile(dataPath("meter/" + file))).first;
    return found->second;
}

const nlohmann::json& cases() {
    static const nlohmann::json all = [] {
        std::ifstream in(dataPath("meter/cases.json"));
        if (!in) throw std::runtime_error("missing fixture meter/cases.json");
        return nlohmann::json::parse(in);
    }();
    return all;
}

const Checkpoint& fixtureCheckpoint() {
    static const Checkpoint checkpoint = Checkpoint::open(dataPath("meter/model.ckpt"));
    return checkpoint;
}

Meter loadFixtureMeter() {
    const auto& checkpoint = fixtureCheckpoint();
    Meter model(meterConfigOf(checkpoint));
    const auto report = model->loadWeights(checkpoint);
    if (!report.unexpected.empty()) throw std::runtime_error("unexpected tensor " + report.unexpected.front());
    model->eval();
    return model;
}

Meter& fixtureMeter() {
    static Meter model = loadFixtureMeter();
    return model;
}

MeterInputs batchInputs(const std::string& batch) {
    const auto& in = fixture("inputs.safetensors");
    const std::string p = batch == "tight" ? "tight." : "";
    MeterInputs inputs;
    inputs.inputIds = in.at(p + "input_ids");
    inputs.attentionMask = in.at(p + "attention_mask");
    inputs.pixelValues = in.at("pixel_values");
    return inputs;
}

// Logs the max |difference| so the achieved precision shows in the test output.
void logMaxError(const std::string& what, const torch::Tensor& actual, const torch::Tensor& expected) {
    if (!actual.defined() || actual.sizes() != expected.sizes()) return;
    qInfo("%s max |diff| %.3g", what.c_str(),
          (actual.to(torch::kDouble) - expected.to(torch::kDouble)).abs().max().item<double>());
}

MeterForwardOptions runOptions(const nlohmann::json& run) {
    MeterForwardOptions options;
    options.keepHiddenStates = options.keepAttentions = true;
    if (!run.at("reduce_layers").is_null()) {
        MeterReduction reduction;
        reduction.pumer.mode = ReductionMode::Reference;
        reduction.pumer.pruneRatio = run.at("prune_r").get<double>();
        reduction.pumer.mergeRatio = run.at("merge_r").get<double>();
        reduction.pumer.textMergeRatio = run.at("merge_text").get<double>();
        reduction.fusionLayers = meterFusionLayersFromLayerIdx(run.at("reduce_layers").get<std::vector<int>>());
        options.reduction = reduction;
    }
    return options;
}

const MeterLayerReduction* reductionAt(const MeterPass& pass, int fusionLayer) {
    for (const auto& r : pass.reductions)
        if (r.fusionLayer == fusionLayer) return &r;
    return nullptr;
}

// One fixture tensor (its name below "<run>." and "passN.") -> what the C++ forward produced.
// Returns an undefined tensor and sets `known` false for a name it does not know.
torch::Tensor actualFor(const std::string& name, const MeterOutputs& out, const MeterPass& pass, bool& known, bool& exact,
                        double& atol) {
    known = true;
    exact = false;
    atol = kStateAtol;
    if (name == "logits") return atol = kOutputAtol, out.logits;
    if (name == "cls_feats") return atol = kOutputAtol, out.clsFeats;
    if (name == "y0") return pass.imageFusionInput;
    if (name == "enc.image_out") return pass.imageOut;
    if (name.rfind("fusion.", 0) != 0) return known = false, torch::Tensor();
    const auto dot = name.find('.', 7);
    const int j = std::stoi(name.substr(7, dot - 7));
    const auto field = name.substr(dot + 1);
    if (j < 0 || j >= static_cast<int>(pass.fusion.size())) return torch::Tensor();
    const auto& step = pass.fusion[static_cast<std::size_t>(j)];
    if (field == "text") return step.text;
    if (field == "image") return step.image;
    if (field == "t2i_attn") return step.textToImage;
    if (field == "i2t_attn") return step.imageToText;
    const auto* r = reductionAt(pass, j);
    if (!r) return torch::Tensor();
    const auto& record = r->record;
    const auto column = [](const torch::Tensor& t) { return t.defined() ? t.unsqueeze(-1) : t; };
    exact = true;
    if (field == "prune.keep_idx") return record.keptIndex;
    if (field == "image_merge.unm_idx") return column(r->imageMatch.unmergedIndex);
    if (field == "image_merge.src_idx") return column(r->imageMatch.sourceIndex);
    if (field == "image_merge.dst_idx") return column(r->imageMatch.destinationIndex);
    if (field == "text_merge.unm_idx") return column(r->textMatch.unmergedIndex);
    if (field == "text_merge.src_idx") return column(r->textMatch.sourceIndex);
    if (field == "text_merge.dst_idx") return column(r->textMatch.destinationIndex);
    exact = false;
    if (field == "prune.scores") return record.imageScore;
    if (field == "prune.keep_scores") return record.keptScore;
    if (field == "image_metric") return r->imageMetric;
    if (field == "text_metric") return r->textMetric;
    if (field == "image_reduced") return r->imageReduced;
    if (field == "text_mask") return atol = 1e-6, r->textMask;
    known = false;
    return torch::Tensor();
}

// Compares every fixture tensor under `prefix` (NLVR2: per pass). Returns the number compared.
int compareRun(const std::map<std::string, torch::Tensor>& expected, const std::string& prefix, const MeterOutputs& out) {
    int compared = 0;
    for (const auto& [key, value] : expected) {
        if (key.compare(0, prefix.size(), prefix) != 0) continue;
        std::string name = key.substr(prefix.size());
        std::size_t passIndex = 0;
        if (name.rfind("pass1.", 0) == 0 || name.rfind("pass2.", 0) == 0) {
            passIndex = name[4] == '2' ? 1 : 0;
            name = name.substr(6);
        }
        if (passIndex >= out.passes.size()) {
            QTest::qFail((key + ": no such pass").c_str(), __FILE__, __LINE__);
            return -1;
        }
        bool known = false, exact = false;
        double atol = kStateAtol;
        const auto actual = actualFor(name, out, out.passes[passIndex], known, exact, atol);
        if (!known) {
            QTest::qFail((key + ": a fixture tensor this test does not map").c_str(), __FILE__, __LINE__);
            return -1;
        }
        const bool ok = exact ? equal(actual, value, key) : allClose(actual, value, atol, key);
        if (!ok) return -1;
        if (!exact && (name == "logits" || name.find("image_reduced") != std::string::npos)) logMaxError(key, actual, value);
        ++compared;
    }
    return compared;
}

// The per-layer token counts of cases.json.
bool compareCounts(const nlohmann::json& run, const MeterOutputs& out) {
    for (const auto& layer : run.at("per_layer")) {
        const auto pass = static_cast<std::size_t>(layer.at("pass").get<int>() - 1);
        const int j = layer.at("fusion_layer").get<int>();
        const auto& step = out.passes.at(pass);
        const auto* r = reductionAt(step, j);
        if (!layer.at("reduced").get<bool>()) {
            if (r) return QTest::qFail("a reduction where the reference has none", __FILE__, __LINE__), false;
            continue;
        }
        if (!r) return QTest::qFail("no reduction where the reference reduces", __FILE__, __LINE__), false;
        const auto& c = r->record.counts;
        if (c.imageIn != layer.at("I_in").get<int64_t>() || c.textIn != layer.at("T_in").get<int64_t>() ||
            c.imageOut != layer.at("I_out").get<int64_t>() || c.textOut != layer.at("T_out").get<int64_t>())
            return QTest::qFail("token counts differ from cases.json", __FILE__, __LINE__), false;
        if (r->record.keptIndex.size(1) != layer.at("prune").at("keep").get<int64_t>())
            return QTest::qFail("kept count differs", __FILE__, __LINE__), false;
        if (layer.contains("image_merge") && c.tokensMerged != layer.at("image_merge").at("r_effective").get<int64_t>())
            return QTest::qFail("image merge count differs", __FILE__, __LINE__), false;
        if (layer.contains("text_merge") && c.textMerged != layer.at("text_merge").at("r_effective").get<int64_t>())
            return QTest::qFail("text merge count differs", __FILE__, __LINE__), false;
        if (step.fusion.at(static_cast<std::size_t>(j)).image.size(1) != layer.at("I_out").get<int64_t>())
            return QTest::qFail("image stream length differs", __FILE__, __LINE__), false;
    }
    return true;
}

// A random METER with other sizes than the fixture everywhere.
MeterConfig otherSizes() {
    MeterConfig c;
    c.text.vocabSize = 97;
    c.text.hiddenSize = 40;
    c.text.numHiddenLayers = 3;
    c.text.numAttentionHeads = 5;
    c.text.intermediateSize = 80;
    c.text.maxPositionEmbeddings = 20;
    c.vision.width = 48;
    c.vision.blocks = 3;
    c.vision.heads = 3;
    c.vision.patchSize = 8;
    c.vision.imageSize = 48;  // 6 x 6 patches -> 37 image tokens
    c.hiddenSize = 24;
    c.numHeads = 2;
    c.numTopLayer = 4;
    c.intermediateSize = 48;
    c.tokenTypes = 3;
    c.maxTextLen = 16;
    c.heads.vqa = c.heads.nlvr2 = c.heads.snli = c.heads.itm = c.heads.retrieval = true;
    c.heads.vqaLabels = 7;
    return c;
}

MeterInputs randomInputs(const MeterConfig& c, int64_t batch, int64_t length, int64_t pads) {
    torch::manual_seed(7);
    MeterInputs inputs;
    inputs.inputIds = torch::randint(4, c.text.vocabSize, {batch, length}, torch::kLong);
    inputs.inputIds.select(1, 0).fill_(0);
    inputs.attentionMask = torch::ones({batch, length}, torch::kLong);
    if (pads > 0) {
        inputs.inputIds.select(0, 0).slice(0, length - pads).fill_(c.text.padTokenId);
        inputs.attentionMask.select(0, 0).slice(0, length - pads).fill_(0);
    }
    inputs.pixelValues = torch::randn({batch, 3, c.vision.imageSize, c.vision.imageSize});
    inputs.pixelValues2 = torch::randn({batch, 3, c.vision.imageSize, c.vision.imageSize});
    return inputs;
}

// PuMer-on-METER's chained counts (modules_meter.py BertCrossLayer.forward, reference rounding), written
// independently.
struct LayerCounts {
    int64_t imageIn, pruned, kept, mergeApplied, imageOut, textIn, textOut;
};
std::vector<LayerCounts> specCounts(int64_t image, int64_t text, double p, double r, double t, int layers) {
    auto rhe = [](double v) { return static_cast<int64_t>(std::nearbyint(v)); };
    std::vector<LayerCounts> out;
    for (int i = 0; i < layers; ++i) {
        LayerCounts c{image, 0, 0, 0, 0, text, 0};
        c.pruned = rhe(p * static_cast<double>(image));
        c.kept = std::max<int64_t>(image - c.pruned, 1);
        c.mergeApplied = std::min(rhe(r * static_cast<double>(image)), (c.kept - 1) / 2);
        c.imageOut = c.kept - c.mergeApplied;
        c.textOut = text - std::min(rhe(t * static_cast<double>(text)), (text - 1) / 2);
        out.push_back(c);
        image = c.imageOut;
        text = c.textOut;
    }
    return out;
}

template <typename F>
bool throwsError(F&& f, const std::string& mustContain, std::string* message = nullptr) {
    try {
        f();
    } catch (const Error& e) {
        if (message) *message = e.what();
        if (std::string(e.what()).find(mustContain) == std::string::npos) {
            qWarning("error message without '%s': %s", mustContain.c_str(), e.what());
            return false;
        }
        return true;
    }
    qWarning("no error (expected one containing '%s')", mustContain.c_str());
    return false;
}
}  // namespace

class TestMeter : public QObject {
    Q_OBJECT
private slots:
    void initTestCase() {
        torch::set_num_threads(1);
        // Every fixture must be there: a missing one is a failure, not a skip.
        for (const char* file : {"model.ckpt", "model.safetensors", "inputs.safetensors", "encoders.safetensors",
                                 "outputs_vqa.safetensors", "outputs_nlvr2.safetensors", "outputs_interp.safetensors",
                                 "crosscheck_original_meter.safetensors", "cases.json"}) {
            std::ifstream in(dataPath(std::string("meter/") + file));
            QVERIFY2(in.good(), (std::string("missing fixture tests/data/meter/") + file).c_str());
        }
    }

    // ----- config ---------------------------------------------------------------------------

    void configFromHyperParameters() {
        const auto& checkpoint = fixtureCheckpoint();
        QVERIFY(checkpoint.hyperParameterConfig().is_object());
        const auto c = meterConfigOf(checkpoint);
        QCOMPARE(c.text.vocabSize, 381);
        QCOMPARE(c.text.hiddenSize, 32);
        QCOMPARE(c.text.numHiddenLayers, 2);
        QCOMPARE(c.text.numAttentionHeads, 4);
        QCOMPARE(c.text.intermediateSize, 128);
        QCOMPARE(c.text.maxPositionEmbeddings, 14);
        QCOMPARE(c.text.layerNormEps, 1e-5);
        QCOMPARE(c.vision.width, 32);
        QCOMPARE(c.vision.blocks, 2);  // vit_layers 3 -> layers - 1 residual blocks
        QCOMPARE(c.vision.heads, 4);
        QCOMPARE(c.vision.patchSize, 16);
        QCOMPARE(c.vision.imageSize, 64);
        QCOMPARE(c.hiddenSize, 32);
        QCOMPARE(c.numHeads, 4);
        QCOMPARE(c.numTopLayer, 2);
        QCOMPARE(c.intermediateSize, 128);
        QCOMPARE(c.tokenTypes, 3);
        QCOMPARE(c.maxTextLen, 12);
        QCOMPARE(c.fusionLayerNormEps, 1e-12);
        QCOMPARE(c.headLayerNormEps, 1e-5);
        QVERIFY(c.heads.vqa && c.heads.nlvr2 && !c.heads.snli && !c.heads.itm && !c.heads.retrieval);
        QCOMPARE(c.heads.vqaLabels, 10);
        QCOMPARE(c.imageTokens(), 17);
        QVERIFY(c.streamOrder == MeterStreamOrder::Sequential);  // PuMer keys (token_types) present
    }

    void configFromShapesAgrees() {
        const auto fromHyper = meterConfigOf(fixtureCheckpoint());
        const auto safetensors = Checkpoint::open(dataPath("meter/model.safetensors"));
        QVERIFY(safetensors.hyperParameterConfig().is_null());
        const auto inferred = meterConfigOf(safetensors);
        const auto differences = meterConfigDifferences(fromHyper, inferred, /*shapeOnly=*/true);
        for (const auto& d : differences) qWarning("%s", d.c_str());
        QVERIFY(differences.empty());
        // Not inferable from shapes: heads (width / 64, at least 1), eps and stream order defaulted.
        QCOMPARE(inferred.numHeads, 1);
        QCOMPARE(inferred.vision.heads, 1);
        QVERIFY(inferred.streamOrder == MeterStreamOrder::Parallel);
        QCOMPARE(inferred.maxTextLen, 12);  // capped by 14 positions
        const auto all = meterConfigDifferences(fromHyper, inferred);
        QVERIFY(!all.empty());
        // The released shape: heads = 768 / 64.
        auto b16 = builtinMeterConfig("meter-b16");
        const auto b16Shapes = meterExpectedShapes(b16);
        const auto b16Inferred = inferMeterConfig(b16Shapes, "meter-b16");
        QVERIFY(meterConfigDifferences(b16, b16Inferred).empty());
        QCOMPARE(b16.vision.blocks, 11);
        QCOMPARE(b16.text.numHiddenLayers, 12);
        QCOMPARE(b16.numTopLayer, 6);
        QCOMPARE(b16.heads.vqaLabels, 3129);
        QCOMPARE(b16Shapes.at("vit_model.visual.positional_embedding"), (std::vector<int64_t>{577, 768}));
        QCOMPARE(b16Shapes.at("vqa_classifier.3.weight"), (std::vector<int64_t>{3129, 1536}));
        QVERIFY(b16Shapes.count("rank_output.weight") == 0);
    }

    void configKeysOfMeterAndPumer() {
        // METER's sacred spelling (a released VQA config) and PuMer's MeterConfig spelling.
        const auto meter = nlohmann::json::parse(R"({"vit": "ViT-B/16", "patch_size": 16, "image_size": 576,
            "tokenizer": "roberta-base", "vocab_size": 50265, "hidden_size": 768, "num_heads": 12, "num_layers": 6,
            "num_top_layer": 6, "mlp_ratio": 4, "max_text_len": 50, "vqav2_label_size": 3129,
            "input_image_embed_size": 768, "input_text_embed_size": 768,
            "loss_names": {"itm": 0, "mlm": 0, "vqa": 1, "nlvr2": 0, "irtr": 0, "snli": 0}})");
        const auto c = parseMeterHyperParameters(meter, "meter.ckpt");
        QCOMPARE(c.vision.blocks, 11);
        QCOMPARE(c.imageTokens(), 1297);
        QCOMPARE(c.text.numHiddenLayers, 12);
        QCOMPARE(c.tokenTypes, 2);
        QVERIFY(c.heads.vqa && !c.heads.itm);
        QVERIFY(c.streamOrder == MeterStreamOrder::Parallel);
        QVERIFY(!c.trainedReduction);
        const auto pumer = nlohmann::json::parse(R"({"vqa_label_size": 3129, "max_text_len": 32, "tokenizer": "roberta-base",
            "vocab_size": 50265, "token_types": 2, "image_size": 384, "vit_patch_size": 16, "vit": "ViT-B/16",
            "num_top_layer": 6, "hidden_size": 768, "num_heads": 12, "mlp_ratio": 4,
            "reduce_layers": [0, 2, 4, 6], "prune_r": 0.2, "merge_r": 0.2, "merge_text": 0.2})");
        const auto p = parseMeterHyperParameters(pumer, "config.json");
        QVERIFY(p.streamOrder == MeterStreamOrder::Sequential);
        QVERIFY(p.trainedReduction.has_value());
        QCOMPARE(p.trainedReduction->fusionLayers, (std::vector<int>{0, 1, 2, 3}));
        QCOMPARE(p.trainedReduction->pruneRatio, 0.2);
        QCOMPARE(p.imageTokens(), 577);
        auto explicitOrder = pumer;
        explicitOrder["stream_order"] = "parallel";
        QVERIFY(parseMeterHyperParameters(explicitOrder, "x").streamOrder == MeterStreamOrder::Parallel);
    }

    void checkpointFormatsLoadTheSame() {
        const auto config = meterConfigOf(fixtureCheckpoint());
        Meter fromCkpt(config), fromSafetensors(config);
        const auto a = fromCkpt->loadWeights(fixtureCheckpoint());
        const auto b = fromSafetensors->loadWeights(Checkpoint::open(dataPath("meter/model.safetensors")));
        // The unused tensors (position_ids, RoBERTa pooler, CLIP text leftovers) are tolerated silently.
        QVERIFY(a.unexpected.empty());
        QVERIFY(b.unexpected.empty());
        const auto pa = fromCkpt->named_parameters(true);
        const auto pb = fromSafetensors->named_parameters(true);
        QCOMPARE(pa.size(), pb.size());
        int64_t count = 0;
        for (const auto& item : pa) {
            QVERIFY2(torch::equal(item.value(), pb[item.key()]), item.key().c_str());
            count += item.value().numel();
        }
        // cases.json: 175788 float parameters in the checkpoint, of which the unused ones hold
        // 32·32 + 32 (text pooler) + 2·16 + 8·16 (CLIP text leftovers) = 1216.
        QCOMPARE(count, cases().at("num_parameters").get<int64_t>() - 1216);
        c10::InferenceMode guard;
        const auto inputs = batchInputs("padded");
        QVERIFY(torch::equal(fromCkpt->forward(inputs).logits, fromSafetensors->forward(inputs).logits));
    }

    // ----- parity -----------------------------------------------------------------------------

    void encoders() {
        c10::InferenceMode guard;
        const auto& expected = fixture("encoders.safetensors");
        MeterForwardOptions options;
        options.keepHiddenStates = true;
        const auto out = fixtureMeter()->forward(batchInputs("padded"), options);
        const auto& pass = out.passes.at(0);
        QVERIFY(allClose(out.textEmbeddings, expected.at("enc.text_embeddings"), kStateAtol, "enc.text_embeddings"));
        QCOMPARE(out.textLayers.size(), std::size_t(2));
        for (std::size_t i = 0; i < out.textLayers.size(); ++i) {
            const auto name = "enc.text_layer." + std::to_string(i);
            QVERIFY(allClose(out.textLayers[i], expected.at(name), kStateAtol, name));
        }
        QVERIFY(allClose(out.textFusionInput, expected.at("x0"), kStateAtol, "x0"));
        QVERIFY(allClose(pass.imageLnPre, expected.at("enc.image_ln_pre"), kStateAtol, "enc.image_ln_pre"));
        QCOMPARE(pass.imageBlocks.size(), std::size_t(2));
        for (std::size_t i = 0; i < pass.imageBlocks.size(); ++i) {
            const auto name = "enc.image_block." + std::to_string(i);
            QVERIFY(allClose(pass.imageBlocks[i], expected.at(name), kStateAtol, name));
        }
        QVERIFY(allClose(pass.imageOut, expected.at("enc.image_out"), kStateAtol, "enc.image_out"));
        QVERIFY(allClose(pass.imageFusionInput, expected.at("y0"), kStateAtol, "y0"));
        logMaxError("x0", out.textFusionInput, expected.at("x0"));
        logMaxError("y0", pass.imageFusionInput, expected.at("y0"));
        QCOMPARE(expected.size(), std::size_t(9));
    }

    // The timeline of a forward names what it times: the text "embeddings" span ends before the first
    // text layer starts (it once enclosed the text encoder), and every text and vision layer is a
    // top-level span, so a trace viewer and the per-stage sums read each stage once.
    void timelineSpansNameTheirStage() {
        c10::InferenceMode guard;
        Timeline timeline(Timeline::Options{});
        {
            const TimelineScope scope(&timeline);
            fixtureMeter()->forward(batchInputs("padded"), MeterForwardOptions{});
        }
        const TimelineSpan* embeddings = nullptr;
        double firstTextLayer = -1;
        int textLayers = 0, visionLayers = 0;
        for (const TimelineSpan& span : timeline.spans()) {
            if (span.stage == Stage::Text && span.name == "embeddings") embeddings = &span;
            if (span.name != "layer" || (span.stage != Stage::Text && span.stage != Stage::Vision)) continue;
            QCOMPARE(span.depth, 0);
            (span.stage == Stage::Text ? textLayers : visionLayers) += 1;
            if (span.stage == Stage::Text && (firstTextLayer < 0 || span.startUs < firstTextLayer)) firstTextLayer = span.startUs;
        }
        QVERIFY2(embeddings != nullptr, "the text embeddings have a span");
        QCOMPARE(embeddings->depth, 0);
        QCOMPARE(textLayers, 2);
        QCOMPARE(visionLayers, 2);
        QVERIFY(embeddings->startUs + embeddings->durationUs <= firstTextLayer);
    }

    void runs_data() {
        QTest::addColumn<std::string>("key");
        for (const auto& [key, run] : cases().at("runs").items()) QTest::newRow(key.c_str()) << key;
    }

    // Every run of cases.json: VQA and NLVR2 with and without the PuMer presets, the merge-only
    // and quirk runs, and the resolution change (interp).
    void runs() {
        QFETCH(std::string, key);
        const auto& run = cases().at("runs").at(key);
        const auto kind = run.at("kind").get<std::string>();
        const auto name = run.at("name").get<std::string>();
        const auto batch = run.at("text_batch").get<std::string>();
        const auto options = runOptions(run);
        MeterOutputs out;
        std::string file;
        if (kind == "interp") {
            file = "outputs_interp.safetensors";
            Meter model = loadFixtureMeter();
            model->setImageSize(run.at("image_size").get<int>());
            const auto& expected = fixture(file);
            QVERIFY(allClose(model->named_parameters()["vit_model.visual.positional_embedding"], expected.at("pos_embed_adapted"),
                             1e-6, "pos_embed_adapted"));
            c10::InferenceMode guard;
            auto inputs = batchInputs(batch);
            inputs.inputIds = inputs.inputIds.slice(0, 0, 1);
            inputs.attentionMask = inputs.attentionMask.slice(0, 0, 1);
            inputs.pixelValues = fixture("inputs.safetensors").at("interp.pixel_values");
            out = model->forward(inputs, options);
        } else {
            c10::InferenceMode guard;
            auto inputs = batchInputs(batch);
            auto opts = options;
            if (kind == "nlvr2") {
                file = "outputs_nlvr2.safetensors";
                inputs.pixelValues2 = inputs.pixelValues.index_select(0, fixture("inputs.safetensors").at("nlvr2.image2_index"));
                opts.task = MeterTask::Nlvr2;
            } else {
                file = "outputs_vqa.safetensors";
                opts.task = MeterTask::Vqa;
            }
            out = fixtureMeter()->forward(inputs, opts);
        }
        QVERIFY(out.masking == MeterMasking::Multiplicative);
        QVERIFY(out.streamOrder == MeterStreamOrder::Sequential);
        const auto compared = compareRun(fixture(file), name + ".", out);
        QVERIFY(compared > 0);
        qInfo("%s: %d fixture tensors compared", key.c_str(), compared);
        QVERIFY(compareCounts(run, out));
        for (const auto& r : out.passes.at(0).reductions)
            QCOMPARE(r.isPruningDiscarded, name.rfind("quirk_", 0) == 0);
    }

    // Every tensor of the fixture files is used by some test above.
    void everyFixtureTensorIsCompared() {
        std::set<std::string> runNames;
        for (const auto& [key, run] : cases().at("runs").items()) runNames.insert(run.at("name").get<std::string>());
        for (const char* file : {"outputs_vqa.safetensors", "outputs_nlvr2.safetensors", "outputs_interp.safetensors"}) {
            for (const auto& [key, value] : fixture(file)) {
                if (key == "pos_embed_adapted") continue;
                bool covered = false;
                for (const auto& run : runNames) covered = covered || key.rfind(run + ".", 0) == 0;
                QVERIFY2(covered, (std::string(file) + ": " + key).c_str());
            }
        }
        QCOMPARE(fixture("crosscheck_original_meter.safetensors").size(), std::size_t(8));
    }

    // zdou0830/METER's own forward (parallel order, additive masks) on the same weights.
    void crosscheckOriginalMeter_data() {
        QTest::addColumn<std::string>("batch");
        QTest::newRow("padded") << std::string("padded");
        QTest::newRow("tight") << std::string("tight");
    }

    void crosscheckOriginalMeter() {
        QFETCH(std::string, batch);
        c10::InferenceMode guard;
        const auto& expected = fixture("crosscheck_original_meter.safetensors");
        MeterForwardOptions options;
        options.task = MeterTask::Vqa;
        options.streamOrder = MeterStreamOrder::Parallel;
        const auto out = fixtureMeter()->forward(batchInputs(batch), options);
        QVERIFY(out.masking == MeterMasking::Additive);
        const auto& pass = out.passes.at(0);
        QVERIFY(allClose(pass.text, expected.at(batch + ".text_feats"), kStateAtol, batch + ".text_feats"));
        QVERIFY(allClose(pass.image, expected.at(batch + ".image_feats"), kStateAtol, batch + ".image_feats"));
        QVERIFY(allClose(out.clsFeats, expected.at(batch + ".cls_feats"), kOutputAtol, batch + ".cls_feats"));
        QVERIFY(allClose(out.logits, expected.at(batch + ".logits"), kOutputAtol, batch + ".logits"));
        logMaxError(batch + " crosscheck logits", out.logits, expected.at(batch + ".logits"));
        // The order matters (README: 1.12 in the logits between the two) and so do the numerics:
        // METER's layers in PuMer's order differ from PuMer by 7.3e-3 (padded) / 7.5e-4 (tight).
        const auto sequential = fixture("outputs_vqa.safetensors").at(batch == "tight" ? "noreduce_tight.logits" : "noreduce.logits");
        QVERIFY((out.logits - sequential).abs().max().item<double>() > 0.1);
        options.streamOrder = MeterStreamOrder::Sequential;
        options.masking = MeterMasking::Additive;
        const auto additive = fixtureMeter()->forward(batchInputs(batch), options);
        const double gap = (additive.logits - sequential).abs().max().item<double>();
        qInfo("%s: sequential order, additive masks vs PuMer: %.3g", batch.c_str(), gap);
        QVERIFY(gap > 1e-4 && gap < 2e-2);
    }

    // ----- reducer counts (csarron/PuMer modules_meter.py) ---------------------------------------

    void workedCounts_data() {
        QTest::addColumn<std::string>("preset");
        QTest::addColumn<int>("imageTokens");
        QTest::addColumn<int>("textTokens");
        QTest::addColumn<std::vector<int>>("imageOut");
        QTest::addColumn<std::vector<int>>("textOut");
        QTest::addColumn<std::vector<int>>("mergeApplied");
        QTest::newRow("vqa2 577 T32") << std::string("vqa2") << 577 << 32 << std::vector<int>{347, 209, 125, 75}
                                      << std::vector<int>{26, 21, 17, 14} << std::vector<int>{115, 69, 42, 25};
        QTest::newRow("snli-ve 577 T40") << std::string("snli-ve") << 577 << 40 << std::vector<int>{203, 72, 26, 10}
                                         << std::vector<int>{32, 26, 21, 17} << std::vector<int>{201, 70, 24, 8};
        QTest::newRow("nlvr2 325 T40") << std::string("nlvr2") << 325 << 40 << std::vector<int>{114, 41, 15}
                                       << std::vector<int>{32, 26, 21} << std::vector<int>{113, 39, 14};
    }

    void workedCounts() {
        QFETCH(std::string, preset);
        QFETCH(int, imageTokens);
        QFETCH(int, textTokens);
        QFETCH(std::vector<int>, imageOut);
        QFETCH(std::vector<int>, textOut);
        QFETCH(std::vector<int>, mergeApplied);
        const auto p = meterPumerPreset(preset);
        QCOMPARE(p.fusionLayers.size(), imageOut.size());
        int64_t image = imageTokens, text = textTokens;
        for (std::size_t i = 0; i < imageOut.size(); ++i) {
            const auto c = pumerMeterCounts(image, text, p.pumer);
            QCOMPARE(c.tokensMerged, int64_t(mergeApplied[i]));
            QCOMPARE(c.imageOut, int64_t(imageOut[i]));
            QCOMPARE(c.textOut, int64_t(textOut[i]));
            image = c.imageOut;
            text = c.textOut;
        }
    }

    void presets() {
        QCOMPARE(meterPumerPreset("vqa2").fusionLayers, (std::vector<int>{0, 1, 2, 3}));
        QCOMPARE(meterPumerPreset("vqa2").maxTextLen, 32);
        QCOMPARE(meterPumerPreset("snli-ve").pumer.mergeRatio, 0.5);
        QCOMPARE(meterPumerPreset("nlvr2").fusionLayers, (std::vector<int>{1, 2, 3}));
        QCOMPARE(meterPumerPreset("nlvr2").imageSize, 288);
        QCOMPARE(meterFusionLayersFromLayerIdx({0, 2, 4, 6}), (std::vector<int>{0, 1, 2, 3}));
        QVERIFY(throwsError([] { meterFusionLayersFromLayerIdx({3}); }, "layer_idx"));
        QVERIFY(throwsError([] { meterPumerPreset("gqa"); }, "known: vqa2"));
        // The quirk: p > 0 with r rounding to 0 keeps every image token; Fixed prunes.
        PumerConfig quirk;
        quirk.pruneRatio = 0.3;
        quirk.mergeRatio = 0.0;
        quirk.textMergeRatio = 0.2;
        QVERIFY(pumerMeterDiscardsPruning(17, quirk));
        QCOMPARE(pumerMeterCounts(17, 12, quirk).imageOut, int64_t(17));
        QCOMPARE(pumerMeterCounts(17, 12, quirk).textOut, int64_t(10));
        quirk.mode = ReductionMode::Fixed;
        QVERIFY(!pumerMeterDiscardsPruning(17, quirk));
        QCOMPARE(pumerMeterCounts(17, 12, quirk).imageOut, int64_t(12));
    }

    // ----- the same code at other sizes -------------------------------------------------------

    void otherSizesRun_data() {
        QTest::addColumn<int>("order");
        QTest::newRow("sequential") << int(MeterStreamOrder::Sequential);
        QTest::newRow("parallel") << int(MeterStreamOrder::Parallel);
    }

    void otherSizesRun() {
        QFETCH(int, order);
        const auto config = otherSizes();
        Meter model(config);
        model->initialiseRandom(3);
        model->eval();
        c10::InferenceMode guard;
        const auto inputs = randomInputs(config, 2, 14, 3);
        MeterForwardOptions options;
        options.streamOrder = static_cast<MeterStreamOrder>(order);
        options.keepHiddenStates = options.keepAttentions = true;
        for (const auto task : {MeterTask::Vqa, MeterTask::Nlvr2, MeterTask::Snli, MeterTask::Itm, MeterTask::Retrieval}) {
            options.task = task;
            const auto out = model->forward(inputs, options);
            const int64_t labels[] = {7, 2, 3, 2, 1};
            QCOMPARE(out.logits.sizes(), (torch::IntArrayRef{2, labels[static_cast<int>(task)]}));
            QVERIFY(torch::isfinite(out.logits).all().item<bool>());
            QCOMPARE(out.clsFeats.size(1), int64_t(task == MeterTask::Nlvr2 ? 4 * 24 : 2 * 24));
            QCOMPARE(out.passes.at(0).fusion.size(), std::size_t(4));
            QCOMPARE(out.passes.at(0).fusion.at(0).textToImage.sizes(), (torch::IntArrayRef{2, 2, 14, 37}));
            QCOMPARE(out.textLayers.size(), std::size_t(3));
            QCOMPARE(out.passes.at(0).imageBlocks.size(), std::size_t(3));
        }
        // PuMer in 3 of the 4 fusion layers: counts follow PuMer's chain, streams have those lengths.
        MeterReduction reduction;
        reduction.pumer.pruneRatio = 0.2;
        reduction.pumer.mergeRatio = 0.2;
        reduction.pumer.textMergeRatio = 0.2;
        reduction.fusionLayers = {0, 1, 3};
        options.reduction = reduction;
        options.task = MeterTask::Nlvr2;
        const auto out = model->forward(inputs, options);
        const auto spec = specCounts(37, 14, 0.2, 0.2, 0.2, 3);
        for (const auto& pass : out.passes) {
            QCOMPARE(pass.reductions.size(), std::size_t(3));
            for (std::size_t i = 0; i < 3; ++i) {
                const auto& r = pass.reductions[i];
                const auto& c = r.record.counts;
                QCOMPARE(r.fusionLayer, reduction.fusionLayers[i]);
                QCOMPARE(r.layerIdx, 2 * reduction.fusionLayers[i]);
                QCOMPARE(c.imageIn, spec[i].imageIn);
                QCOMPARE(c.tokensKept, spec[i].kept);
                QCOMPARE(c.tokensMerged, spec[i].mergeApplied);
                QCOMPARE(c.imageOut, spec[i].imageOut);
                QCOMPARE(c.textIn, spec[i].textIn);
                QCOMPARE(c.textOut, spec[i].textOut);
                const auto& step = pass.fusion.at(static_cast<std::size_t>(r.fusionLayer));
                QCOMPARE(step.image.size(1), spec[i].imageOut);
                QCOMPARE(step.text.size(1), spec[i].textOut);
                // Provenance: every original is in at most one token; merges add up.
                QCOMPARE(r.record.imageSource.sizes(), (torch::IntArrayRef{2, spec[i].imageOut, 37}));
                QCOMPARE(r.record.textSource.sizes(), (torch::IntArrayRef{2, spec[i].textOut, 14}));
                QVERIFY(r.record.imageSource.sum(1).le(1).all().item<bool>());
                QCOMPARE(r.record.textSize.sum(-1).min().item<double>(), 14.0);
            }
            QCOMPARE(pass.image.size(1), spec[2].imageOut);
        }
        QVERIFY(torch::isfinite(out.logits).all().item<bool>());
    }

    void otherSizesResolutionAndMethods() {
        auto config = otherSizes();
        config.streamOrder = MeterStreamOrder::Sequential;
        Meter model(config);
        model->initialiseRandom(5);
        model->eval();
        model->setImageSize(64);  // 8 x 8 patches
        QCOMPARE(model->config().imageTokens(), 65);
        c10::InferenceMode guard;
        auto inputs = randomInputs(model->config(), 2, 10, 0);
        MeterForwardOptions options;
        options.keepHiddenStates = true;
        // ToMe on the image stream: r tokens per fusion layer, CLS kept first, sizes carried.
        MeterReduction tome;
        tome.method = MeterReductionMethod::Tome;
        tome.tomeSchedule = {8, 0, 8, 4};
        options.reduction = tome;
        auto out = model->forward(inputs, options);
        QCOMPARE(out.passes.at(0).image.size(1), int64_t(65 - 20));
        QCOMPARE(out.passes.at(0).reductions.size(), std::size_t(3));
        QCOMPARE(out.passes.at(0).reductions.back().record.imageSize.sum(-1).min().item<double>(), 65.0);
        QVERIFY(torch::isfinite(out.logits).all().item<bool>());
        // Random / uniform drop at the fusion input.
        for (const auto method : {MeterReductionMethod::RandomDrop, MeterReductionMethod::UniformDrop}) {
            MeterReduction drop;
            drop.method = method;
            drop.keepRatio = 0.25;
            drop.seed = 11;
            options.reduction = drop;
            out = model->forward(inputs, options);
            const auto& r = out.passes.at(0).reductions.at(0);
            QCOMPARE(r.fusionLayer, -1);
            QCOMPARE(r.record.keptIndex.size(1), int64_t(17));
            QCOMPARE(r.record.keptIndex[0][0].item<int64_t>(), int64_t(0));  // CLS kept
            QCOMPARE(out.passes.at(0).image.size(1), int64_t(17));
            if (method == MeterReductionMethod::UniformDrop)  // floor((j + 0.5) 64 / 16) + 1 = 3, 7, ...
                QCOMPARE(r.record.keptIndex[0][1].item<int64_t>(), int64_t(3));
        }
        // Fixed mode: pruning applies without merging, the CLS stays first, additive masks.
        MeterReduction fixed;
        fixed.pumer.mode = ReductionMode::Fixed;
        fixed.pumer.pruneRatio = 0.3;
        fixed.pumer.mergeRatio = 0.0;
        fixed.pumer.textMergeRatio = 0.0;
        fixed.fusionLayers = {1};
        options.reduction = fixed;
        out = model->forward(inputs, options);
        QVERIFY(out.masking == MeterMasking::Additive);
        const auto& r = out.passes.at(0).reductions.at(0);
        QVERIFY(!r.isPruningDiscarded);
        QCOMPARE(r.record.counts.imageOut, int64_t(65 - 20));
        QVERIFY(r.record.keptIndex.select(1, 0).eq(0).all().item<bool>());
        QCOMPARE(out.passes.at(0).image.size(1), int64_t(45));
        // Reference mode with the same ratios: the pruning is discarded (quirk).
        fixed.pumer.mode = ReductionMode::Reference;
        options.reduction = fixed;
        out = model->forward(inputs, options);
        QVERIFY(out.passes.at(0).reductions.at(0).isPruningDiscarded);
        QCOMPARE(out.passes.at(0).image.size(1), int64_t(65));
    }

    // The reducer is pure: sequential and parallel share it; without a reduction the provenance is
    // bookkeeping only.
    void provenanceIsBookkeepingOnly() {
        c10::InferenceMode guard;
        MeterForwardOptions options;
        options.task = MeterTask::Vqa;
        MeterReduction reduction;
        reduction.pumer.pruneRatio = reduction.pumer.mergeRatio = reduction.pumer.textMergeRatio = 0.2;
        reduction.fusionLayers = {0, 1};
        options.reduction = reduction;
        const auto inputs = batchInputs("tight");
        const auto a = fixtureMeter()->forward(inputs, options);
        options.recordProvenance = false;
        const auto b = fixtureMeter()->forward(inputs, options);
        QVERIFY(torch::equal(a.logits, b.logits));
        QVERIFY(a.passes[0].reductions[0].record.imageSource.defined());
        QVERIFY(!b.passes[0].reductions[0].record.imageSource.defined());
        QVERIFY(allClose(a.logits, fixture("outputs_vqa.safetensors").at("vqa2_preset_L0-2_p0.2_r0.2_t0.2.logits"), kOutputAtol,
                         "logits"));
        // Parallel order with the same reduction runs and reduces the image side's output too.
        options.streamOrder = MeterStreamOrder::Parallel;
        const auto c = fixtureMeter()->forward(inputs, options);
        QCOMPARE(c.passes[0].image.size(1), int64_t(7));
        QCOMPARE(c.passes[0].text.size(1), int64_t(8));
    }

    // bf16 (how the window may run it): the same answers up to bf16 rounding, reductions included.
    void reducedPrecision() {
        Meter model = loadFixtureMeter();
        model->to(torch::kBFloat16);
        c10::InferenceMode guard;
        MeterForwardOptions options;
        options.task = MeterTask::Vqa;
        const auto plain = model->forward(batchInputs("padded"), options);
        QCOMPARE(plain.logits.scalar_type(), torch::kBFloat16);
        QVERIFY(allClose(plain.logits, fixture("outputs_vqa.safetensors").at("noreduce.logits"), 0.15, "bf16 logits"));
        MeterReduction reduction;
        reduction.pumer.pruneRatio = reduction.pumer.mergeRatio = reduction.pumer.textMergeRatio = 0.2;
        reduction.fusionLayers = {0, 1};
        options.reduction = reduction;
        const auto reduced = model->forward(batchInputs("tight"), options);
        QCOMPARE(reduced.passes.at(0).image.size(1), int64_t(7));
        QVERIFY(torch::isfinite(reduced.logits.to(torch::kFloat)).all().item<bool>());
    }

    // ----- errors ------------------------------------------------------------------------------

    void errorsNameTheTensorAndFile() {
        const auto shapes = checkpointShapes(fixtureCheckpoint());
        const auto config = meterConfigOf(fixtureCheckpoint());
        auto missing = shapes;
        missing.erase("cross_modal_image_layers.1.crossattention.self.key.weight");
        std::string message;
        QVERIFY(throwsError([&] { checkMeterShapes(config, missing, "model.ckpt"); },
                            "model.ckpt: tensor 'cross_modal_image_layers.1.crossattention.self.key.weight' is missing", &message));
        auto misshapen = shapes;
        misshapen["vit_model.visual.transformer.resblocks.1.attn.in_proj_weight"] = {95, 32};
        QVERIFY(throwsError([&] { meterConfigFromCheckpoint(fixtureCheckpoint().hyperParameterConfig(), misshapen, "model.ckpt"); },
                            "model.ckpt: tensor 'vit_model.visual.transformer.resblocks.1.attn.in_proj_weight' has shape [95, 32], "
                            "expected [96, 32]"));
        auto noText = shapes;
        noText.erase("text_transformer.embeddings.word_embeddings.weight");
        QVERIFY(throwsError([&] { inferMeterConfig(noText, "model.safetensors"); },
                            "model.safetensors: tensor 'text_transformer.embeddings.word_embeddings.weight' is missing"));
        auto grid = shapes;
        grid["vit_model.visual.positional_embedding"] = {18, 32};
        QVERIFY(throwsError([&] { inferMeterConfig(grid, "m.ckpt"); }, "not a square grid"));
        auto layers = shapes;
        for (auto it = layers.begin(); it != layers.end();)
            it = it->first.rfind("cross_modal_image_layers.1.", 0) == 0 ? layers.erase(it) : std::next(it);
        QVERIFY(throwsError([&] { inferMeterConfig(layers, "m.ckpt"); }, "2 cross_modal_text_layers but 1 cross_modal_image_layers"));
        // Config and shapes disagree.
        auto hyper = fixtureCheckpoint().hyperParameterConfig();
        hyper["num_top_layer"] = 3;
        QVERIFY(throwsError([&] { meterConfigFromCheckpoint(hyper, shapes, "model.ckpt"); },
                            "model.ckpt: hyper_parameters.config disagrees with the tensor shapes: num_top_layer: 3 vs 2"));
        hyper = fixtureCheckpoint().hyperParameterConfig();
        hyper["image_size"] = 96;
        QVERIFY(throwsError([&] { meterConfigFromCheckpoint(hyper, shapes, "model.ckpt"); }, "vision.image_size: 96 vs 64"));
        hyper = fixtureCheckpoint().hyperParameterConfig();
        hyper["loss_names"]["snli"] = 1;
        QVERIFY(throwsError([&] { meterConfigFromCheckpoint(hyper, shapes, "model.ckpt"); }, "snli_classifier"));
        hyper = fixtureCheckpoint().hyperParameterConfig();
        hyper["vit"] = "RN50";
        hyper.erase("vit_width");
        QVERIFY(throwsError([&] { parseMeterHyperParameters(hyper, "model.ckpt"); }, "model.ckpt: key 'vit' = 'RN50'"));
        // A model built for another config refuses the checkpoint, naming the tensor.
        auto other = builtinMeterConfig("meter-tiny");
        other.heads.vqaLabels = 11;
        Meter wrongLabels(other);
        QVERIFY(throwsError([&] { wrongLabels->loadWeights(fixtureCheckpoint()); }, "vqa_classifier.3"));
        QVERIFY(throwsError([] { builtinMeterConfig("meter-l14"); }, "known: meter-b16"));
        // Inputs.
        c10::InferenceMode guard;
        auto inputs = batchInputs("padded");
        inputs.pixelValues = torch::zeros({3, 3, 32, 32});
        QVERIFY(throwsError([&] { fixtureMeter()->forward(inputs); }, "pixel_values must be [batch, 3, 64, 64]"));
        inputs = batchInputs("padded");
        MeterForwardOptions nlvr2;
        nlvr2.task = MeterTask::Nlvr2;
        QVERIFY(throwsError([&] { fixtureMeter()->forward(inputs, nlvr2); }, "two images"));
        nlvr2.task = MeterTask::Snli;
        QVERIFY(throwsError([&] { fixtureMeter()->forward(inputs, nlvr2); }, "no snli head"));
        inputs.inputIds = torch::zeros({3, 13}, torch::kLong);
        inputs.attentionMask = torch::ones({3, 13}, torch::kLong);
        QVERIFY(throwsError([&] { fixtureMeter()->forward(inputs); }, "positions for 12"));
    }

    void builtinArchitectures() {
        for (const auto& name : builtinMeterNames()) {
            const auto c = builtinMeterConfig(name);
            QVERIFY(meterConfigDifferences(c, inferMeterConfig(meterExpectedShapes(c), name), true).empty());
        }
        // The tiny built-in has the fixture's shapes: the fixture loads into it.
        Meter tiny(builtinMeterConfig("meter-tiny"));
        QVERIFY(tiny->loadWeights(fixtureCheckpoint()).unexpected.empty());
        c10::InferenceMode guard;
        Meter random(builtinMeterConfig("meter-tiny"));
        random->initialiseRandom(1);
        const auto out = random->forward(batchInputs("padded"));
        QCOMPARE(out.logits.sizes(), (torch::IntArrayRef{3, 10}));
        QVERIFY(torch::isfinite(out.logits).all().item<bool>());
    }

    // The released shape (random weights, as `bench --arch meter-b16` builds it): 768 wide, 12 heads,
    // 11 CLIP blocks, 12 RoBERTa layers, 6 fusion layers; run at a small resolution to stay quick.
    void releasedShapeRuns() {
        Meter model(builtinMeterConfig("meter-b16"));
        int64_t parameters = 0;
        for (const auto& p : model->parameters()) parameters += p.numel();
        // From the released checkpoints' tensor shapes: METER base ≈ 319.5 M at 384 px (with RoBERTa's unused
        // pooler, 0.59 M) + VQA head 7.17 M.
        qInfo("meter-b16 parameters: %.2f M", static_cast<double>(parameters) / 1e6);
        QVERIFY(std::abs(static_cast<double>(parameters) - (319.5e6 - 0.59e6 + 7.17e6)) < 0.3e6);
        model->initialiseRandom(2);
        model->eval();
        model->setImageSize(48);
        c10::InferenceMode guard;
        auto inputs = randomInputs(model->config(), 1, 9, 2);
        MeterForwardOptions options;
        options.reduction = MeterReduction{};
        options.reduction->pumer = meterPumerPreset("vqa2").pumer;
        options.reduction->fusionLayers = meterPumerPreset("vqa2").fusionLayers;
        const auto out = model->forward(inputs, options);
        QCOMPARE(out.logits.sizes(), (torch::IntArrayRef{1, 3129}));
        QVERIFY(torch::isfinite(out.logits).all().item<bool>());
        QCOMPARE(out.passes.at(0).reductions.size(), std::size_t(4));
    }

    // ----- preprocessing -----------------------------------------------------------------------

    void preprocessGeometry() {
        // torchvision 0.8 Resize(int): shorter side to size, the other int(size * long / short).
        QCOMPARE(meterResizeSize(480, 640, 384), (std::pair<int, int>{384, 512}));
        QCOMPARE(meterResizeSize(640, 427, 384), (std::pair<int, int>{575, 384}));  // 384·640/427 = 575.3
        QCOMPARE(meterResizeSize(300, 1000, 288), (std::pair<int, int>{288, 960}));
        QCOMPARE(meterResizeSize(384, 500, 384), (std::pair<int, int>{384, 500}));  // shorter side already 384
        QCOMPARE(meterResizeSize(100, 100, 384), (std::pair<int, int>{384, 384}));
        // CenterCrop: int(round((h - size) / 2)), Python round = half to even.
        QCOMPARE(meterCropOffset(385, 384, 384), (std::pair<int, int>{0, 0}));    // 0.5 -> 0
        QCOMPARE(meterCropOffset(387, 390, 384), (std::pair<int, int>{2, 3}));    // 1.5 -> 2, 3.0
        QCOMPARE(meterCropOffset(389, 384, 384), (std::pair<int, int>{2, 0}));    // 2.5 -> 2
        QCOMPARE(meterCropOffset(575, 384, 384), (std::pair<int, int>{96, 0}));   // 95.5 -> 96
    }

    void preprocessPixels() {
        ImageU8 image;
        image.width = 50;
        image.height = 37;
        image.pixels.resize(50 * 37 * 3);
        for (std::size_t i = 0; i < image.pixels.size(); ++i) image.pixels[i] = static_cast<uint8_t>((i * 37 + i / 7) % 256);
        MeterPreprocessConfig config;
        config.size = 32;
        const auto pixels = preprocessMeter({image, image}, config);
        QCOMPARE(pixels.sizes(), (torch::IntArrayRef{2, 3, 32, 32}));
        // The same steps by hand: PIL bicubic to 43 x 32 (int(32·50/37) = 43), crop left round(5.5) = 6.
        const auto resized = resizePil(image, 43, 32, ResampleFilter::Bicubic);
        auto u8 = torch::from_blob(const_cast<uint8_t*>(resized.pixels.data()), {32, 43, 3}, torch::kUInt8);
        const auto crop = u8.slice(1, 6, 38).permute({2, 0, 1}).to(torch::kFloat).div(255);
        const auto mean = torch::tensor({0.48145466f, 0.4578275f, 0.40821073f}).view({3, 1, 1});
        const auto std = torch::tensor({0.26862954f, 0.26130258f, 0.27577711f}).view({3, 1, 1});
        QVERIFY(torch::equal(pixels[1], (crop - mean) / std));
        // An image of exactly the size is not resampled; Squash resizes both sides.
        ImageU8 square = resizePil(image, 32, 32, ResampleFilter::Bicubic);
        const auto same = preprocessMeter({square}, config);
        auto su8 = torch::from_blob(square.pixels.data(), {32, 32, 3}, torch::kUInt8).permute({2, 0, 1}).to(torch::kFloat).div(255);
        QVERIFY(torch::equal(same[0], (su8 - mean) / std));
        config.style = MeterResizeStyle::Squash;
        QVERIFY(torch::equal(preprocessMeter({image}, config)[0], same[0]));
        image.channels = 4;
        QVERIFY(throwsError([&] { preprocessMeter({image}, config); }, "RGB"));
    }
};

QTEST_APPLESS_MAIN(TestMeter)
#include "tst_meter.moc"
