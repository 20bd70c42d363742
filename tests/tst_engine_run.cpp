// Engine::run and its trace: token counts per layer follow PuMer's formulas, every original token
// has exactly one owner or one drop layer, sizes add up, p = r = t = 0 changes nothing, the same
// seed gives the same trace, and trace.json carries it all.

#include <algorithm>
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
void checkConsistency(const Trace& trace) {
    for (const auto& layer : trace.layers) {
        QCOMPARE(layer.image.owner.size(), trace.image.patchCell.size());
        QCOMPARE(layer.text.owner.size(), trace.text.labels.size());
        QCOMPARE(static_cast<int>(layer.image.size.size()), layer.image.tokens);
        float alive = 0, sizeSum = 0;
        for (std::size_t o = 0; o < layer.image.owner.size(); ++o) {
            const int owner = layer.image.owner[o];
            QVERIFY(owner >= -1 && owner < layer.image.tokens);
            if (owner >= 0) alive += 1;
            const int dropped = trace.image.droppedAt[o];
            QCOMPARE(owner < 0, dropped >= 0 && dropped <= layer.index);
        }
        for (float s : layer.image.size) sizeSum += s;
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
        QCOMPARE(run.trace.image.gridHeight, 12);
        QCOMPARE(run.trace.image.patchCell.size(), std::size_t(145));
        for (const auto& layer : run.trace.layers) {
            QVERIFY(!layer.reduced);
            QCOMPARE(layer.image.tokens, 145);
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
        int64_t image = 145, text = static_cast<int64_t>(run.trace.text.labels.size());
        for (const auto& layer : layers) {
            const auto reducing = method.intList("layers");
            const bool reduces = std::find(reducing.begin(), reducing.end(), layer.index) != reducing.end();
            QCOMPARE(layer.reduced, reduces);
            QCOMPARE(layer.image.tokensIn, static_cast<int>(image));
            if (reduces) {
                const auto counts = pumerCounts(image, text, config);
                image = counts.imageOut;
                text = counts.textOut;
            }
            QCOMPARE(layer.image.tokens, static_cast<int>(image));
            QCOMPARE(layer.text.tokens, static_cast<int>(text));
        }
        QVERIFY(layers.back().image.tokens < 40);  // 145 -> 87 -> 52 -> 31 for VQAv2
        checkConsistency(run.trace);
        // Scores exist at reduction layers only.
        QVERIFY(!layers[method.intList("layers").front()].image.score.empty());
        QVERIFY(layers[0].image.score.empty());
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
        QCOMPARE(run.trace.image.resizedHeight, 192);
        QCOMPARE(run.trace.image.patchCell.size(), std::size_t(6 * 6 + 1));
    }

    void traceJsonCarriesTheTrace() {
        const auto run = m_engine->run({m_image, m_question, presetSettings("pumer", "vqav2"), 3, true});
        QTemporaryDir dir;
        const auto path = dir.filePath("trace.json").toStdString();
        writeTraceJson(path, "m", m_question, run, nullptr);
        std::ifstream in(path);
        const auto json = nlohmann::json::parse(in);
        QCOMPARE(json["schema"].get<std::string>(), std::string("tokenscope-trace/2"));
        const auto& layers = json["reduced"]["trace"]["layers"];
        QCOMPARE(layers.size(), std::size_t(12));
        QCOMPARE(layers[2]["stage"].get<std::string>(), std::string("fusion"));
        QCOMPARE(layers[2]["image"]["tokens"].get<int>(), run.trace.layers[2].image.tokens);
        QCOMPARE(layers[8]["image"]["owner"].size(), std::size_t(145));
        QCOMPARE(json["reduced"]["trace"]["streams"]["image"]["geometry"].get<std::string>(), std::string("grid"));
        QCOMPARE(json["reduced"]["answers"].size(), std::size_t(3));

        // Read back: the same trace, layer by layer.
        const TraceFile file = readTraceFile(path);
        QCOMPARE(file.version, 2);
        QCOMPARE(file.question, m_question);
        QCOMPARE(file.runs.size(), std::size_t(1));
        QCOMPARE(file.runs[0].method.method(), std::string("pumer"));
        const Trace& back = file.runs[0].trace;
        QCOMPARE(back.image.patchCell, run.trace.image.patchCell);
        QCOMPARE(back.text.labels, run.trace.text.labels);
        QCOMPARE(back.image.droppedAt, run.trace.image.droppedAt);
        QCOMPARE(back.layers.size(), run.trace.layers.size());
        for (std::size_t l = 0; l < back.layers.size(); ++l) {
            QCOMPARE(back.layers[l].stage, Stage::Fusion);
            QCOMPARE(back.layers[l].index, run.trace.layers[l].index);
            QCOMPARE(back.layers[l].reduced, run.trace.layers[l].reduced);
            QCOMPARE(back.layers[l].image.owner, run.trace.layers[l].image.owner);
            QCOMPARE(back.layers[l].text.owner, run.trace.layers[l].text.owner);
            QCOMPARE(back.layers[l].image.merges, run.trace.layers[l].image.merges);
        }
    }

    // A trace.json written by version 1 (ViLT only, flat per-layer fields) still opens: its
    // layers become fusion layers with the same owners.
    void traceVersionOneIsStillRead() {
        const nlohmann::json trace = {
            {"grid", {1, 2}}, {"patch_size", 32}, {"resized_hw", {32, 64}},
            {"patch_cell", {{-1, -1}, {0, 0}, {0, 1}}}, {"text_tokens", {"[CLS]", "dog", "[SEP]"}},
            {"image_dropped_at", {-1, 1, -1}}, {"text_dropped_at", {-1, -1, -1}},
            {"layers",
             {{{"layer", 0}, {"reduced", false}, {"image_tokens", 3}, {"text_tokens", 3},
               {"image_owner", {0, 1, 2}}, {"text_owner", {0, 1, 2}}, {"image_size", {1, 1, 1}}},
              {{"layer", 1}, {"reduced", true}, {"image_tokens", 2}, {"text_tokens", 3},
               {"image_owner", {0, -1, 1}}, {"text_owner", {0, 1, 2}}, {"image_size", {1, 1}},
               {"image_merges", nlohmann::json::array()}}}}};
        const nlohmann::json file = {{"schema", "tokenscope-trace/1"}, {"model", "m"}, {"question", "q"},
                                     {"reduced", {{"method", "random"}, {"trace", trace}}}};
        QTemporaryDir dir;
        const auto path = dir.filePath("v1.json").toStdString();
        std::ofstream(path) << file.dump();
        const TraceFile read = readTraceFile(path);
        QCOMPARE(read.version, 1);
        QCOMPARE(read.runs.size(), std::size_t(1));
        const Trace& t = read.runs[0].trace;
        QCOMPARE(t.image.gridWidth, 2);
        QCOMPARE(t.text.labels[1], std::string("dog"));
        QCOMPARE(t.layers.size(), std::size_t(2));
        QCOMPARE(t.layers[1].stage, Stage::Fusion);
        QCOMPARE(t.layers[1].index, 1);
        QVERIFY(t.layers[1].reduced);
        QCOMPARE(t.layers[1].image.owner, (std::vector<int>{0, -1, 1}));
        QCOMPARE(t.image.droppedAt, (std::vector<int>{-1, 1, -1}));

        // A file that is not a trace names itself and the problem.
        const auto other = dir.filePath("other.json").toStdString();
        std::ofstream(other) << nlohmann::json{{"schema", "something-else/1"}}.dump();
        try {
            readTraceFile(other);
            QFAIL("no error");
        } catch (const Error& e) {
            QVERIFY2(QString(e.what()).contains("other.json") && QString(e.what()).contains("not a TokenScope trace"), e.what());
        }
    }

    // Capability queries: what the loaded family can do, and a clear error for what it cannot.
    void capabilitiesSayWhatTheModelDoes() {
        const FamilyCapabilities& vilt = m_engine->capabilities();
        QCOMPARE(vilt.family, FamilyKind::Vilt);
        QVERIFY(vilt.answersFromLabels);
        QVERIFY(!vilt.generates && !vilt.selectsVisualTokens && !vilt.imagePairs);
        QCOMPARE(vilt.stages, std::vector<Stage>{Stage::Fusion});
        try {
            m_engine->selectVisualTokens(m_image, MethodSettings("hired"));
            QFAIL("no error");
        } catch (const Error& e) {
            QVERIFY2(QString(e.what()).contains("not a LLaVA-NeXT model"), e.what());
        }

        const auto llava = Engine::open(dataPath("../../resources/models/llava-next-tiny-random"));
        const FamilyCapabilities& c = llava->capabilities();
        QCOMPARE(c.family, FamilyKind::Llava);
        QVERIFY(c.generates && c.selectsVisualTokens);
        QVERIFY(!c.answersFromLabels);
        QVERIFY(std::find(c.stages.begin(), c.stages.end(), Stage::Decoder) != c.stages.end());
        try {
            llava->run({m_image, m_question, MethodSettings{}, 5, false});
            QFAIL("no error");
        } catch (const Error& e) {
            QVERIFY2(QString(e.what()).contains("needs a ViLT model") && QString(e.what()).contains("generate"), e.what());
        }
        // The selection is a trace: vision layers with scores, then the projector's select and unpad.
        const auto selection = llava->selectVisualTokens(m_image, MethodSettings("hired"));
        QVERIFY(selection.trace.image.hasRegions());
        QVERIFY(selection.trace.find(Stage::Projector, 0, "select") >= 0);
        QVERIFY(selection.trace.find(Stage::Projector, 1, "unpad") >= 0);
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
