// Engine::run and its trace: token counts per layer follow PuMer's formulas, every original token
// has exactly one owner or one drop layer, sizes add up, p = r = t = 0 changes nothing, the same
// seed gives the same trace, and trace.json carries it all.

#include <cmath>

#include <QTemporaryDir>
#include <QTest>
#include <fstream>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "config/model_config.h"
#include "engine/engine.h"
#include "engine/trace_json.h"
#include "reduce/pumer.h"
#include "support/test_paths.h"

using namespace tokenscope;
using tokenscope::test::dataPath;

namespace {

// A 12-layer ViLT with small width and random weights: realistic token counts, fast forward.
std::unique_ptr<Engine> twelveLayerEngine() {
    auto config = builtinModelConfig("vilt-b32");
    config.vilt.hiddenSize = 64;
    config.vilt.numAttentionHeads = 4;
    config.vilt.intermediateSize = 128;
    config.vilt.vocabSize = 3062;
    EngineOptions options;
    options.seed = 3;
    options.vocabPath = dataPath("vilt/vocab_realistic.txt");
    return Engine::fromConfig(config, options);
}

ImageU8 squareImage(int side) {
    ImageU8 image{side, side, 3, std::vector<uint8_t>(static_cast<std::size_t>(side) * side * 3)};
    for (std::size_t i = 0; i < image.pixels.size(); ++i) image.pixels[i] = static_cast<uint8_t>((i * 37) % 251);
    return image;
}

// Every original has exactly one owner or is dropped; drops are permanent; sizes add up.
void checkConsistency(const TokenTrace& trace) {
    for (const auto& layer : trace.layers) {
        QCOMPARE(layer.imageOwner.size(), trace.patchCell.size());
        QCOMPARE(layer.textOwner.size(), trace.textTokens.size());
        QCOMPARE(static_cast<int>(layer.imageSize.size()), layer.imageTokens);
        float alive = 0, sizeSum = 0;
        for (std::size_t o = 0; o < layer.imageOwner.size(); ++o) {
            const int owner = layer.imageOwner[o];
            QVERIFY(owner >= -1 && owner < layer.imageTokens);
            if (owner >= 0) alive += 1;
            const int dropped = trace.imageDroppedAt[o];
            QCOMPARE(owner < 0, dropped >= 0 && dropped <= layer.layer);
        }
        for (float s : layer.imageSize) sizeSum += s;
        QCOMPARE(sizeSum, alive);
    }
}

}  // namespace

class TestEngineRun : public QObject {
    Q_OBJECT
private:
    std::unique_ptr<Engine> m_engine;
    ImageU8 m_image = squareImage(384);
    const std::string m_question = "how many dogs are playing on the left table near the red car?";

private slots:
    void initTestCase() { m_engine = twelveLayerEngine(); }

    void noneKeepsEverything() {
        const auto run = m_engine->run({m_image, m_question, MethodSettings{}, 5, true});
        QCOMPARE(run.trace.layers.size(), std::size_t(12));
        QCOMPARE(run.trace.gridHeight, 12);
        QCOMPARE(run.trace.patchCell.size(), std::size_t(145));
        for (const auto& layer : run.trace.layers) {
            QVERIFY(!layer.reduced);
            QCOMPARE(layer.imageTokens, 145);
            QVERIFY(layer.latencyMs > 0);
        }
        QCOMPARE(run.answers.size(), std::size_t(5));
        checkConsistency(run.trace);
    }

    void pumerCountsFollowTheFormulas_data() {
        QTest::addColumn<QString>("mode");
        QTest::addColumn<QString>("preset");
        QTest::newRow("reference vqav2") << "reference" << "vqav2";
        QTest::newRow("fixed vqav2") << "fixed" << "vqav2";
        QTest::newRow("reference snli-ve") << "reference" << "snli-ve";
    }

