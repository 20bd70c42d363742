// config.json parsing: the fixtures' configs, HF defaults, and errors naming the key and file.

#include <QTest>

#include "common/error.h"
#include "config/model_config.h"
#include "support/test_paths.h"

using namespace tokenscope;

class TestModelConfig : public QObject {
    Q_OBJECT
private slots:
    void viltFixture() {
        const auto config = loadModelConfig(tokenscope::test::dataPath("vilt/config.json"));
        QCOMPARE(config.family, ModelFamily::Vilt);
        QCOMPARE(config.architecture, std::string("ViltForQuestionAnswering"));
        QCOMPARE(config.vilt.head, ViltHead::QuestionAnswering);
        QCOMPARE(config.vilt.hiddenSize, 32);
        QCOMPARE(config.vilt.numHiddenLayers, 2);
        QCOMPARE(config.vilt.patchSize, 32);
        QCOMPARE(config.vilt.id2label.size(), std::size_t(10));
        QCOMPARE(config.vilt.id2label[3], std::string("answer_3"));
        QCOMPARE(config.vilt.layerNormEps, 1e-12);
    }

    void clipFixture() {
        const auto config = loadModelConfig(tokenscope::test::dataPath("clip_vision/config.json"));
        QCOMPARE(config.family, ModelFamily::ClipVision);
        QCOMPARE(config.clipVision.patchSize, 14);
        QCOMPARE(config.clipVision.imageSize, 56);
        QCOMPARE(config.clipVision.hiddenAct, Activation::QuickGelu);
    }

    void nestedVisionConfig() {
        const auto config = parseModelConfig(
            R"({"model_type": "clip", "vision_config": {"hidden_size": 64, "num_attention_heads": 4, "image_size": 28, "patch_size": 14}})",
            "c.json");
        QCOMPARE(config.clipVision.hiddenSize, 64);
        QCOMPARE(config.clipVision.numHiddenLayers, 12);  // HF default
    }

    void errors_data() {
        QTest::addColumn<QString>("json");
        QTest::addColumn<QString>("expected");
        const QString base = R"("model_type": "vilt", "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64)";
        QTest::newRow("not json") << "{" << "not valid JSON";
        QTest::newRow("no model_type") << "{}" << "key 'model_type' is missing";
        QTest::newRow("unknown type") << R"({"model_type": "gpt2"})" << "model_type 'gpt2' is not supported";
        QTest::newRow("missing key") << R"({"model_type": "vilt", "hidden_size": 32})" << "key 'num_hidden_layers' is missing";
        QTest::newRow("wrong type") << "{" + base + R"(, "patch_size": "32"})" << "key 'patch_size' must be an integer";
        QTest::newRow("out of range") << "{" + base + R"(, "num_channels": 0})" << "key 'num_channels' = 0 is outside";
        QTest::newRow("heads") << R"({"model_type": "vilt", "hidden_size": 30, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 64})"
                               << "multiple of num_attention_heads";
        QTest::newRow("bad act") << "{" + base + R"(, "hidden_act": "swishy"})" << "unsupported activation 'swishy'";
        QTest::newRow("vqa without labels") << "{" + base + R"(, "architectures": ["ViltForQuestionAnswering"]})"
                                            << "key 'id2label' is missing";
        QTest::newRow("label gap") << "{" + base + R"(, "id2label": {"0": "a", "2": "b"}})" << "ids must be 0..1";
        QTest::newRow("unknown head") << "{" + base + R"(, "architectures": ["ViltForPainting"]})" << "ViltForPainting";
        QTest::newRow("bool as int") << "{" + base + R"(, "qkv_bias": 1})" << "key 'qkv_bias' must be true or false";
    }

    void errors() {
        QFETCH(QString, json);
        QFETCH(QString, expected);
        try {
            parseModelConfig(json.toStdString(), "dir/config.json");
            QFAIL("no error");
        } catch (const Error& e) {
            const QString message = e.what();
            QVERIFY2(message.contains(expected), qPrintable(message));
            QVERIFY2(message.startsWith("dir/config.json"), qPrintable(message));
        }
    }

    void builtins() {
        const auto vqa = builtinModelConfig("vilt-b32");
        QCOMPARE(vqa.vilt.hiddenSize, 768);
        QCOMPARE(vqa.vilt.id2label.size(), std::size_t(3129));
        QCOMPARE(builtinModelConfig("vilt-b32-nlvr2").vilt.modalityTypeVocabSize, 3);
        const auto clip = builtinModelConfig("clip-vit-l-336");
        QCOMPARE(clip.clipVision.hiddenSize, 1024);
        QCOMPARE(clip.clipVision.imageSize / clip.clipVision.patchSize, 24);
        try {
            builtinModelConfig("vilt-huge");
            QFAIL("no error");
        } catch (const Error& e) {
            QVERIFY(QString(e.what()).contains("known: vilt-b32"));
        }
    }
};

QTEST_APPLESS_MAIN(TestModelConfig)
#include "tst_model_config.moc"
