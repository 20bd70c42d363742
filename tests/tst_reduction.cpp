// Token reducers inside ViLT (core/models/vilt.h): PuMer (reference, fixed), ToMe (image-only,
// joint), random and uniform patch dropping. Wiring invariants on the tiny ViLT fixture
// (tests/data/vilt, a batch of 2 images of different sizes) and on a random-weight 12-layer config
// with a 384x384 image (144 patches, realistic counts): provenance (every original token has one
// owner or was dropped), sizes, masks, per-layer counts against ToMe's schedule formula
// (facebookresearch/ToMe tome/merge.py bipartite_soft_matching, tome/utils.py parse_r), seeded
// determinism, spatial spread, and identity at r = 0.

#include <map>
#include <set>
#include <string>

#include <QTest>
#include <torch/torch.h>

#include "checkpoint/checkpoint.h"
#include "checkpoint/tensor_file.h"
#include "config/model_config.h"
#include "models/vilt.h"
#include "reduce/tome.h"
#include "support/tensor_compare.h"

using namespace tokenscope;
using tokenscope::test::allClose;
using tokenscope::test::dataPath;

Q_DECLARE_METATYPE(std::string)
Q_DECLARE_METATYPE(std::vector<int64_t>)

namespace {

constexpr int kRealisticLayers = 12;

struct Setup {
    Vilt model{nullptr};
    ViltInputs inputs;
};

Setup fixtureSetup() {
    Setup s;
    const auto config = loadModelConfig(dataPath("vilt/config.json"));
    s.model = Vilt(config.vilt);
    s.model->eval();
    loadStateDict(*s.model, Checkpoint::open(dataPath("vilt/model.safetensors")), {});
    const auto t = readTensorFile(dataPath("vilt/inputs.safetensors"));
    s.inputs.inputIds = t.at("input_ids");
    s.inputs.attentionMask = t.at("attention_mask");
    s.inputs.tokenTypeIds = t.at("token_type_ids");
    s.inputs.pixelValues = t.at("pixel_values");
    s.inputs.pixelMask = t.at("pixel_mask");
    return s;
}

// 12 blocks, hidden 32, a 384x384 image (12x12 patches) and a 320x256 one (10x8 valid patches)
// padded into the same batch; text of 12 tokens, the second sample with 3 padding tokens.
Setup realisticSetup() {
    Setup s;
    ViltConfig c;
    c.hiddenSize = 32;
    c.numHiddenLayers = kRealisticLayers;
    c.numAttentionHeads = 2;
    c.intermediateSize = 64;
    c.vocabSize = 100;
    c.head = ViltHead::QuestionAnswering;
    c.id2label = {"a", "b", "c", "d", "e"};
    torch::manual_seed(7);
    s.model = Vilt(c);
    {
        torch::NoGradGuard noGrad;
        for (auto& p : s.model->named_parameters()) {
            const bool isNormWeight = p.key().find("orm") != std::string::npos && p.key().find("weight") != std::string::npos;
            if (isNormWeight) p.value().fill_(1.0);
            else p.value().normal_(0.0, 0.2);
        }
    }
    s.model->eval();
    s.inputs.inputIds = torch::randint(1, 100, {2, 12}, torch::kLong);
    s.inputs.attentionMask = torch::ones({2, 12}, torch::kLong);
    s.inputs.attentionMask[1].slice(0, 9).fill_(0);
    s.inputs.pixelValues = torch::randn({2, 3, 384, 384});
    s.inputs.pixelMask = torch::ones({2, 384, 384}, torch::kLong);
    s.inputs.pixelMask[1].slice(0, 320).fill_(0);
    s.inputs.pixelMask[1].slice(1, 256).fill_(0);
    return s;
}

Setup& setup(bool realistic) {
    static std::map<bool, Setup> cache;
    auto found = cache.find(realistic);
    if (found == cache.end()) found = cache.emplace(realistic, realistic ? realisticSetup() : fixtureSetup()).first;
    return found->second;
}

int64_t layerCount(bool realistic) { return realistic ? kRealisticLayers : 2; }

// The plan of a method for the model of the setup, as the engine makes it (core/methods).
ReductionPlan makeReduction(const std::string& method, bool realistic) {
    auto config = setup(realistic).model->config();
    MethodSettings s;
    if (method == "pumer reference" || method == "pumer fixed") {
        s = MethodSettings("pumer");
        s.set("mode", std::string(method == "pumer reference" ? "reference" : "fixed"));
        s.set("layers", realistic ? std::vector<int>{2, 5, 8} : std::vector<int>{0, 1});
    } else if (method == "tome image" || method == "tome joint") {
        s = MethodSettings("tome");
        s.set("joint", method == "tome joint");
        // The fixture's first merges pair up masked padding (no effect on the logits), so r = 4 there.
        s.set("r", int64_t{realistic ? 8 : 4}).set("inflect", realistic ? -1.0 : 0.0);
    } else if (method == "random" || method == "uniform") {
        s = MethodSettings(method);
        s.set("keep", 0.5);
        if (method == "random") s.set("drop-seed", int64_t{1234});
    } else {
        qFatal("unknown method %s", method.c_str());
    }
    return makePlan(s, viltPlanContext(config));
}

// ToMe's r of every layer, as a plan holds it.
void setTomeSchedule(ReductionPlan& plan, const std::vector<int64_t>& schedule) {
    for (std::size_t l = 0; l < schedule.size(); ++l) plan.steps[{Stage::Fusion, static_cast<int>(l)}].tomeR = schedule[l];
}

ViltOutputs run(bool realistic, const std::optional<ReductionPlan>& reduction, bool keep = true) {
    ViltForwardOptions options;
    options.keepHiddenStates = keep;
    options.timeLayers = true;
    options.plan = reduction ? &*reduction : nullptr;
    return setup(realistic).model->forward(setup(realistic).inputs, options);
}

bool isBinary(const torch::Tensor& x) { return (x.eq(0) | x.eq(1)).all().item<bool>(); }

// ToMe's count after every block: n -= min(r, (n - 1) / 2) (one protected token), written apart from the code.
std::vector<int64_t> tomeCounts(int64_t n, const std::vector<int64_t>& schedule) {
    std::vector<int64_t> out;
    for (const auto r : schedule) {
        n -= std::max<int64_t>(0, std::min(r, (n - 1) / 2));
        out.push_back(n);
    }
    return out;
}

std::vector<int64_t> keptRow(const ViltEncoding& e, int64_t sample) {
    const auto row = e.reductions.at(0).record.keptIndex[sample].contiguous();
    return std::vector<int64_t>(row.data_ptr<int64_t>(), row.data_ptr<int64_t>() + row.numel());
}

}  // namespace

