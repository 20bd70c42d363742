// ToMe (facebookresearch/ToMe tome/merge.py) at reference parity: every case of
// tests/data/tome (bipartite_soft_matching -> merge_wavg, merge_source, merge mean, unmerge, the
// chained 2-round case), plus invariants. Floats atol 1e-5, indices exact.

#include <cmath>
#include <fstream>
#include <limits>
#include <map>
#include <string>

#include <QTest>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "checkpoint/tensor_file.h"
#include "reduce/tome.h"
#include "support/tensor_compare.h"

using namespace tokenscope;
using tokenscope::test::allClose;
using tokenscope::test::dataPath;
using tokenscope::test::equal;

namespace {
constexpr double kAtol = 1e-5;

const std::map<std::string, torch::Tensor>& fixture() {
    static const auto tensors = readTensorFile(dataPath("tome/cases.safetensors"));
    return tensors;
}

nlohmann::json cases() {
    std::ifstream in(dataPath("tome/cases.json"));
    if (!in) throw std::runtime_error("missing fixture tome/cases.json");
    return nlohmann::json::parse(in);
}

// Every original token is in exactly one current token, and sizes count them.
bool checkOwnership(const torch::Tensor& source, const torch::Tensor& size, int64_t originalTokens,
                    const std::string& what) {
    const auto owners = source.sum(1);  // [B, N0]
    if (!torch::equal(owners, torch::ones_like(owners))) {
        QTest::qFail((what + ": an original token has no owner or several").c_str(), __FILE__, __LINE__);
        return false;
    }
    const auto total = size.sum({1, 2});  // [B]
    if (!torch::equal(total, torch::full_like(total, static_cast<double>(originalTokens)))) {
        QTest::qFail((what + ": sizes do not sum to the original count").c_str(), __FILE__, __LINE__);
        return false;
    }
    return allClose(source.sum(-1, true), size, 0.0, what + ": source rows vs sizes");
}
}  // namespace

class TestTome : public QObject {
    Q_OBJECT
private slots:
    void initTestCase() {
        torch::set_num_threads(1);
        QVERIFY(!fixture().empty());
    }

    void fixtureCase_data() {
        QTest::addColumn<int>("index");
        QTest::addColumn<int>("rRequested");
        QTest::addColumn<int>("rEffective");
        QTest::addColumn<bool>("classToken");
        QTest::addColumn<bool>("sizeGiven");
        QTest::addColumn<int>("tokensOut");
        const auto all = cases();
        QVERIFY(all.at("cases").size() == 24);
        for (const auto& c : all.at("cases")) {
            const int index = c.at("case").get<int>();
            QTest::newRow(("case" + std::to_string(index)).c_str())
                << index << c.at("r_requested").get<int>() << c.at("r_effective").get<int>()
                << c.at("class_token").get<bool>() << c.at("size_given").get<bool>() << c.at("tokens_out").get<int>();
        }
    }

    void fixtureCase() {
        QFETCH(int, index);
        QFETCH(int, rRequested);
        QFETCH(int, rEffective);
        QFETCH(bool, classToken);
        QFETCH(bool, sizeGiven);
        QFETCH(int, tokensOut);
        const auto& t = fixture();
        const std::string p = "case" + std::to_string(index) + ".";
        const auto metric = t.at(p + "metric");
        const auto x = t.at(p + "x");
        const auto size = sizeGiven ? t.at(p + "size") : torch::Tensor();

        const auto match = bipartiteSoftMatching(metric, rRequested, classToken);
        QCOMPARE(match.r, int64_t(rEffective));
        if (rEffective > 0) {
            QVERIFY(equal(match.unmergedIndex, t.at(p + "unm_idx").squeeze(-1), "unm_idx"));
            QVERIFY(equal(match.sourceIndex, t.at(p + "src_idx").squeeze(-1), "src_idx"));
            QVERIFY(equal(match.destinationIndex, t.at(p + "dst_idx").squeeze(-1), "dst_idx"));
        }
        const auto merged = mergeWeightedAverage(match, x, size);
        QCOMPARE(merged.x.size(1), int64_t(tokensOut));
        QVERIFY(allClose(merged.x, t.at(p + "x_merged"), kAtol, "x_merged"));
        QVERIFY(allClose(merged.size, t.at(p + "size_merged"), kAtol, "size_merged"));
        const auto source = mergeSource(match, x);
        QVERIFY(allClose(source, t.at(p + "source"), 0.0, "source"));
        QVERIFY(allClose(applyMerge(match, x, MergeReduce::Mean), t.at(p + "x_merged_mode_mean"), kAtol, "merge mean"));
        QVERIFY(allClose(unmerge(match, merged.x), t.at(p + "unmerge_of_x_merged"), kAtol, "unmerge"));
        if (!sizeGiven) QVERIFY(checkOwnership(source, merged.size, x.size(1), "ownership"));
    }

