// HiRED (reduce/hired.h) and its hook in LLaVA-NeXT: budgets by hasanar1f/HiRED's HiRED_token_selection,
// invariants of every selection, paper vs reference mode where they must differ, the packing order
// on hand-built cases, the spatial baseline's realised ratio, the seeded random baseline, the CLS
// attention row against the full attention maps, and budget 1 = the unreduced model's fixture
// outputs.

#include <QTest>
#include <torch/torch.h>

#include "checkpoint/checkpoint.h"
#include "checkpoint/tensor_file.h"
#include "common/error.h"
#include "config/model_config.h"
#include "models/clip_vision.h"
#include "models/llava_next.h"
#include "reduce/hired.h"
#include "support/tensor_compare.h"

using namespace tokenscope;
using tokenscope::test::allClose;
using tokenscope::test::dataPath;

namespace {

const std::vector<std::pair<int, int>> kHubPinpoints{{336, 672}, {672, 336}, {672, 672}, {1008, 336}, {336, 1008}};

// ViT-L/336 geometry of an image: 24×24 tokens per partition.
PartitionGeometry hubGeometry(int height, int width) { return partitionGeometry(height, width, kHubPinpoints, 336, 14); }

std::vector<int> rowOf(const torch::Tensor& mask) {
    std::vector<int> out;
    const auto idx = mask.nonzero().flatten();
    for (int64_t i = 0; i < idx.numel(); ++i) out.push_back(static_cast<int>(idx[i].item<int64_t>()));
    return out;
}

LlavaNext loadFixtureModel() {
    const auto config = loadModelConfig(dataPath("llava_next/config.json"));
    LlavaNext model(config.llavaNext);
    model->eval();
    loadLlavaNextWeights(*model, Checkpoint::open(dataPath("llava_next/model.safetensors")));
    return model;
}

torch::Tensor validRows(const torch::Tensor& x, const torch::Tensor& mask) {
    std::vector<torch::Tensor> parts;
    for (int64_t b = 0; b < x.size(0); ++b) parts.push_back(x[b].index({mask[b].to(torch::kBool)}));
    return torch::cat(parts, 0);
}

}  // namespace

class TestHired : public QObject {
    Q_OBJECT
private slots:
    // Budgets for alpha 0.5 by the arithmetic of HiRED_token_selection (hasanar1f/HiRED), written out by hand.
    void budgetTable_data() {
        QTest::addColumn<int>("height");
        QTest::addColumn<int>("width");
        QTest::addColumn<int>("partitions");
        QTest::addColumn<double>("rate");
        QTest::addColumn<int>("total");
        QTest::addColumn<int>("full");
        QTest::addColumn<int>("tiles");
        QTest::newRow("3 (1x2) 0.2") << 336 << 672 << 3 << 0.2 << 345 << 172 << 173;
        QTest::newRow("3 (2x1) 0.2") << 672 << 336 << 3 << 0.2 << 345 << 172 << 173;
        QTest::newRow("4 (1x3) 0.2") << 300 << 1000 << 4 << 0.2 << 460 << 230 << 230;
        QTest::newRow("5 (2x2) 0.2") << 672 << 672 << 5 << 0.2 << 576 << 288 << 288;
        QTest::newRow("5 (2x2) 0.4") << 672 << 672 << 5 << 0.4 << 1152 << 576 << 576;
        QTest::newRow("5 (2x2) 0.1") << 672 << 672 << 5 << 0.1 << 288 << 144 << 144;
    }
    void budgetTable() {
        QFETCH(int, height);
        QFETCH(int, width);
        QFETCH(int, partitions);
        QFETCH(double, rate);
        QFETCH(int, total);
        QFETCH(int, full);
        QFETCH(int, tiles);
        const auto g = hubGeometry(height, width);
        QCOMPARE(g.partitions(), partitions);
        torch::manual_seed(partitions);
        const auto initial = torch::rand({partitions, 576}), final = torch::rand({partitions, 576});
        for (auto mode : {HiredMode::Reference, HiredMode::Paper}) {
            const auto s = hiredSelect(initial, final, g, rate, 0.5, mode);
            QCOMPARE(s.totalBudget, total);
            QCOMPARE(s.fullImageBudget, full);
            QCOMPARE(s.tilesBudget, tiles);
            QCOMPARE(s.flaggedTokens, mode == HiredMode::Reference ? 288 : 0);
            QCOMPARE(s.masks[0].sum().item<int64_t>(), int64_t(full));
        }
    }