class TestReduction : public QObject {
    Q_OBJECT
private slots:
    void initTestCase() { torch::set_num_threads(1); }

    void invariants_data() {
        QTest::addColumn<std::string>("method");
        QTest::addColumn<bool>("realistic");
        for (const bool realistic : {false, true}) {
            for (const char* method : {"pumer reference", "pumer fixed", "tome image", "tome joint", "random", "uniform"}) {
                QTest::newRow((std::string(method) + (realistic ? " 384" : " fixture")).c_str()) << std::string(method)
                                                                                                   << realistic;
            }
        }
    }

    // Provenance, sizes, row counts and masks of every record; finite logits; one latency per block.
    void invariants() {
        QFETCH(std::string, method);
        QFETCH(bool, realistic);
        c10::InferenceMode guard;
        const auto out = run(realistic, makeReduction(method, realistic));
        QVERIFY(torch::isfinite(out.logits).all().item<bool>());
        const auto& e = out.images.at(0);
        QCOMPARE(static_cast<int64_t>(e.layerMs.size()), layerCount(realistic));
        for (const auto ms : e.layerMs) QVERIFY(ms >= 0.0);
        QVERIFY(!e.reductions.empty());

        const auto imageOriginals = e.imageTokenMask.size(1);                     // I0
        const auto textOriginals = e.fullAttentionMask.size(1) - imageOriginals;  // T0
        const auto validImage = e.imageTokenMask.to(torch::kFloat);               // [B, I0]
        const bool isDrop = method == "random" || method == "uniform";
        const bool isTome = method.rfind("tome", 0) == 0;
        int previousLayer = -2;
        for (const auto& step : e.reductions) {
            const auto& r = step.record;
            const std::string where = method + " layer " + std::to_string(step.layer);
            QVERIFY2(step.layer > previousLayer, where.c_str());
            previousLayer = step.layer;
            QVERIFY2(isDrop == (step.layer == -1), where.c_str());
            QVERIFY(r.imageSource.defined());
            QCOMPARE(r.imageSource.size(2), imageOriginals);
            QVERIFY2(isBinary(r.imageSource), where.c_str());
            // Every original has at most one owner; sizes are the rows' counts.
            const auto imageOwners = r.imageSource.sum(1);  // [B, I0]
            QVERIFY2(imageOwners.le(1).all().item<bool>(), where.c_str());
            QVERIFY2(torch::equal(r.imageSize, r.imageSource.sum(-1)), where.c_str());
            QVERIFY2(torch::equal(r.imageSize.sum(-1), imageOwners.sum(-1)), where.c_str());
            // The output of this step's block (drops at the embedding: block 0's output).
            const auto hidden = e.hiddenStates.at(static_cast<std::size_t>(std::max(step.layer, 0) + 1));
            QCOMPARE(r.isJointSequence, method == "tome joint");
            if (r.textSource.defined()) {
                QCOMPARE(r.textSource.size(2), textOriginals);
                QVERIFY2(isBinary(r.textSource), where.c_str());
                // Text is only ever merged: every text original has exactly one owner.
                QVERIFY2(r.textSource.sum(1).eq(1).all().item<bool>(), where.c_str());
                QVERIFY2(torch::equal(r.textSize, r.textSource.sum(-1)), where.c_str());
                QCOMPARE(r.textSize.sum(-1)[0].item<double>(), double(textOriginals));
            }
            if (r.isJointSequence) {
                QCOMPARE(r.imageSource.size(1), hidden.size(1));
                QCOMPARE(r.textSource.size(1), hidden.size(1));
                // Each current token holds at least one original of either modality.
                QVERIFY((r.imageSize + r.textSize).ge(1).all().item<bool>());
            } else {
                const auto textRows = r.textSource.defined() ? r.textSource.size(1) : textOriginals;
                QCOMPARE(r.imageSource.size(1) + textRows, hidden.size(1));
            }
            QCOMPARE(r.counts.tokensOut(), hidden.size(1));
            if (isTome) {
                // Merging only: the sizes sum to the original count, every original has one owner.
                QVERIFY2(imageOwners.eq(1).all().item<bool>(), where.c_str());
                QVERIFY2(r.imageSize.sum(-1).eq(imageOriginals).all().item<bool>(), where.c_str());
                QVERIFY(r.imageMergeSource.defined() && r.imageMergeSource.size(1) == r.counts.tokensMerged);
                QCOMPARE(r.imageScore.size(1), r.counts.imageIn);
            }
            if (isDrop) {
                // The image CLS is kept; every sample keeps at least one valid patch.
                QVERIFY(imageOwners.select(1, 0).eq(1).all().item<bool>());
                const auto keptValid = (imageOwners * validImage).sum(-1);  // [B]
                QVERIFY(keptValid.ge(2).all().item<bool>());
                QVERIFY(keptValid.le(validImage.sum(-1)).all().item<bool>());
                QVERIFY(!(imageOwners * (1 - validImage)).any().item<bool>());  // no padding patch survives
            }
        }

        // Masks: the final key weights of the image tokens equal their valid originals (ToMe: sizes
        // for proportional attention; drops: 0 for fillers); padding stays masked.
        const auto& last = e.reductions.back().record;
        if (isTome || isDrop) {
            const auto validInside = torch::bmm(last.imageSource.to(torch::kFloat), validImage.unsqueeze(-1)).squeeze(-1);
            const auto finalMask = e.finalMask.to(torch::kFloat);
            if (last.isJointSequence) {
                const auto validText = e.fullAttentionMask.slice(1, 0, textOriginals).to(torch::kFloat);
                const auto textInside = torch::bmm(last.textSource.to(torch::kFloat), validText.unsqueeze(-1)).squeeze(-1);
                QVERIFY(allClose(finalMask, validInside + textInside, 0.0, "joint key weights"));
            } else {
                const auto textRows = last.textSource.defined() ? last.textSource.size(1) : textOriginals;
                QVERIFY(allClose(finalMask.slice(1, textRows), validInside, 0.0, "image key weights"));
            }
        }
    }

