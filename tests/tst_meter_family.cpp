// METER through the engine (core/families/meter_runtime): a released folder's layout (the Lightning
// checkpoint beside the RoBERTa tokenizer files) opens as a METER model; forward on the fixture's
// inputs reproduces csarron/PuMer's own logits, unreduced and with PuMer chosen through the method
// registry; convert writes a folder that loads as the same model; a run's trace covers the encoder
// layers and the fusion layers of both streams with PuMer's token counts, and the question's
// cross-attention as the heatmap of layers that do not reduce; bad folders and questions give errors
// that name the problem.

#include <QTemporaryDir>
#include <QTest>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>

#include "checkpoint/checkpoint.h"
#include "checkpoint/tensor_file.h"
#include "common/error.h"
#include "config/id2label.h"
#include "config/model_config.h"
#include "engine/convert.h"
#include "engine/engine.h"
#include "support/test_paths.h"

using namespace tokenscope;
using tokenscope::test::dataPath;

namespace fs = std::filesystem;

namespace {

constexpr double kOutputAtol = 1e-5;  // logits (the fixture README's tolerance)

// A METER folder as users download it: the release's checkpoint and the tokenizer's files
// (vocab.json, merges.txt and its RobertaConfig config.json).
void makeReleasedFolder(const QString& folder, bool withMerges = true) {
    fs::copy_file(dataPath("meter/model.ckpt"), (folder + "/model.ckpt").toStdString());
    for (const char* file : {"vocab.json", "merges.txt", "config.json"}) {
        if (!withMerges && std::string(file) == "merges.txt") continue;
        fs::copy_file(dataPath(std::string("meter/roberta_tiny/") + file), (folder + "/" + file).toStdString());
    }
}

ImageU8 squareImage(int side) {
    ImageU8 image{side, side, 3, std::vector<uint8_t>(static_cast<std::size_t>(side) * side * 3)};
    for (std::size_t i = 0; i < image.pixels.size(); ++i) image.pixels[i] = static_cast<uint8_t>((i * 53) % 241);
    return image;
}

double maxDifference(const torch::Tensor& a, const torch::Tensor& b) {
    return (a.to(torch::kDouble) - b.to(torch::kDouble)).abs().max().item<double>();
}

// PuMer's counts (algorithms.md §1.4): of I image tokens round(p·I) are pruned and round(r·I)
// merged; of T text tokens round(t·T) merged (Python's round, half to even).
int pythonRound(double x) { return static_cast<int>(std::nearbyint(x)); }

}  // namespace