    // Every selection: per-partition counts = budgets <= N, budgets sum <= total, packed <= selected.
    void invariants_data() {
        QTest::addColumn<int>("height");
        QTest::addColumn<int>("width");
        QTest::addColumn<double>("rate");
        QTest::addColumn<double>("alpha");
        QTest::addColumn<int>("seed");
        int seed = 0;
        for (auto [h, w] : std::vector<std::pair<int, int>>{{672, 672}, {480, 640}, {336, 672}, {899, 1024}, {300, 1000}, {1000, 300}}) {
            for (double rate : {0.05, 0.1, 0.2, 0.4, 0.9}) {
                for (double alpha : {0.0, 0.3, 0.5, 1.0}) {
                    const auto name = std::to_string(h) + "x" + std::to_string(w) + " r" + std::to_string(rate) + " a" + std::to_string(alpha);
                    QTest::newRow(name.c_str()) << h << w << rate << alpha << seed++;
                }
            }
        }
    }
    void invariants() {
        QFETCH(int, height);
        QFETCH(int, width);
        QFETCH(double, rate);
        QFETCH(double, alpha);
        QFETCH(int, seed);
        const auto g = hubGeometry(height, width);
        const int n = g.partitions();
        torch::manual_seed(seed);
        const auto initial = torch::softmax(torch::randn({n, 576}) * 3, -1), final = torch::softmax(torch::randn({n, 576}) * 3, -1);
        for (auto mode : {HiredMode::Reference, HiredMode::Paper}) {
            const auto s = hiredSelect(initial, final, g, rate, alpha, mode);
            QCOMPARE(s.masks.sizes().vec(), (std::vector<int64_t>{n, 576}));
            int sum = 0;
            for (int i = 0; i < n; ++i) {
                QVERIFY(s.budgets[i] >= 0 && s.budgets[i] <= 576);
                QCOMPARE(s.masks[i].sum().item<int64_t>(), int64_t(s.budgets[i]));
                sum += s.budgets[i];
            }
            QVERIFY2(sum <= s.totalBudget, (std::to_string(sum) + " > " + std::to_string(s.totalBudget)).c_str());
            QVERIFY(s.fullImageBudget + s.tilesBudget <= s.totalBudget);
            // Unless a tile hit the N cap, the floors lose less than one token per tile.
            const bool capped = std::any_of(s.budgets.begin() + 1, s.budgets.end(), [](int b) { return b == 576; });
            if (!capped) QVERIFY(s.tilesBudget - (sum - s.fullImageBudget) <= n - 2);
            const auto order = hiredPackOrder(s.masks, g, mode);
            int kept = 0;
            for (int i = 0; i < n; ++i) {
                const auto& k = order.keptPerPartition[i];
                kept += static_cast<int>(k.size());
                const auto selected = rowOf(s.masks[i]);
                QVERIFY(std::includes(selected.begin(), selected.end(), k.begin(), k.end()));
            }
            QCOMPARE(static_cast<int>(order.flatIndices.size()), kept);
            QVERIFY(kept <= sum);
            QCOMPARE(static_cast<int>(order.keptPerPartition[0].size()), s.fullImageBudget);  // the full image is never unpadded
            // Every index once.
            auto unique = order.flatIndices;
            std::sort(unique.begin(), unique.end());
            QVERIFY(std::adjacent_find(unique.begin(), unique.end()) == unique.end());
        }
    }