    // Token counts per block equal ToMe's formula, N - sum of clamped r, for both scopes and several schedules.
    void tomeCountsFollowSchedule_data() {
        QTest::addColumn<bool>("joint");
        QTest::addColumn<std::vector<int64_t>>("schedule");
        const auto layers = kRealisticLayers;
        for (const bool joint : {false, true}) {
            const std::string scope = joint ? "joint " : "image ";
            QTest::newRow((scope + "constant 8").c_str()) << joint << tomeSchedule(layers, 8);
            QTest::newRow((scope + "decreasing 12").c_str()) << joint << tomeSchedule(layers, 12, -1.0);
            QTest::newRow((scope + "increasing 6").c_str()) << joint << tomeSchedule(layers, 6, 1.0);
            QTest::newRow((scope + "clamped 60").c_str()) << joint << tomeSchedule(layers, 60);
            QTest::newRow((scope + "list").c_str()) << joint << tomeSchedule(layers, std::vector<int64_t>{0, 30, 0, 5});
        }
    }

    void tomeCountsFollowSchedule() {
        QFETCH(bool, joint);
        QFETCH(std::vector<int64_t>, schedule);
        c10::InferenceMode guard;
        auto reduction = makeReduction(joint ? "tome joint" : "tome image", true);
        setTomeSchedule(reduction, schedule);
        const auto out = run(true, reduction);
        const auto& e = out.images.at(0);
        const auto textLength = e.fullAttentionMask.size(1) - e.imageTokenMask.size(1);
        const auto start = joint ? e.fullAttentionMask.size(1) : e.imageTokenMask.size(1);
        const auto expected = tomeCounts(start, schedule);
        std::size_t record = 0;
        int64_t before = start;
        for (std::size_t l = 0; l < expected.size(); ++l) {
            const auto tokens = e.hiddenStates.at(l + 1).size(1);
            QCOMPARE(tokens, joint ? expected[l] : textLength + expected[l]);
            if (expected[l] != before) {  // a record for every block that changed tokens, and only those
                QVERIFY(record < e.reductions.size());
                const auto& r = e.reductions[record++];
                QCOMPARE(r.layer, static_cast<int>(l));
                QCOMPARE(r.record.counts.mergeRequested, schedule[l]);
                QCOMPARE(r.record.counts.tokensMerged, before - expected[l]);
                QCOMPARE(r.record.counts.imageOut, expected[l]);
            }
            before = expected[l];
        }
        QCOMPARE(record, e.reductions.size());
        QCOMPARE(out.logits.size(0), int64_t(2));
    }