    void chainedRounds() {
        const auto& t = fixture();
        const auto x0 = t.at("chain.x0");
        const auto m1 = bipartiteSoftMatching(t.at("chain.metric1"), 3, true);
        const auto r1 = mergeWeightedAverage(m1, x0);
        const auto s1 = mergeSource(m1, x0);
        QVERIFY(allClose(r1.x, t.at("chain.x1"), kAtol, "x1"));
        QVERIFY(allClose(r1.size, t.at("chain.size1"), kAtol, "size1"));
        QVERIFY(allClose(s1, t.at("chain.source1"), 0.0, "source1"));
        const auto m2 = bipartiteSoftMatching(t.at("chain.metric2"), 4, true);
        const auto r2 = mergeWeightedAverage(m2, r1.x, r1.size);
        const auto s2 = mergeSource(m2, r1.x, s1);
        QVERIFY(allClose(r2.x, t.at("chain.x2"), kAtol, "x2"));
        QVERIFY(allClose(r2.size, t.at("chain.size2"), kAtol, "size2"));
        QVERIFY(allClose(s2, t.at("chain.source2"), 0.0, "source2"));
        QVERIFY(checkOwnership(s2, r2.size, 17, "chain ownership"));
    }

    // Invariants on random inputs: sizes sum to the original count, every original token has
    // exactly one owner, the protected token stays first and alone, mergedOrigin matches the merge.
    void invariants_data() {
        QTest::addColumn<int>("tokens");
        QTest::addColumn<int>("r");
        QTest::addColumn<bool>("classToken");
        for (int tokens : {2, 3, 8, 17, 50}) {
            for (int r : {1, 4, 30}) {
                for (bool classToken : {false, true}) {
                    QTest::newRow(("n" + std::to_string(tokens) + "_r" + std::to_string(r) + (classToken ? "_cls" : ""))
                                      .c_str())
                        << tokens << r << classToken;
                }
            }
        }
    }

    void invariants() {
        QFETCH(int, tokens);
        QFETCH(int, r);
        QFETCH(bool, classToken);
        torch::manual_seed(tokens * 100 + r);
        auto x = torch::randn({3, tokens, 5});
        torch::Tensor size, source;
        for (int round = 0; round < 3; ++round) {
            const auto match = bipartiteSoftMatching(torch::randn({3, x.size(1), 4}), r, classToken);
            const int64_t protectedTokens = classToken ? 1 : 0;
            QCOMPARE(match.r, std::max<int64_t>(0, std::min<int64_t>(r, (x.size(1) - protectedTokens) / 2)));
            source = mergeSource(match, x, source);
            const auto merged = mergeWeightedAverage(match, x, size);
            if (match.r > 0 && classToken) {
                QVERIFY(torch::equal(mergedOrigin(match).select(1, 0), torch::zeros({3}, torch::kLong)));
            }
            x = merged.x;
            size = merged.size;
            QCOMPARE(x.size(1), source.size(1));
            QVERIFY(checkOwnership(source, size, tokens, "round " + std::to_string(round)));
            if (classToken) QCOMPARE(source[0][0].sum().item<float>(), 1.0f);
        }
    }

    // selectRows and the CPU's index_add_ merge give exactly what gather / scatter_reduce give (the
    // reference's operations, written out here), on a batch whose samples merge different tokens.
    void mergeEqualsGatherScatter() {
        torch::manual_seed(5);
        const auto x = torch::randn({3, 11, 6});
        const auto match = bipartiteSoftMatching(torch::randn({3, 11, 4}), 4, true);
        QCOMPARE(match.r, int64_t(4));
        const auto expand = [](const torch::Tensor& index, int64_t c) { return index.unsqueeze(-1).expand({index.size(0), index.size(1), c}); };
        const auto src = x.slice(1, 0, c10::nullopt, 2), dst = x.slice(1, 1, c10::nullopt, 2);
        QVERIFY(torch::equal(selectRows(x, match.sourceIndex, 2, 0), src.gather(1, expand(match.sourceIndex, 6))));
        QVERIFY(torch::equal(selectRows(x, match.destinationIndex, 2, 1), dst.gather(1, expand(match.destinationIndex, 6))));
        const auto sources = src.gather(1, expand(match.sourceIndex, 6));
        const auto expected = torch::cat({src.gather(1, expand(match.unmergedIndex, 6)),
                                          dst.scatter_reduce(1, expand(match.destinationIndex, 6), sources, "sum", true)}, 1);
        QVERIFY(torch::equal(applyMerge(match, x, MergeReduce::Sum), expected));
        const auto before = x.clone();  // the merge adds into a copy, never into x
        applyMerge(match, x, MergeReduce::Sum);
        QVERIFY(torch::equal(x, before));
    }