    // The top tokens by the feature layer's CLS attention, the full image's budget min(int(total · alpha), N).
    void selectsTopAttention() {
        const auto g = hubGeometry(672, 672);
        auto final = torch::zeros({5, 576});
        for (int i = 0; i < 5; ++i) final[i].slice(0, 100 + i, 100 + i + 400).fill_(1.0);  // 400 hot tokens each
        // Layer 0: the odd tokens highest (distinct values, no ties), so the 288 flags are spread
        // evenly and every band gets the same share of the 288 tile tokens.
        auto initial = torch::zeros({5, 576});
        initial[0] = torch::arange(576, torch::kFloat).remainder(2) + torch::arange(576, torch::kFloat) * 1e-6;
        const auto s = hiredSelect(initial, final, g, 0.2, 0.5, HiredMode::Reference);
        QCOMPARE(s.budgets, (std::vector<int>{288, 72, 72, 72, 72}));
        for (int i = 0; i < 5; ++i) {
            const auto chosen = rowOf(s.masks[i]);
            QVERIFY(chosen.front() >= 100 + i && chosen.back() < 100 + i + 400);
        }
    }

    // Paper mode: the tiles' geometric regions; reference mode: horizontal bands of the full image.
    void paperRegionsVersusReferenceBands() {
        const auto g = hubGeometry(672, 672);  // 2×2, no padding
        auto initial = torch::zeros({5, 576});
        auto left = initial[0].view({24, 24});
        left.slice(1, 0, 12).fill_(1.0);  // attention on the left half of the full image
        const auto final = torch::rand({5, 576});
        const auto paper = hiredSelect(initial, final, g, 0.2, 0.5, HiredMode::Paper);
        const auto reference = hiredSelect(initial, final, g, 0.2, 0.5, HiredMode::Reference);
        // Tiles row-major: TL, TR, BL, BR. The left half lies in TL and BL.
        QCOMPARE(paper.budgets, (std::vector<int>{288, 144, 0, 144, 0}));
        QCOMPARE(paper.shares[1], 144.0);
        QCOMPARE(paper.shares[2], 0.0);
        // The top 288 flags are the left half; each 6-row band holds 72 of them.
        QCOMPARE(reference.budgets, (std::vector<int>{288, 72, 72, 72, 72}));
        QCOMPARE(reference.shares[3], 72.0);

        // The top half instead: there the bands 0-1 (rows 0-11) and the top tiles agree.
        auto top = torch::zeros({5, 576});
        top[0].slice(0, 0, 288).fill_(1.0);
        const auto paperTop = hiredSelect(top, final, g, 0.2, 0.5, HiredMode::Paper);
        const auto referenceTop = hiredSelect(top, final, g, 0.2, 0.5, HiredMode::Reference);
        QCOMPARE(paperTop.budgets, (std::vector<int>{288, 144, 144, 0, 0}));
        QCOMPARE(referenceTop.budgets, (std::vector<int>{288, 144, 144, 0, 0}));
    }

    // A padded image: paper mode weighs only the part of each tile that holds image.
    void paperRegionsFollowPadding() {
        const auto g = hubGeometry(336, 1008);  // 1×3 grid, the resized image fills the canvas
        QCOMPARE(g.rows, 1);
        QCOMPARE(g.columns, 3);
        const auto uniform = torch::ones({4, 576});
        const auto s = hiredSelect(uniform, torch::rand({4, 576}), g, 0.2, 0.5, HiredMode::Paper);
        // Uniform attention: each third of the image gets a third of the 230 tile tokens.
        QCOMPARE(s.budgets, (std::vector<int>{230, 76, 76, 76}));
        const auto wide = hubGeometry(300, 1000);  // canvas 336×1008, image 303×1008 centred (16 px on top)
        QCOMPARE(wide.resizedHeight, 303);
        const auto rectangle = partitionRectangle(wide, 2);
        QVERIFY(std::abs(rectangle[0] - 336.0 * 1000.0 / 1008.0) < 1e-9);
        QVERIFY(std::abs(rectangle[1] - (-16.0 * 300.0 / 303.0)) < 1e-9);
        QVERIFY(std::abs(rectangle[3] - 336.0 * 300.0 / 303.0) < 1e-9);
    }