    // r = 0 everywhere and keep ratio 1 reduce nothing: bit-identical logits, no records.
    void nothingReducedIsIdentity_data() {
        QTest::addColumn<std::string>("method");
        QTest::addColumn<bool>("realistic");
        for (const bool realistic : {false, true})
            for (const char* method : {"tome image", "tome joint", "random", "uniform"})
                QTest::newRow((std::string(method) + (realistic ? " 384" : " fixture")).c_str()) << std::string(method)
                                                                                                   << realistic;
    }

    void nothingReducedIsIdentity() {
        QFETCH(std::string, method);
        QFETCH(bool, realistic);
        c10::InferenceMode guard;
        auto reduction = makeReduction(method, realistic);
        setTomeSchedule(reduction, tomeSchedule(layerCount(realistic), 0));
        if (reduction.embeddingDrop) reduction.embeddingDrop->keepRatio = 1.0;
        const auto plain = run(realistic, std::nullopt, false);
        const auto reduced = run(realistic, reduction, false);
        QVERIFY(torch::equal(reduced.logits, plain.logits));
        QVERIFY(reduced.images.at(0).reductions.empty());
        QCOMPARE(plain.images.at(0).layerMs.size(), static_cast<std::size_t>(layerCount(realistic)));
    }

    // Without provenance (benchmarks, batched answers) the model computes the same numbers; only the
    // records lose their sources and sizes.
    void provenanceIsBookkeepingOnly_data() {
        QTest::addColumn<std::string>("method");
        for (const char* method : {"pumer reference", "pumer fixed", "tome image"}) QTest::newRow(method) << std::string(method);
    }