    void pumerCountsFollowTheFormulas() {
        QFETCH(QString, mode);
        QFETCH(QString, preset);
        auto method = presetSettings("pumer", preset.toStdString());
        method.set("mode", mode.toStdString());
        const auto run = m_engine->run({m_image, m_question, method, 5, true});
        const auto& layers = run.trace.layers;
        PumerConfig config;
        config.mode = method.choice("mode") == "fixed" ? ReductionMode::Fixed : ReductionMode::Reference;
        int64_t image = 145, text = static_cast<int64_t>(run.trace.textTokens.size());
        for (const auto& layer : layers) {
            const auto reducing = method.intList("layers");
            const bool reduces = std::find(reducing.begin(), reducing.end(), layer.layer) != reducing.end();
            QCOMPARE(layer.reduced, reduces);
            QCOMPARE(layer.imageTokensIn, static_cast<int>(image));
            if (reduces) {
                const auto counts = pumerCounts(image, text, config);
                image = counts.imageOut;
                text = counts.textOut;
            }
            QCOMPARE(layer.imageTokens, static_cast<int>(image));
            QCOMPARE(layer.textTokens, static_cast<int>(text));
        }
        QVERIFY(layers.back().imageTokens < 40);  // 145 -> 87 -> 52 -> 31 for VQAv2
        checkConsistency(run.trace);
        // Scores exist at reduction layers only.
        QVERIFY(!layers[method.intList("layers").front()].imageScore.empty());
        QVERIFY(layers[0].imageScore.empty());
    }

    void zeroRatiosChangeNothing() {
        auto method = presetSettings("pumer", "vqav2");
        method.set("mode", std::string("fixed")).set("prune", 0.0).set("merge", 0.0).set("merge-text", 0.0);
        const auto reduced = m_engine->run({m_image, m_question, method, 5, false});
        const auto plain = m_engine->run({m_image, m_question, MethodSettings{}, 5, false});
        for (std::size_t i = 0; i < plain.answers.size(); ++i) {
            QCOMPARE(reduced.answers[i].id, plain.answers[i].id);
            QCOMPARE(reduced.answers[i].logit, plain.answers[i].logit);
        }
    }

    void smallerResolutionHasFewerPatches() {
        MethodSettings method("smres");
        method.set("keep", 0.25);
        const auto run = m_engine->run({m_image, m_question, method, 5, true});
        QCOMPARE(run.trace.resizedHeight, 192);
        QCOMPARE(run.trace.patchCell.size(), std::size_t(6 * 6 + 1));
    }

    void traceJsonCarriesTheTrace() {
        const auto run = m_engine->run({m_image, m_question, presetSettings("pumer", "vqav2"), 3, true});
        QTemporaryDir dir;
        const auto path = dir.filePath("trace.json").toStdString();
        writeTraceJson(path, "m", m_question, run, nullptr);
        std::ifstream in(path);
        const auto json = nlohmann::json::parse(in);
        QCOMPARE(json["schema"].get<std::string>(), std::string("tokenscope-trace/1"));
        const auto& layers = json["reduced"]["trace"]["layers"];
        QCOMPARE(layers.size(), std::size_t(12));
        QCOMPARE(layers[2]["image_tokens"].get<int>(), run.trace.layers[2].imageTokens);
        QCOMPARE(layers[8]["image_owner"].size(), std::size_t(145));
        QCOMPARE(json["reduced"]["answers"].size(), std::size_t(3));
    }

    void badSettingsAreClearErrors() {
        auto method = presetSettings("pumer", "vqav2");
        method.set("layers", std::vector<int>{2, 15});
        try {
            m_engine->run({m_image, m_question, method, 5, false});
            QFAIL("no error");
        } catch (const Error& e) {
            QVERIFY2(QString(e.what()).contains("layer 15 does not exist"), e.what());
        }
        try {
            m_engine->run({m_image, "   ", MethodSettings{}, 5, false});
            QFAIL("no error");
        } catch (const Error& e) {
            QVERIFY(QString(e.what()).contains("empty"));
        }
    }

    void cancelStopsTheRun() {
        std::atomic<bool> cancel{true};
        bool cancelled = false;
        try {
            m_engine->run({m_image, m_question, MethodSettings{}, 5, false}, &cancel);
        } catch (const Cancelled&) {
            cancelled = true;
        }
        QVERIFY(cancelled);
    }
};

QTEST_APPLESS_MAIN(TestEngineRun)
#include "tst_engine_run.moc"