class TestMeterFamily : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void releasedFolderOpensAsMeter() {
        QTemporaryDir dir;
        makeReleasedFolder(dir.path());
        const auto engine = Engine::open(dir.path().toStdString());
        QCOMPARE(engine->summary().config.family, ModelFamily::Meter);
        const FamilyCapabilities& can = engine->capabilities();
        QCOMPARE(can.family, FamilyKind::Meter);
        QVERIFY(can.answersFromLabels);  // the fixture has a VQA head ...
        QVERIFY(can.imagePairs);         // ... and an NLVR2 head
        QVERIFY(!can.generates);
        QCOMPARE(can.stages, (std::vector<Stage>{Stage::Text, Stage::Vision, Stage::Fusion}));
        QVERIFY(engine->hasTokenizer());
        // The config came from the checkpoint's hyper_parameters (PuMer keys: sequential order).
        QCOMPARE(engine->summary().config.meter.streamOrder, MeterStreamOrder::Sequential);
        QCOMPARE(engine->summary().config.meter.numTopLayer, 2);
        QVERIFY(engine->summary().warnings.empty());
    }

    // predictBatch answers a batch as answering one question at a time does: the same labels and
    // logits, unreduced and with PuMer, for questions of different lengths.
    void batchedAnswersEqualSingleAnswers() {
        QTemporaryDir dir;
        makeReleasedFolder(dir.path());
        const auto engine = Engine::open(dir.path().toStdString());
        std::vector<ImageU8> images;
        for (int i = 0; i < 3; ++i) {
            auto image = squareImage(64 + 8 * i);
            for (std::size_t p = 0; p < image.pixels.size(); ++p) image.pixels[p] = static_cast<uint8_t>((p * (7 + 5 * i)) % 251);
            images.push_back(std::move(image));
        }
        const std::vector<std::string> questions = {"what color is the dog?", "is there a man?", "how many dogs are left of the red car?"};
        MethodSettings pumer("pumer");
        pumer.set("layers", std::vector<int>{0, 1}).set("prune", 0.2).set("merge", 0.2).set("merge-text", 0.2);
        for (const auto& method : {MethodSettings{}, pumer}) {
            const auto batch = engine->predictBatch(images, questions, method);
            QCOMPARE(batch.labels.size(), questions.size());
            QCOMPARE(batch.logits.size(), questions.size() * static_cast<std::size_t>(batch.labelCount));
            for (std::size_t i = 0; i < questions.size(); ++i) {
                const auto single = engine->run({images[i], questions[i], method, 1, false});
                QCOMPARE(QString::fromStdString(batch.labels[i]), QString::fromStdString(single.answers.front().label));
                const auto logit = batch.logits[i * static_cast<std::size_t>(batch.labelCount) + static_cast<std::size_t>(batch.ids[i])];
                QVERIFY2(std::abs(logit - single.answers.front().logit) < 1e-4,
                         qPrintable(QString("%1 vs %2").arg(logit).arg(single.answers.front().logit)));
            }
        }
    }

    // The engine's forward on the fixture's tight batch: PuMer's logits without reduction and with
    // PuMer in fusion layers 0 and 1 (p = r = t = 0.2, reference mode), chosen by method id.
    void forwardMatchesThePumerReference() {
        QTemporaryDir dir;
        makeReleasedFolder(dir.path());
        const auto engine = Engine::open(dir.path().toStdString());
        const auto inputs = readTensorFile(dataPath("meter/inputs.safetensors"));
        const auto expected = readTensorFile(dataPath("meter/outputs_vqa.safetensors"));
        const auto inputsPath = (dir.path() + "/tight.safetensors").toStdString();
        writeTensorFile(inputsPath, {{"input_ids", inputs.at("tight.input_ids")},
                                     {"attention_mask", inputs.at("tight.attention_mask")},
                                     {"pixel_values", inputs.at("pixel_values")}});
        const auto outputsPath = (dir.path() + "/out.safetensors").toStdString();

        engine->forwardFile(inputsPath, outputsPath, MethodSettings{});
        const auto plain = readTensorFile(outputsPath).at("logits");
        const auto& plainExpected = expected.at("noreduce_tight.logits");
        QCOMPARE(plain.sizes(), plainExpected.sizes());
        QVERIFY2(maxDifference(plain, plainExpected) <= kOutputAtol, qPrintable(QString::number(maxDifference(plain, plainExpected))));

        MethodSettings pumer("pumer");
        pumer.set("layers", std::vector<int>{0, 1}).set("prune", 0.2).set("merge", 0.2).set("merge-text", 0.2);
        pumer.setText("mode", "reference");
        engine->forwardFile(inputsPath, outputsPath, pumer);
        const auto reduced = readTensorFile(outputsPath).at("logits");
        const auto& reducedExpected = expected.at("vqa2_preset_L0-2_p0.2_r0.2_t0.2.logits");
        QVERIFY2(maxDifference(reduced, reducedExpected) <= kOutputAtol,
                 qPrintable(QString::number(maxDifference(reduced, reducedExpected))));
        QVERIFY(maxDifference(reduced, plain) > 1e-3);  // the reduction changed the answer's scores
    }

    // The stream order and the head are the model's settings (Engine::options / setOption): the
    // checkpoint's sequential order gives PuMer's logits; parallel gives zdou0830/METER's own forward
    // on the same weights (the fixture's cross-check); values and keys the model lacks are refused.
    void fusionOrderAndHeadAreModelSettings() {
        QTemporaryDir dir;
        makeReleasedFolder(dir.path());
        const auto engine = Engine::open(dir.path().toStdString());
        const auto options = engine->options();
        QCOMPARE(options.size(), std::size_t(2));
        QCOMPARE(options[0].key, std::string("fusion-order"));
        QCOMPARE(options[0].value, std::string("sequential"));  // PuMer keys in hyper_parameters
        QCOMPARE(options[1].key, std::string("head"));
        QCOMPARE(options[1].choices, (std::vector<std::string>{"vqa", "nlvr2"}));  // the fixture's two heads
        QCOMPARE(options[1].value, std::string("vqa"));

        const auto inputs = readTensorFile(dataPath("meter/inputs.safetensors"));
        const auto inputsPath = (dir.path() + "/tight.safetensors").toStdString();
        writeTensorFile(inputsPath, {{"input_ids", inputs.at("tight.input_ids")},
                                     {"attention_mask", inputs.at("tight.attention_mask")},
                                     {"pixel_values", inputs.at("pixel_values")}});
        const auto outputsPath = (dir.path() + "/out.safetensors").toStdString();
        const auto logits = [&] {
            engine->forwardFile(inputsPath, outputsPath, MethodSettings{});
            return readTensorFile(outputsPath).at("logits");
        };
        const auto pumer = readTensorFile(dataPath("meter/outputs_vqa.safetensors")).at("noreduce_tight.logits");
        const auto original = readTensorFile(dataPath("meter/crosscheck_original_meter.safetensors")).at("tight.logits");
        QVERIFY(maxDifference(logits(), pumer) <= kOutputAtol);
        engine->setOption("fusion-order", "parallel");
        QCOMPARE(engine->options()[0].value, std::string("parallel"));
        const auto parallel = logits();
        QVERIFY2(maxDifference(parallel, original) <= kOutputAtol, qPrintable(QString::number(maxDifference(parallel, original))));
        QVERIFY(maxDifference(parallel, pumer) > 0.1);  // the order matters (README: 1.12)
        engine->setOption("fusion-order", "sequential");
        QVERIFY(maxDifference(logits(), pumer) <= kOutputAtol);

        // The nlvr2 head reads image pairs only.
        engine->setOption("head", "nlvr2");
        QVERIFY_THROWS_EXCEPTION(Error, logits());
        try {
            engine->run(RunRequest{squareImage(64), "is there a red square?", MethodSettings{}});
            QFAIL("a single image ran through the nlvr2 head");
        } catch (const Error& e) {
            QVERIFY2(QString(e.what()).contains("two images"), e.what());
        }
        engine->setOption("head", "vqa");
        QVERIFY(maxDifference(logits(), pumer) <= kOutputAtol);

        const auto refusal = [&](const std::string& key, const std::string& value) {
            try {
                engine->setOption(key, value);
            } catch (const Error& e) {
                return std::string(e.what());
            }
            return std::string("accepted");
        };
        QVERIFY(refusal("fusion-order", "diagonal").find("sequential, parallel") != std::string::npos);
        QVERIFY(refusal("head", "snli").find("vqa, nlvr2") != std::string::npos);  // the fixture has no SNLI head
        QVERIFY(refusal("colour", "red").find("fusion-order, head") != std::string::npos);
        QCOMPARE(engine->options()[1].value, std::string("vqa"));  // a refused value changes nothing
    }

    // METER checkpoints carry no answer list; a VQA head of VQAv2's 3129 answers speaks ViLT's
    // vocabulary (models.md §3.6 gives its first entries: net, pitcher, orange, yes, white).
    void vqav2AnswerListIsBuiltIn() {
        const auto& answers = vqav2Answers();
        QCOMPARE(answers.size(), kVqav2AnswerCount);
        QCOMPARE(std::vector<std::string>(answers.begin(), answers.begin() + 5),
                 (std::vector<std::string>{"net", "pitcher", "orange", "yes", "white"}));
        QCOMPARE(std::set<std::string>(answers.begin(), answers.end()).size(), answers.size());
    }

    // A run's trace: the RoBERTa layers, the CLIP blocks, then the fusion layers, where PuMer's counts
    // apply to both streams; owners and sizes agree with the counts.
    void runTracesBothStreamsThroughTheFusion() {
        QTemporaryDir dir;
        makeReleasedFolder(dir.path());
        const auto engine = Engine::open(dir.path().toStdString());
        MethodSettings pumer("pumer");
        pumer.set("layers", std::vector<int>{0, 1}).set("prune", 0.1).set("merge", 0.3).set("merge-text", 0.2);
        const auto result = engine->run({squareImage(80), "what color is the cross?", pumer, 3, true});
        QCOMPARE(int(result.answers.size()), 3);
        const Trace& trace = result.trace;
        const MeterConfig& config = engine->summary().config.meter;
        const int grid = config.vision.imageSize / config.vision.patchSize;
        QCOMPARE(trace.image.gridHeight, grid);
        QCOMPARE(int(trace.image.patchCell.size()), 1 + grid * grid);
        QCOMPARE(trace.text.labels, result.textTokens);
        QCOMPARE(trace.text.labels.front(), std::string("<s>"));
        const int textLayers = config.text.numHiddenLayers, blocks = config.vision.blocks;
        QCOMPARE(int(trace.layers.size()), textLayers + blocks + config.numTopLayer);
        QCOMPARE(trace.layers[0].stage, Stage::Text);
        QCOMPARE(trace.layers[size_t(textLayers)].stage, Stage::Vision);
        int image = 1 + grid * grid, text = config.maxTextLen;
        for (int j = 0; j < config.numTopLayer; ++j) {
            const TraceLayer& layer = trace.layers[size_t(textLayers + blocks + j)];
            QCOMPARE(layer.stage, Stage::Fusion);
            QCOMPARE(layer.index, j);
            QVERIFY(layer.reduced);
            QCOMPARE(layer.image.tokensIn, image);
            QCOMPARE(layer.text.tokensIn, text);
            image = image - pythonRound(0.1 * image) - pythonRound(0.3 * image);
            text = text - pythonRound(0.2 * text);
            QCOMPARE(layer.image.tokens, image);
            QCOMPARE(layer.text.tokens, text);
            QCOMPARE(int(layer.image.size.size()), layer.image.tokens);
            float held = 0;
            for (float s : layer.image.size) held += s;
            const auto alive = std::count_if(layer.image.owner.begin(), layer.image.owner.end(), [](int o) { return o >= 0; });
            QCOMPARE(held, float(alive));
            QVERIFY(!layer.image.merges.empty());
        }
        // Unreduced encoder layers keep every token of both streams.
        QCOMPARE(trace.layers[0].image.tokens, 1 + grid * grid);
        QVERIFY(std::all_of(trace.image.droppedAt.begin(), trace.image.droppedAt.end(),
                            [&](int at) { return at < 0 || at >= textLayers + blocks; }));
    }

    // convert writes model.safetensors + a METER config.json: the converted folder loads as the same
    // model (same config, bit-identical logits) and memory-maps.
    void convertedFolderIsTheSameModel() {
        QTemporaryDir dir;
        makeReleasedFolder(dir.path());
        const QString out = dir.path() + "/converted";
        const ConvertReport report = convertModelFolder(dir.path().toStdString(), out.toStdString());
        QCOMPARE(report.tensors, Checkpoint::open(dataPath("meter/model.ckpt")).names().size());
        QVERIFY(fs::exists((out + "/model.safetensors").toStdString()));
        QVERIFY(std::find(report.copied.begin(), report.copied.end(), "merges.txt") != report.copied.end());
        const auto original = Engine::open(dir.path().toStdString());
        const auto converted = Engine::open(out.toStdString());
        const auto differences =
            meterConfigDifferences(original->summary().config.meter, converted->summary().config.meter);
        QVERIFY2(differences.empty(), differences.empty() ? "" : differences.front().c_str());
        const auto inputs = dataPath("meter/inputs.safetensors");
        const auto a = (dir.path() + "/a.safetensors").toStdString(), b = (dir.path() + "/b.safetensors").toStdString();
        original->forwardFile(inputs, a, MethodSettings{});
        converted->forwardFile(inputs, b, MethodSettings{});
        QVERIFY(torch::equal(readTensorFile(a).at("logits"), readTensorFile(b).at("logits")));
        // Neither the source folder nor a folder that already holds a model is written to.
        for (const QString& target : {dir.path(), out}) {
            try {
                convertModelFolder(dir.path().toStdString(), target.toStdString());
                QFAIL("convert overwrote a model");
            } catch (const Error& error) {
                QVERIFY2(QString(error.what()).contains(target == out ? "already exists" : "another folder"), error.what());
            }
        }
    }

    // Fusion layers that do not reduce carry the question's cross-attention over the image tokens as
    // their score (the heatmap): each text row is a softmax over the image keys, so the mean over
    // heads and rows sums to 1 over the image tokens.
    void unreducedFusionLayersCarryTheCrossAttention() {
        QTemporaryDir dir;
        makeReleasedFolder(dir.path());
        const auto engine = Engine::open(dir.path().toStdString());
        const auto result = engine->run({squareImage(64), "what color is the cross?", MethodSettings{}, 3, true});
        int fusionLayers = 0;
        for (const TraceLayer& layer : result.trace.layers) {
            if (layer.stage != Stage::Fusion) {
                QVERIFY(layer.image.score.empty());
                continue;
            }
            ++fusionLayers;
            QCOMPARE(layer.image.score.size(), result.trace.image.patchCell.size());
            double sum = 0;
            for (float v : layer.image.score) {
                QVERIFY(std::isfinite(v) && v >= 0);
                sum += v;
            }
            QVERIFY2(std::abs(sum - 1.0) < 1e-4, qPrintable(QString::number(sum)));
        }
        QCOMPARE(fusionLayers, engine->summary().config.meter.numTopLayer);
    }

    void badInputNamesTheProblem() {
        QTemporaryDir dir;
        makeReleasedFolder(dir.path(), false);
        try {
            Engine::open(dir.path().toStdString());
            QFAIL("a folder without merges.txt opened");
        } catch (const Error& error) {
            QVERIFY2(QString(error.what()).contains("merges.txt is missing"), error.what());
        }
        QTemporaryDir good;
        makeReleasedFolder(good.path());
        const auto engine = Engine::open(good.path().toStdString());
        try {
            engine->run({squareImage(64), "   ", MethodSettings{}, 3, false});
            QFAIL("an empty question ran");
        } catch (const Error& error) {
            QVERIFY2(QString(error.what()).contains("the question is empty"), error.what());
        }
        // A method that does not serve METER is refused by the registry.
        try {
            engine->run({squareImage(64), "what is it?", MethodSettings("hired"), 3, false});
            QFAIL("HiRED ran on METER");
        } catch (const Error& error) {
            QVERIFY2(QString(error.what()).contains("meter"), error.what());
        }
    }

    // Random weights in the released shapes (bench's --arch meter-b16) build and answer.
    void builtinArchitecturesAreMeter() {
        const auto names = builtinModelNames();
        QVERIFY(std::find(names.begin(), names.end(), "meter-b16") != names.end());
        auto config = builtinModelConfig("meter-tiny");
        QCOMPARE(config.family, ModelFamily::Meter);
        const auto engine = Engine::fromConfig(config);
        QCOMPARE(engine->capabilities().family, FamilyKind::Meter);
        BenchRequest request;
        request.method = MethodSettings("pumer");
        request.method.set("layers", std::vector<int>{0, 1});
        request.seconds = 0.05;
        request.imageSize = 64;
        request.textLength = 8;
        const BenchRow row = engine->benchmark(request);
        QVERIFY2(row.error.empty(), row.error.c_str());
        QCOMPARE(int(row.imageTokensPerLayer.size()), config.meter.numTopLayer);
        QVERIFY(row.imageTokensPerLayer.back() < 17);  // 1 + (64 / 16)²: PuMer reduced the image stream
    }
};

QTEST_GUILESS_MAIN(TestMeterFamily)
#include "tst_meter_family.moc"