    // On the CPU bestPartner decides row by row; a tensor that records gradients takes the tensor
    // operations (the path of GPUs and half precision). Both decide alike on scores full of exact and
    // near ties, a NaN row and a row of -inf (the class token's).
    void bestPartnerRowLoopMatchesTensorPath() {
        torch::manual_seed(11);
        for (const auto dtype : {torch::kFloat, torch::kDouble}) {
            for (const bool descending : {true, false}) {
                auto scores = (torch::randint(0, 6, {3, 17, 9}).to(dtype) / 5.0);  // many exact ties
                scores += torch::randint(0, 3, {3, 17, 9}).to(dtype) * (dtype == torch::kFloat ? 1e-7 : 1e-16);
                scores[0][3][4] = std::numeric_limits<double>::quiet_NaN();
                scores[1][0].fill_(-std::numeric_limits<double>::infinity());
                const auto loop = bestPartner(scores, descending);
                const auto tensor = bestPartner(scores.clone().requires_grad_(), descending);
                QVERIFY(torch::equal(std::get<1>(loop), std::get<1>(tensor)));
                QVERIFY(torch::allclose(std::get<0>(loop), std::get<0>(tensor).detach(), 0.0, 0.0, /*equal_nan=*/true));
                QCOMPARE(std::get<1>(loop)[0][3].item<int64_t>(), int64_t(0));  // the NaN row: the first
            }
        }
    }

    // Scores within rounding of the best count as equal, and the first of them wins, as exact ties
    // do in the reference: duplicate tokens that a GEMM scored one unit of rounding apart.
    void nearTiesGoToTheFirst() {
        const float one = 1.0F, above = std::nextafter(one, 2.0F);
        const auto scores = torch::tensor({one, 0.5F, above, 0.9F, 0.2F, 0.95F}).reshape({1, 2, 3});
        const auto [best, index] = bestPartner(scores, /*descending=*/true);
        QCOMPARE(index[0][0].item<int64_t>(), int64_t(0));  // 1 vs 1 + ulp: the first
        QCOMPARE(index[0][1].item<int64_t>(), int64_t(2));  // 0.95 beats 0.9: no tie
        QCOMPARE(best[0][1].item<float>(), 0.95F);
        const auto low = bestPartner(torch::tensor({0.3F, std::nextafter(0.2F, 0.0F), 0.2F}).reshape({1, 1, 3}), false);
        QCOMPARE(std::get<1>(low)[0][0].item<int64_t>(), int64_t(1));
        const auto infinite = bestPartner(torch::full({1, 1, 3}, -std::numeric_limits<float>::infinity()), true);
        QCOMPARE(std::get<1>(infinite)[0][0].item<int64_t>(), int64_t(0));

        // Tokens 1, 3, 5 (set B) point one way; token 3 is a hair off (its scores a few units of
        // rounding above token 1's). Tokens 2 and 4 (set A) merge into token 1, the first of B, as
        // they would with exact duplicates.
        auto metric = torch::zeros({1, 6, 2});
        metric[0][0][1] = 1.0;
        for (int i = 1; i < 6; ++i) metric[0][i][0] = 1.0;
        metric[0][3][1] = 1e-6;
        metric[0][2][1] = metric[0][4][1] = 0.25;
        const auto normed = metric / metric.norm(2, -1, true);
        QVERIFY((normed[0][2] * normed[0][3]).sum().item<float>() > (normed[0][2] * normed[0][1]).sum().item<float>());
        const auto match = bipartiteSoftMatching(metric, 2, /*classToken=*/true);
        QCOMPARE(match.r, int64_t(2));
        QVERIFY(torch::equal(match.destinationIndex, torch::zeros({1, 2}, torch::kLong)));
    }

    void schedules() {
        QCOMPARE(tomeSchedule(4, 8), (std::vector<int64_t>{8, 8, 8, 8}));
        QCOMPARE(tomeSchedule(5, 8, -1.0), (std::vector<int64_t>{16, 12, 8, 4, 0}));
        QCOMPARE(tomeSchedule(5, 8, 1.0), (std::vector<int64_t>{0, 4, 8, 12, 16}));
        QCOMPARE(tomeSchedule(4, 5, 0.5), (std::vector<int64_t>{2, 4, 6, 8}));
        QCOMPARE(tomeSchedule(4, std::vector<int64_t>{3, 1}), (std::vector<int64_t>{3, 1, 0, 0}));
    }
};

QTEST_APPLESS_MAIN(TestTome)
#include "tst_tome.moc"