    // Hand-built: p = 2, a 1×2 grid, masks chosen by hand; the expected orders are worked out
    // by hand from pack_HiRED_image_features (paper: tiles side by side; reference: stacked).
    void packOrderHandBuilt() {
        PartitionGeometry g;
        g.rows = 1, g.columns = 2, g.patchGrid = 2, g.tileSize = 28;
        g.imageHeight = 10, g.imageWidth = 20;
        g.canvasHeight = 28, g.canvasWidth = 56, g.resizedHeight = 28, g.resizedWidth = 56;
        const auto masks = torch::tensor({1, 0, 0, 1, /**/ 0, 1, 1, 0, /**/ 1, 1, 0, 1}, torch::kBool).view({3, 4});
        const auto paper = hiredPackOrder(masks, g, HiredMode::Paper);
        // Stitched 2×4: row 0 = tile0 {0,1} tile1 {0,1}, row 1 = tile0 {2,3} tile1 {2,3}; aspect 2 = 2: nothing cut.
        QCOMPARE(paper.flatIndices, (std::vector<int64_t>{0, 3, 5, 8, 9, 6, 11}));
        QCOMPARE(paper.keptPerPartition[1], (std::vector<int>{1, 2}));
        QCOMPARE(paper.keptPerPartition[2], (std::vector<int>{0, 1, 3}));
        const auto reference = hiredPackOrder(masks, g, HiredMode::Reference);
        // Swapped: 4×2 (tile0 above tile1); unpad: 20/10 > 2/4, new height int(10·2/20) = 1, pad 1: rows 1-2.
        QCOMPARE(reference.flatIndices, (std::vector<int64_t>{0, 3, 6, 8, 9}));
        QCOMPARE(reference.keptPerPartition[1], (std::vector<int>{2}));
        QCOMPARE(reference.keptPerPartition[2], (std::vector<int>{0, 1}));
    }

    // Unpadding after selection: selected tokens in the padding rows vanish (p = 4, 1×2 grid,
    // image 10×40: new height round(10·8/40) = 2 of 4 rows, pad 1 -> rows 1 and 2).
    void unpaddingDropsSelectedTokens() {
        PartitionGeometry g;
        g.rows = 1, g.columns = 2, g.patchGrid = 4, g.tileSize = 56;
        g.imageHeight = 10, g.imageWidth = 40;
        g.canvasHeight = 56, g.canvasWidth = 112, g.resizedHeight = 28, g.resizedWidth = 112;
        const auto all = keepAllSelect(3, 16);
        const auto order = hiredPackOrder(all.masks, g, HiredMode::Paper);
        QCOMPARE(order.keptPerPartition[0].size(), std::size_t(16));
        QCOMPARE(order.keptPerPartition[1], (std::vector<int>{4, 5, 6, 7, 8, 9, 10, 11}));
        QCOMPARE(order.flatIndices.size(), std::size_t(32));
        // Raster order of the stitched grid: row 1 of tile 0 then row 1 of tile 1, then row 2.
        QCOMPARE(std::vector<int64_t>(order.flatIndices.begin() + 16, order.flatIndices.begin() + 24),
                 (std::vector<int64_t>{20, 21, 22, 23, 36, 37, 38, 39}));
    }

    // Square grids: both modes pack identically when nothing is unpadded.
    void squareGridPacksAlike() {
        const auto g = hubGeometry(672, 672);
        torch::manual_seed(5);
        const auto masks = torch::rand({5, 576}) < 0.3;
        QCOMPARE(hiredPackOrder(masks, g, HiredMode::Paper).flatIndices, hiredPackOrder(masks, g, HiredMode::Reference).flatIndices);
        // A 1×2 grid does not (hasanar1f/HiRED swaps the grid's rows and columns when stitching).
        const auto wide = hubGeometry(336, 672);
        const auto wideMasks = torch::rand({3, 576}) < 0.3;
        QVERIFY(hiredPackOrder(wideMasks, wide, HiredMode::Paper).flatIndices !=
                hiredPackOrder(wideMasks, wide, HiredMode::Reference).flatIndices);
    }