    void provenanceIsBookkeepingOnly() {
        QFETCH(std::string, method);
        c10::InferenceMode guard;
        ViltForwardOptions options;
        const auto plan = makeReduction(method, true);
        options.plan = &plan;
        const auto with = setup(true).model->forward(setup(true).inputs, options);
        options.recordProvenance = false;
        const auto without = setup(true).model->forward(setup(true).inputs, options);
        QVERIFY(torch::equal(with.logits, without.logits));
        const auto& a = with.images.at(0).reductions;
        const auto& b = without.images.at(0).reductions;
        QCOMPARE(a.size(), b.size());
        QVERIFY(!a.empty());
        for (std::size_t i = 0; i < a.size(); ++i) {
            QVERIFY(a[i].record.imageSource.defined() && a[i].record.imageSize.defined());
            QVERIFY(!b[i].record.imageSource.defined() && !b[i].record.imageSize.defined());
            QCOMPARE(b[i].record.counts.imageOut, a[i].record.counts.imageOut);
            QVERIFY(torch::equal(b[i].record.imageOrigin, a[i].record.imageOrigin));
        }
    }

    // ToMe with r > 0 changes the logits (image-only and joint); so does proportional attention alone.
    void tomeChangesLogits() {
        c10::InferenceMode guard;
        for (const bool realistic : {false, true}) {
            const auto plain = run(realistic, std::nullopt, false);
            for (const bool joint : {false, true}) {
                auto reduction = makeReduction(joint ? "tome joint" : "tome image", realistic);
                const auto reduced = run(realistic, reduction, false);
                qInfo("%s %s: max |logit change| %.3g", realistic ? "384" : "fixture", joint ? "joint" : "image",
                      (reduced.logits - plain.logits).abs().max().item<double>());
                QVERIFY(!torch::allclose(reduced.logits, plain.logits, 1e-6, 1e-6));
                reduction.tome.proportionalAttention = false;
                const auto flat = run(realistic, reduction, false);
                QVERIFY(!torch::allclose(flat.logits, reduced.logits, 0.0, 0.0));
            }
        }
    }