    // HiRED repository's spatial baseline: g = N // int(N·b), indices arange(0, N-1, g).
    void spatialRatioQuirk_data() {
        QTest::addColumn<double>("budget");
        QTest::addColumn<int>("kept");
        QTest::addColumn<int>("gap");
        QTest::newRow("0.4 -> 50%") << 0.4 << 288 << 2;  // int(230.4) = 230, 576 // 230 = 2
        QTest::newRow("0.2") << 0.2 << 115 << 5;          // int(115.2) = 115, gap 5, 0..570
        QTest::newRow("0.1") << 0.1 << 58 << 10;          // int(57.6) = 57, gap 10, 0..570: 58
    }
    void spatialRatioQuirk() {
        QFETCH(double, budget);
        QFETCH(int, kept);
        QFETCH(int, gap);
        const auto s = spatialSelect(5, 576, budget);
        for (int i = 0; i < 5; ++i) {
            const auto chosen = rowOf(s.masks[i]);
            QCOMPARE(static_cast<int>(chosen.size()), kept);
            QCOMPARE(chosen[0], 0);
            QCOMPARE(chosen[1], gap);
        }
        QCOMPARE(spatialSelect(5, 576, 0.001).masks.sum().item<int64_t>(), int64_t(0));
        QCOMPARE(spatialSelect(5, 576, 1.0).masks.sum().item<int64_t>(), int64_t(5 * 576));
    }

    void randomIsSeeded() {
        const auto a = randomSelect(5, 576, 0.2, 7), b = randomSelect(5, 576, 0.2, 7), c = randomSelect(5, 576, 0.2, 8);
        QVERIFY(torch::equal(a.masks, b.masks));
        QVERIFY(!torch::equal(a.masks, c.masks));
        for (int i = 0; i < 5; ++i) QCOMPARE(a.masks[i].sum().item<int64_t>(), int64_t(115));
        QVERIFY(!torch::equal(a.masks[0], a.masks[1]));
    }

    void edgeCases() {
        const auto g = hubGeometry(672, 672);
        const auto att = torch::rand({5, 576});
        // alpha 1 with a budget past N: no flagged tokens; the reference divides 0 by 0, here the tiles share evenly.
        const auto s = hiredSelect(att, att, g, 0.4, 1.0, HiredMode::Reference);
        QCOMPARE(s.flaggedTokens, 0);
        QCOMPARE(s.budgets, (std::vector<int>{576, 144, 144, 144, 144}));
        // alpha 0: every token flagged, an even split.
        const auto even = hiredSelect(att, att, g, 0.2, 0.0, HiredMode::Reference);
        QCOMPARE(even.budgets, (std::vector<int>{0, 144, 144, 144, 144}));
        // budget >= 1 keeps everything.
        QCOMPARE(hiredSelect(att, att, g, 1.0, 0.5, HiredMode::Paper).masks.sum().item<int64_t>(), int64_t(5 * 576));
        try {
            hiredSelect(att.slice(0, 0, 4), att, g, 0.2, 0.5, HiredMode::Paper);
            QFAIL("no error");
        } catch (const Error& e) {
            QVERIFY2(QString(e.what()).contains("[5, 576]"), e.what());
        }
    }

    // The CLS row the tower computes alone equals row 0 of its full attention maps, heads summed.
    void clsAttentionRowMatchesFullMaps() {
        c10::InferenceMode guard;
        auto model = loadFixtureModel();
        const auto inputs = readTensorFile(dataPath("llava_next/inputs.safetensors"));
        const auto pixels = inputs.at("pixel_values")[0];  // [5, 3, 56, 56]
        auto& tower = dynamic_cast<ClipVisionImpl&>(**model->named_children().find("vision_tower"));
        ClipVisionOptions options;
        options.keepAttentions = true;
        options.clsAttentionLayers = {0, 1};
        const auto out = tower.forward(pixels, options);
        QCOMPARE(out.clsAttentions.size(), std::size_t(2));
        for (int l = 0; l < 2; ++l) {
            const auto expected = out.attentions[l].select(2, 0).slice(2, 1).sum(1);  // [5, 16]
            QVERIFY(allClose(out.clsAttentions[l], expected, 1e-6, "cls attention layer " + std::to_string(l)));
        }
    }

    // Budget 1 (any method) is the unreduced model: the fixture's logits.
    void budgetOneIsTheUnreducedModel() {
        c10::InferenceMode guard;
        auto model = loadFixtureModel();
        const auto inputs = readTensorFile(dataPath("llava_next/inputs.safetensors"));
        const auto expected = readTensorFile(dataPath("llava_next/outputs.safetensors"));
        const auto mask = inputs.at("attention_mask");
        for (auto method : {LlavaMethod::Hired, LlavaMethod::Spatial, LlavaMethod::Random}) {
            VisualTokenSettings settings;
            settings.method = method;
            settings.budget = 1.0;
            LlavaNextOptions options;
            options.reduction = &settings;
            std::vector<VisualSelection> records;
            options.records = &records;
            const auto out = model->forward(inputs.at("input_ids"), mask, inputs.at("position_ids"), inputs.at("pixel_values"),
                                            inputs.at("image_sizes"), options);
            QVERIFY(allClose(validRows(out.logits, mask), validRows(expected.at("logits"), mask), 1e-4, llavaMethodName(method)));
            QCOMPARE(records.size(), std::size_t(2));
            QCOMPARE(records[0].budget.deliveredTokens, 70);
            QCOMPARE(records[1].budget.deliveredTokens, 46);
        }
    }

    // HiRED on the fixture model: the record agrees with what reached the language model.
    void hiredOnTheFixtureModel() {
        c10::InferenceMode guard;
        auto model = loadFixtureModel();
        const auto inputs = readTensorFile(dataPath("llava_next/inputs.safetensors"));
        for (auto mode : {HiredMode::Paper, HiredMode::Reference}) {
            VisualTokenSettings settings;
            settings.method = LlavaMethod::Hired;
            settings.budget = 0.5;
            settings.mode = mode;
            ImageEncodeOptions options;
            options.reduction = &settings;
            options.keepRecords = true;
            const auto encoded = model->encodeImages(inputs.at("pixel_values"), inputs.at("image_sizes"), options);
            QCOMPARE(encoded.records.size(), std::size_t(2));
            int64_t total = 0;
            for (std::size_t i = 0; i < 2; ++i) {
                const auto& r = encoded.records[i];
                QCOMPARE(int64_t(r.budget.deliveredTokens), encoded.lengths[i]);
                QVERIFY(r.budget.deliveredTokens <= r.budget.selectedTokens && r.budget.selectedTokens <= r.budget.total);
                QCOMPARE(r.budget.total, static_cast<int>(r.partitions.size() * 16 * 0.5));
                int kept = 0;
                for (const auto& p : r.partitions) {
                    QCOMPARE(p.clsAttentionInitial.size(), std::size_t(16));
                    QCOMPARE(static_cast<int>(p.selected.size()), p.budget);
                    kept += static_cast<int>(p.kept.size());
                }
                QCOMPARE(kept, r.budget.deliveredTokens);
                // The trace made of the record: the selection and the unpadding as projector layers.
                const Trace trace = visualSelectionTrace(r);
                const int select = trace.find(Stage::Projector, 0, "select");
                QVERIFY(select >= 0);
                QCOMPARE(trace.layers[std::size_t(select)].image.tokens, r.budget.selectedTokens);
                QCOMPARE(trace.layers.back().image.tokens, kept);
                QVERIFY(trace.layers.back().removesPadding);
                QCOMPARE(trace.image.regions.size(), r.partitions.size());
                total += encoded.lengths[i];
            }
            QCOMPARE(encoded.features.size(0), total);
            // A legacy prompt (one <image> per image) takes any kept count.
            const auto ids = inputs.at("legacy_input_ids");
            LlavaNextOptions lm;
            ImageEncodeOptions one = options;
            const auto first = model->encodeImages(inputs.at("pixel_values").slice(0, 0, 1), inputs.at("image_sizes").slice(0, 0, 1), one);
            const auto out = model->forwardEncoded(ids, {}, {}, &first, lm);
            QCOMPARE(out.logits.size(1), ids.size(1) - 1 + first.lengths[0]);
            QVERIFY(torch::isfinite(out.logits).all().item<bool>());
        }
    }
};

QTEST_APPLESS_MAIN(TestHired)
#include "tst_hired.moc"