    // Same seed: identical kept sets and logits; another seed: another kept set. The kept set of a
    // sample depends on the seed and its own patch count only, and is pinned across runs/versions.
    void randomDropIsSeeded() {
        c10::InferenceMode guard;
        auto reduction = makeReduction("random", true);
        const auto first = run(true, reduction);
        const auto second = run(true, reduction);
        QVERIFY(torch::equal(first.logits, second.logits));
        QVERIFY(torch::equal(first.images[0].reductions[0].record.keptIndex, second.images[0].reductions[0].record.keptIndex));
        reduction.embeddingDrop->seed = 1235;
        const auto other = run(true, reduction);
        for (int64_t b = 0; b < 2; ++b) QVERIFY(keptRow(other.images[0], b) != keptRow(first.images[0], b));
        QVERIFY(!torch::equal(first.logits, other.logits));
        const auto kept = keptRow(first.images[0], 0);
        QCOMPARE(static_cast<int64_t>(kept.size()), int64_t(1 + 72));
        QVERIFY(std::is_sorted(kept.begin(), kept.end()));
        QCOMPARE(std::set<int64_t>(kept.begin(), kept.end()).size(), kept.size());
        // Pinned: SplitMix64 + partial Fisher-Yates, seed 1234, 144 patches, keep 72.
        const std::vector<int64_t> head(kept.begin(), kept.begin() + 8);
        QCOMPARE(head, (std::vector<int64_t>{0, 2, 3, 4, 5, 7, 8, 10}));
    }

    // Uniform drop: deterministic, and every row of the patch grid keeps patches at keep ratio 0.5.
    void uniformDropIsSpread() {
        c10::InferenceMode guard;
        const auto reduction = makeReduction("uniform", true);
        const auto first = run(true, reduction);
        const auto second = run(true, reduction);
        QVERIFY(torch::equal(first.logits, second.logits));
        const auto& e = first.images[0];
        QVERIFY(torch::equal(e.reductions[0].record.keptIndex, second.images[0].reductions[0].record.keptIndex));
        const int64_t validRows[] = {12, 10}, validCols[] = {12, 8};
        for (int64_t b = 0; b < 2; ++b) {
            std::map<int64_t, int> perRow;
            std::set<int64_t> columns;
            const auto kept = keptRow(e, b);
            for (std::size_t k = 1; k < kept.size(); ++k) {
                if (kept[k] < 0) continue;
                const auto cell = e.imagePatchIndex[b][kept[k] - 1];
                ++perRow[cell[0].item<int64_t>()];
                columns.insert(cell[1].item<int64_t>());
            }
            QCOMPARE(static_cast<int64_t>(perRow.size()), validRows[b]);
            for (const auto& [row, count] : perRow) QCOMPARE(count, static_cast<int>(validCols[b] / 2));
            QCOMPARE(static_cast<int64_t>(columns.size()), validCols[b] / 2);
        }
    }

    // Padding stays masked: a sample's dropped forward is the same alone and inside the padded batch.
    void dropIsBatchInvariant_data() {
        QTest::addColumn<std::string>("method");
        QTest::newRow("random") << std::string("random");
        QTest::newRow("uniform") << std::string("uniform");
    }

    void dropIsBatchInvariant() {
        QFETCH(std::string, method);
        c10::InferenceMode guard;
        auto& s = setup(true);
        ViltForwardOptions options;
        const auto plan = makeReduction(method, true);
        options.plan = &plan;
        const auto batched = s.model->forward(s.inputs, options);
        ViltInputs alone;
        alone.inputIds = s.inputs.inputIds.slice(0, 1, 2);
        alone.attentionMask = s.inputs.attentionMask.slice(0, 1, 2);
        alone.pixelValues = s.inputs.pixelValues.slice(0, 1, 2).slice(2, 0, 320).slice(3, 0, 256);
        alone.pixelMask = s.inputs.pixelMask.slice(0, 1, 2).slice(1, 0, 320).slice(2, 0, 256);
        const auto single = s.model->forward(alone, options);
        QVERIFY(allClose(single.logits, batched.logits.slice(0, 1, 2), 1e-4, "sample 1 alone vs batched"));
        QCOMPARE(single.images[0].reductions[0].record.keptIndex.size(1), int64_t(1 + 40));
    }
};

QTEST_APPLESS_MAIN(TestReduction)
#include "tst_reduction.moc"
