// Training a ViLT or METER VQA model (core/train/vilt_trainer.h): it learns a task it can learn, a
// resumed run ends where an uninterrupted one does, distillation from an identical teacher starts
// at 0, METER learns with every auxiliary loss read from its own tensors, and METER fine-tunes with
// PuMer in place, distilled from its plain self.

#include <QtTest>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <limits>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "checkpoint/checkpoint.h"
#include "checkpoint/tensor_file.h"
#include "config/meter_config.h"
#include "config/meter_config_json.h"
#include "engine/engine.h"
#include "train/vilt_trainer.h"

using namespace tokenscope;
namespace fs = std::filesystem;

namespace {

// A tiny ViLT (2 layers, 32 wide, 32-px images in 16-px patches) with two answers.
void writeTinyModel(const fs::path& dir)
{
    fs::remove_all(dir);
    fs::create_directories(dir);
    nlohmann::json config = {{"architectures", {"ViltForQuestionAnswering"}},
                             {"model_type", "vilt"},
                             {"hidden_size", 32},
                             {"num_hidden_layers", 2},
                             {"num_attention_heads", 2},
                             {"intermediate_size", 64},
                             {"hidden_act", "gelu"},
                             {"layer_norm_eps", 1e-12},
                             {"vocab_size", 8},
                             {"type_vocab_size", 2},
                             {"modality_type_vocab_size", 2},
                             {"max_position_embeddings", 16},
                             {"image_size", 32},
                             {"patch_size", 16},
                             {"num_channels", 3},
                             {"qkv_bias", true},
                             {"id2label", {{"0", "red"}, {"1", "blue"}}},
                             {"label2id", {{"red", 0}, {"blue", 1}}}};
    std::ofstream(dir / "config.json") << config.dump(2);
    std::ofstream(dir / "preprocessor_config.json")
        << R"({"size": {"shortest_edge": 32}, "size_divisor": 32, "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5]})";
    std::ofstream(dir / "vocab.txt") << "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nwhat\ncolor\n?\n";
}

// A tiny METER (the reference fixture's shape: RoBERTa and CLIP 32 wide, 2 + 2 layers, 2 fusion
// layers) at 32 px in 16-px patches, PuMer's sequential stream order, with two answers and the
// fixture's byte-level BPE tokenizer.
void writeTinyMeter(const fs::path& dir)
{
    fs::remove_all(dir);
    fs::create_directories(dir);
    MeterConfig c = builtinMeterConfig("meter-tiny");
    c.vision.imageSize = 32;
    c.vision.patchSize = 16;
    c.heads = {};
    c.heads.vqa = true;
    c.heads.vqaLabels = 2;
    c.tokenTypes = 2;
    c.streamOrder = MeterStreamOrder::Sequential;
    std::ofstream(dir / "config.json") << meterConfigJson(c, {"red", "blue"}).dump(2);
    const fs::path tokenizer = fs::path(TOKENSCOPE_TEST_DATA) / "meter" / "roberta_tiny";
    for (const char* name : {"vocab.json", "merges.txt"}) fs::copy_file(tokenizer / name, dir / name);
}

// Images that are mostly red or mostly blue (with noise); the answer is that colour.
// What the trainer says when it refuses the options; empty when it trains.
std::string refusal(const TrainOptions& options, TrainSummary (*train)(const TrainOptions&) = trainVilt)
{
    try {
        train(options);
    } catch (const std::exception& e) {
        return e.what();
    }
    return {};
}

bool mentionsAll(const std::string& message, std::initializer_list<const char*> parts)
{
    return !message.empty() && std::all_of(parts.begin(), parts.end(), [&](const char* p) { return message.find(p) != std::string::npos; });
}

// trainVilt refuses the options with a message that holds every part.
#define QVERIFY_REFUSED(options, ...)                                                                          \
    do {                                                                                                       \
        const auto why = refusal(options);                                                                     \
        QVERIFY2(mentionsAll(why, {__VA_ARGS__}), why.empty() ? "accepted" : why.c_str());                     \
    } while (false)
#define QVERIFY_REFUSED_BY(train, options, ...)                                                                \
    do {                                                                                                       \
        const auto why = refusal(options, train);                                                              \
        QVERIFY2(mentionsAll(why, {__VA_ARGS__}), why.empty() ? "accepted" : why.c_str());                     \
    } while (false)

TrainOptions baseOptions(const fs::path& dir);

// The first distillation loss of a student written by `write` that starts from the teacher's
// weights and barely moves (lr 1e-9), with `method` in place; NaN (failing every comparison) when
// nothing was logged.
double firstDistillLoss(const fs::path& teacher, const fs::path& student, void (*write)(const fs::path&),
                        const MethodSettings& method = MethodSettings{})
{
    write(student);
    fs::copy_file(teacher / "model.safetensors", student / "model.safetensors");
    auto o = baseOptions(student);
    o.steps = 2;
    o.learningRate = 1e-9;
    o.logEvery = 1;
    o.teacherDir = teacher.string();
    o.method = method;
    std::vector<double> kl;
    o.progress = [&](const TrainProgress& p) {
        if (p.note.empty()) kl.push_back(p.distillLoss);
    };
    trainModel(o);
    return kl.empty() ? std::numeric_limits<double>::quiet_NaN() : kl.front();
}

// A folder written by `write` with the teacher's weights whose config names other answers.
fs::path withOtherAnswers(const fs::path& dir, void (*write)(const fs::path&), const fs::path& teacher)
{
    write(dir);
    auto cfg = nlohmann::json::parse(std::ifstream(dir / "config.json"));
    cfg["id2label"] = {{"0", "yes"}, {"1", "no"}};
    std::ofstream(dir / "config.json") << cfg.dump();
    fs::copy_file(teacher / "model.safetensors", dir / "model.safetensors");
    return dir;
}

ExampleSource colourSource(uint64_t seed)
{
    return [seed](uint64_t first, int count, std::vector<TrainExample>& out) {
        for (int i = 0; i < count; ++i) {
            const uint64_t index = first + static_cast<uint64_t>(i);
            uint64_t state = (seed * 1000003u) ^ (index * 0x9E3779B97F4A7C15ull);
            const auto next = [&state] {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                return state;
            };
            TrainExample e;
            e.label = static_cast<int64_t>(next() % 2);
            e.group = 0;
            e.question = "what color?";
            e.image.width = e.image.height = 32;
            e.image.pixels.resize(32 * 32 * 3);
            for (std::size_t p = 0; p < e.image.pixels.size(); p += 3) {
                const int noise = static_cast<int>(next() % 60);
                e.image.pixels[p + 0] = static_cast<uint8_t>(e.label == 0 ? 190 + noise / 2 : noise);
                e.image.pixels[p + 1] = static_cast<uint8_t>(noise);
                e.image.pixels[p + 2] = static_cast<uint8_t>(e.label == 1 ? 190 + noise / 2 : noise);
            }
            out.push_back(std::move(e));
        }
    };
}

TrainOptions baseOptions(const fs::path& dir)
{
    TrainOptions o;
    o.modelDir = dir.string();
    o.batchSize = 8;
    o.steps = 40;
    o.learningRate = 3e-3;
    o.validateEvery = 0;
    o.checkpointEvery = 0;
    o.validationExamples = 64;
    o.logEvery = 5;
    o.seed = 7;
    o.train = colourSource(1);
    o.validation = colourSource(2);
    return o;
}

}  // namespace

class TestTrain : public QObject {
    Q_OBJECT

private:
    fs::path m_root;

private slots:
    void initTestCase()
    {
        torch::set_num_threads(1);  // bit-identical reruns
        m_root = fs::temp_directory_path() / ("tokenscope-tst-train-" + std::to_string(QCoreApplication::applicationPid()));
    }

    void cleanupTestCase() { fs::remove_all(m_root); }

    void learnsALearnableTask()
    {
        const auto dir = m_root / "learn";
        writeTinyModel(dir);
        auto o = baseOptions(dir);
        std::vector<double> losses;
        o.progress = [&](const TrainProgress& p) {
            if (p.note.empty()) losses.push_back(p.loss);
        };
        const auto summary = trainVilt(o);
        QCOMPARE(summary.steps, int64_t(40));
        QVERIFY(losses.size() >= 2);
        QVERIFY2(losses.back() < 0.5 * losses.front(), qPrintable(QString("loss %1 -> %2").arg(losses.front()).arg(losses.back())));
        QVERIFY2(summary.validationAccuracy >= 0.9, qPrintable(QString::number(summary.validationAccuracy)));
        QVERIFY(fs::exists(dir / "model.safetensors"));
        QVERIFY(fs::exists(dir / "train_log.csv"));
        QVERIFY(fs::exists(dir / "checkpoint" / "optimizer.pt"));
    }

    void resumedRunEndsWhereAStraightRunEnds()
    {
        const auto straight = m_root / "straight", resumed = m_root / "resumed";
        writeTinyModel(straight);
        writeTinyModel(resumed);
        auto o = baseOptions(straight);
        o.steps = 20;
        trainVilt(o);

        // Stop after step 8 (the cancel flag writes a checkpoint), then resume to the end.
        std::atomic<bool> cancel{false};
        auto first = baseOptions(resumed);
        first.steps = 20;
        first.cancel = &cancel;
        first.progress = [&](const TrainProgress& p) {
            if (p.step >= 5) cancel = true;
        };
        const auto stopped = trainVilt(first);
        QVERIFY(stopped.cancelled);
        QVERIFY(stopped.steps < 20);
        QVERIFY(!fs::exists(resumed / "model.safetensors"));
        auto second = baseOptions(resumed);
        second.steps = 20;
        std::string note;
        second.progress = [&](const TrainProgress& p) {
            if (!p.note.empty()) note = p.note;
        };
        const auto finished = trainVilt(second);
        QCOMPARE(note, "resumed from step " + std::to_string(stopped.steps));
        QCOMPARE(finished.steps, int64_t(20));

        const auto a = readTensorFile((straight / "model.safetensors").string());
        const auto b = readTensorFile((resumed / "model.safetensors").string());
        QCOMPARE(a.size(), b.size());
        for (const auto& [name, tensor] : a) {
            QVERIFY2(b.count(name), name.c_str());
            QVERIFY2(torch::allclose(tensor, b.at(name), 1e-5, 1e-6), name.c_str());
        }

        // Stopped on purpose after 7 of the 20 steps' schedule: a model is written, and a run
        // without the stop goes on to the straight run's weights.
        const auto staged = m_root / "staged";
        writeTinyModel(staged);
        auto part = baseOptions(staged);
        part.steps = 20;
        part.stopAfter = 7;
        const auto partial = trainVilt(part);
        QCOMPARE(partial.steps, int64_t(7));
        QVERIFY(!partial.cancelled);
        QVERIFY(fs::exists(staged / "model.safetensors"));
        QCOMPARE(nlohmann::json::parse(std::ifstream(staged / "checkpoint" / "state.json")).at("step").get<int64_t>(), int64_t(7));
        part.stopAfter = 0;
        QCOMPARE(trainVilt(part).steps, int64_t(20));
        const auto c = readTensorFile((staged / "model.safetensors").string());
        for (const auto& [name, tensor] : a) QVERIFY2(torch::allclose(tensor, c.at(name), 1e-5, 1e-6), name.c_str());

        // Other --steps than the checkpoint's: refused, naming the folder.
        auto other = baseOptions(resumed);
        other.steps = 30;
        fs::remove(resumed / "model.safetensors");
        QVERIFY_THROWS_EXCEPTION(std::exception, trainVilt(other));
    }

    void patchLossLearnsResumesAndIsNotSaved()
    {
        // Every patch of the tiny model's 2 x 2 grid is labelled with the image's colour (class 1 + label).
        const auto withPatches = [](ExampleSource source, std::size_t cells) {
            return ExampleSource([source, cells](uint64_t first, int count, std::vector<TrainExample>& out) {
                const auto start = out.size();
                source(first, count, out);
                for (auto i = start; i < out.size(); ++i) out[i].patchLabels.assign(cells, out[i].label + 1);
            });
        };
        const auto options = [&](const fs::path& dir, std::size_t cells) {
            auto o = baseOptions(dir);
            o.steps = 20;
            o.patchLossWeight = 1.0;
            o.patchLossLayer = 1;
            o.patchClasses = 3;
            o.train = withPatches(colourSource(1), cells);
            return o;
        };
        const auto plain = m_root / "patch-plain", straight = m_root / "patch-straight", resumed = m_root / "patch-resumed";
        for (const auto& dir : {plain, straight, resumed}) writeTinyModel(dir);
        auto p = baseOptions(plain);
        p.steps = 2;
        trainVilt(p);

        auto o = options(straight, 4);
        std::vector<double> patchLosses;
        o.progress = [&](const TrainProgress& progress) {
            if (progress.note.empty()) patchLosses.push_back(progress.patchLoss);
        };
        trainVilt(o);
        QVERIFY(patchLosses.size() >= 2);
        QVERIFY2(patchLosses.back() < 0.5 * patchLosses.front(),
                 qPrintable(QString("patch loss %1 -> %2").arg(patchLosses.front()).arg(patchLosses.back())));
        QVERIFY(fs::exists(straight / "checkpoint" / "patch_head.safetensors"));
        // The head is training-only: the model file holds exactly a plain run's tensors.
        const auto a = readTensorFile((straight / "model.safetensors").string());
        const auto reference = readTensorFile((plain / "model.safetensors").string());
        QCOMPARE(a.size(), reference.size());
        for (const auto& [name, tensor] : reference) QVERIFY2(a.count(name), name.c_str());

        // Stopped and resumed (the head and its optimizer state come back): the straight run's weights.
        std::atomic<bool> cancel{false};
        auto first = options(resumed, 4);
        first.cancel = &cancel;
        first.progress = [&](const TrainProgress& progress) {
            if (progress.step >= 5) cancel = true;
        };
        QVERIFY(trainVilt(first).cancelled);
        trainVilt(options(resumed, 4));
        const auto b = readTensorFile((resumed / "model.safetensors").string());
        for (const auto& [name, tensor] : a) QVERIFY2(torch::allclose(tensor, b.at(name), 1e-5, 1e-6), name.c_str());

        // Labels for another grid: refused, naming both counts.
        const auto wrong = m_root / "patch-wrong";
        writeTinyModel(wrong);
        QVERIFY_REFUSED(options(wrong, 9), "9 per example", "4 patches");
    }

    void attentionLossTeachesWhereToLook()
    {
        // The question is always about patch 3 (bottom right): the [CLS] attention learns to go there.
        const auto dir = m_root / "attention";
        writeTinyModel(dir);
        auto o = baseOptions(dir);
        o.steps = 80;
        o.attentionLossWeight = 1.0;
        const auto pointAt = [](ExampleSource source, int64_t cell) {
            return ExampleSource([source, cell](uint64_t first, int count, std::vector<TrainExample>& out) {
                const auto start = out.size();
                source(first, count, out);
                for (auto i = start; i < out.size(); ++i) out[i].relevantPatches = {cell};
            });
        };
        o.train = pointAt(colourSource(1), 3);
        std::vector<double> losses;
        o.progress = [&](const TrainProgress& p) {
            if (p.note.empty()) losses.push_back(p.attentionLoss);
        };
        trainVilt(o);
        QVERIFY(losses.size() >= 2);
        QVERIFY2(losses.front() > 1.0, qPrintable(QString::number(losses.front())));  // about -log(1/8) at first
        QVERIFY2(losses.back() < 0.5 * losses.front(), qPrintable(QString("attention loss %1 -> %2").arg(losses.front()).arg(losses.back())));

        // The grounding loss: the word "color" learns to look at patch 2 in block 0.
        const auto grounded = m_root / "grounding";
        writeTinyModel(grounded);
        auto g = baseOptions(grounded);
        g.steps = 80;
        g.groundingLossWeight = 1.0;
        g.groundingLayer = 0;
        g.train = ExampleSource([source = colourSource(1)](uint64_t first, int count, std::vector<TrainExample>& out) {
            const auto start = out.size();
            source(first, count, out);
            for (auto i = start; i < out.size(); ++i) out[i].groundedWords = {{"color", {2}}, {"absent", {1}}};
        });
        std::vector<double> groundingLosses;
        g.progress = [&](const TrainProgress& p) {
            if (p.note.empty()) groundingLosses.push_back(p.groundingLoss);
        };
        trainVilt(g);
        QVERIFY(groundingLosses.size() >= 2);
        QVERIFY2(groundingLosses.front() > 1.0, qPrintable(QString::number(groundingLosses.front())));
        QVERIFY2(groundingLosses.back() < 0.5 * groundingLosses.front(),
                 qPrintable(QString("grounding loss %1 -> %2").arg(groundingLosses.front()).arg(groundingLosses.back())));

        const auto bad = m_root / "attention-bad";
        writeTinyModel(bad);
        auto b = baseOptions(bad);
        b.attentionLossWeight = 1.0;
        b.train = pointAt(colourSource(1), 4);
        QVERIFY_REFUSED(b, "outside the model's 4 patches");
    }

    void roleHeadAttentionPositionAndClsLossesLearn()
    {
        // Roles: the question is always about patch 3 (role 1) and patch 0 (role 2); heads: head 1
        // splits its [CLS] attention between patch 3 and the text [CLS]; and each patch's place.
        const auto withJobs = [](ExampleSource source, int64_t role, int head) {
            return ExampleSource([source, role, head](uint64_t first, int count, std::vector<TrainExample>& out) {
                const auto start = out.size();
                source(first, count, out);
                for (auto i = start; i < out.size(); ++i) {
                    out[i].patchRoles = {2, 0, 0, role};
                    out[i].headTargets = {{head, {3}, true}};
                    // [CLS] targets on every other example: +-0.8 by the image's colour, and 0.5.
                    if (i % 2 == 0) out[i].clsTargets = {out[i].label == 0 ? 0.8F : -0.8F, 0.5F};
                }
            });
        };
        const auto dir = m_root / "roles";
        writeTinyModel(dir);
        auto o = baseOptions(dir);
        o.steps = 80;
        o.roleLossWeight = 1.0;
        o.roleLossLayer = 1;
        o.headAttentionLossWeight = 1.0;
        o.positionLossWeight = 1.0;
        o.positionLossLayer = 1;
        o.train = withJobs(colourSource(1), 1, 1);
        std::vector<double> roleLosses, headLosses, positionLosses, clsLosses;
        o.progress = [&](const TrainProgress& p) {
            if (!p.note.empty()) return;
            roleLosses.push_back(p.roleLoss);
            headLosses.push_back(p.headAttentionLoss);
            positionLosses.push_back(p.positionLoss);
            clsLosses.push_back(p.clsLoss);
        };
        trainVilt(o);
        QVERIFY(roleLosses.size() >= 2);
        QCOMPARE(clsLosses.back(), 0.0);  // not asked for
        clsLosses.clear();
        QVERIFY2(roleLosses.back() < 0.8 * roleLosses.front(),
                 qPrintable(QString("role loss %1 -> %2").arg(roleLosses.front()).arg(roleLosses.back())));
        // Column and row of a 2 x 2 grid (at -0.5 and 0.5): a mean squared error of 0.25 for a constant guess.
        QVERIFY2(positionLosses.back() < 0.5 * positionLosses.front() && positionLosses.back() < 0.15,
                 qPrintable(QString("position loss %1 -> %2").arg(positionLosses.front()).arg(positionLosses.back())));
        QVERIFY(fs::exists(dir / "checkpoint" / "position_head.safetensors"));
        // The [CLS] loss on its own run: a constant guess of 0 scores (0.64 + 0.25) / 2 = 0.445.
        const auto clsDir = m_root / "cls";
        writeTinyModel(clsDir);
        auto c = baseOptions(clsDir);
        c.steps = 80;
        c.clsLossWeight = 1.0;
        c.clsTargetSize = 2;
        c.train = o.train;
        c.progress = o.progress;
        trainVilt(c);
        QVERIFY2(clsLosses.front() > 0.2 && clsLosses.back() < 0.1,
                 qPrintable(QString("[CLS] loss %1 -> %2").arg(clsLosses.front()).arg(clsLosses.back())));
        // Uniform over two of about ten positions: about log 10 at first, log 2 (0.69) at best.
        QVERIFY2(headLosses.front() > 1.5, qPrintable(QString::number(headLosses.front())));
        QVERIFY2(headLosses.back() < 1.0, qPrintable(QString("head attention loss %1 -> %2").arg(headLosses.front()).arg(headLosses.back())));
        QVERIFY(fs::exists(dir / "checkpoint" / "role_head.safetensors"));

        // A role outside the classes and a head the model does not have: refused, saying why.
        const auto bad = m_root / "roles-bad";
        writeTinyModel(bad);
        auto b = baseOptions(bad);
        b.roleLossWeight = 1.0;
        b.roleLossLayer = 1;
        b.train = withJobs(colourSource(1), 3, 0);
        QVERIFY_REFUSED(b, "role labels must lie in 0..2");
        writeTinyModel(bad);
        b = baseOptions(bad);
        b.clsLossWeight = 1.0;
        b.clsTargetSize = 3;
        b.train = withJobs(colourSource(1), 1, 0);
        QVERIFY_REFUSED(b, "2 numbers per example", "for 3");
        writeTinyModel(bad);
        b = baseOptions(bad);
        b.headAttentionLossWeight = 1.0;
        b.train = withJobs(colourSource(1), 1, 2);
        QVERIFY_REFUSED(b, "the model has 2 heads");
    }

    void distillationFromAnIdenticalTeacherStartsAtZero()
    {
        const auto teacher = m_root / "teacher", student = m_root / "student";
        writeTinyModel(teacher);
        auto t = baseOptions(teacher);
        t.steps = 5;
        trainVilt(t);
        // The student starts from the teacher's weights.
        const double kl = firstDistillLoss(teacher, student, writeTinyModel);
        QVERIFY2(std::abs(kl) < 1e-5, qPrintable(QString::number(kl)));

        // A teacher with other answers is refused.
        auto bad = baseOptions(student);
        bad.teacherDir = withOtherAnswers(m_root / "wrong", writeTinyModel, teacher).string();
        fs::remove_all(student / "checkpoint");
        QVERIFY_THROWS_EXCEPTION(std::exception, trainVilt(bad));
    }

    // trainModel trains a METER folder: the answer and every auxiliary loss learn on METER's own
    // tensors (image patches after CLIP blocks and fusion layers, the fusion's text-to-image
    // attention, the text [CLS]); the result is a model folder the engine opens and answers with,
    // holding METER's tensor names and none of the training-only heads; what METER cannot train
    // with is refused.
    void meterLearnsWithEveryAuxiliaryLoss()
    {
        const auto dir = m_root / "meter";
        writeTinyMeter(dir);
        auto o = baseOptions(dir);
        o.steps = 160;
        o.roleLossWeight = 1.0;
        o.roleLossLayer = 3;  // after the first fusion layer's image side (2 CLIP blocks, then fusion)
        o.patchLossWeight = 1.0;
        o.patchLossLayer = 1;
        o.patchClasses = 3;
        o.headAttentionLossWeight = 1.0;
        o.groundingLossWeight = 1.0;
        o.groundingLayer = 0;
        const auto source = colourSource(1);
        o.train = [source](uint64_t first, int count, std::vector<TrainExample>& out) {
            const auto start = out.size();
            source(first, count, out);
            for (auto i = start; i < out.size(); ++i) {
                const int64_t colour = out[i].label + 1;
                out[i].patchLabels = {colour, colour, colour, colour};
                out[i].patchRoles = {2, 0, 0, 1};
                out[i].headTargets = {{1, {3}, true}};
                out[i].groundedWords = {{"color", {1}}};
            }
        };
        std::vector<double> task, role, position, patch, heads, grounding;
        o.progress = [&](const TrainProgress& p) {
            if (!p.note.empty()) return;
            task.push_back(p.taskLoss);
            role.push_back(p.roleLoss);
            position.push_back(p.positionLoss);
            patch.push_back(p.patchLoss);
            heads.push_back(p.headAttentionLoss);
            grounding.push_back(p.groundingLoss);
        };
        const auto summary = trainModel(o);
        QCOMPARE(summary.steps, int64_t(160));
        QVERIFY(task.size() >= 2);
        const auto halves = [](const std::vector<double>& v) { return v.back() < 0.5 * v.front(); };
        QVERIFY2(halves(task), qPrintable(QString("task loss %1 -> %2").arg(task.front()).arg(task.back())));
        QVERIFY2(summary.validationAccuracy >= 0.9, qPrintable(QString::number(summary.validationAccuracy)));
        QVERIFY2(halves(patch), qPrintable(QString("patch loss %1 -> %2").arg(patch.front()).arg(patch.back())));
        QVERIFY2(role.back() < 0.8 * role.front(), qPrintable(QString("role loss %1 -> %2").arg(role.front()).arg(role.back())));
        // Keys: the image [CLS] and 4 patches. Uniform over 2 of 5 at best (log 2 = 0.69), about log 5 = 1.61 at first.
        QVERIFY2(heads.front() > 1.2 && heads.back() < 0.8 * heads.front(),
                 qPrintable(QString("head attention loss %1 -> %2").arg(heads.front()).arg(heads.back())));
        // "color" looks at patch 1 of 5 keys: -log(1/5) = 1.61 at first.
        QVERIFY2(grounding.front() > 1.2 && halves(grounding),
                 qPrintable(QString("grounding loss %1 -> %2").arg(grounding.front()).arg(grounding.back())));

        // The folder is a METER model: the engine opens it and answers a red image "red".
        const auto names = Checkpoint::open((dir / "model.safetensors").string()).names();
        const auto has = [&names](const std::string& prefix) {
            return std::any_of(names.begin(), names.end(), [&](const std::string& n) { return n.rfind(prefix, 0) == 0; });
        };
        QVERIFY(has("vit_model.visual.transformer.resblocks.1.") && has("cross_modal_image_layers.1.crossattention."));
        QVERIFY(has("vqa_classifier.") && !has("patch") && !has("role") && !has("position"));
        QVERIFY(fs::exists(dir / "checkpoint" / "role_head.safetensors"));
        QCOMPARE(position.back(), 0.0);  // not asked for
        const auto engine = Engine::open(dir.string());
        std::vector<TrainExample> samples;
        colourSource(9)(0, 8, samples);
        int right = 0;
        for (const auto& e : samples) right += engine->answer(e.image, e.question).answers.front().label == (e.label == 0 ? "red" : "blue");
        QVERIFY2(right >= 7, qPrintable(QString("%1 of 8 answered right").arg(right)));

        // The position loss on its own run, after the first CLIP block. Column and row of a 2 x 2
        // grid (at -0.5 and 0.5): a mean squared error of 0.25 for a constant guess.
        const auto positions = m_root / "meter-position";
        writeTinyMeter(positions);
        auto p = baseOptions(positions);
        p.steps = 160;
        p.positionLossWeight = 1.0;
        p.positionLossLayer = 1;
        p.progress = o.progress;
        position.clear();
        trainModel(p);
        QVERIFY2(halves(position) && position.back() < 0.15,
                 qPrintable(QString("position loss %1 -> %2").arg(position.front()).arg(position.back())));

        // The loss layers count CLIP blocks, then fusion layers (2 + 2 here); what METER cannot train with.
        auto b = baseOptions(dir);
        fs::remove_all(dir / "checkpoint");
        b.positionLossWeight = 1.0;
        b.positionLossLayer = 5;
        QVERIFY_REFUSED_BY(trainModel, b, "loss layer must be 1..4");
        b = baseOptions(dir);
        b.groundingLossWeight = 1.0;
        b.groundingLayer = 2;
        QVERIFY_REFUSED_BY(trainModel, b, "grounding layer must be 0..1");
        b = baseOptions(dir);
        b.method = MethodSettings("dynamicvit");
        QVERIFY(!refusal(b, trainModel).empty());
    }

    // PuMer's recipe on METER: fine-tune with the reducer in place, distilled from the plain model.
    // From the teacher's own weights, the first KL is 0 without a reducer and not with one (the
    // training forward runs the reducer); the fine-tuned folder answers with PuMer through the
    // engine; a teacher with other answers is refused.
    void meterFineTunesWithAReducerInPlace()
    {
        const auto teacher = m_root / "meter-teacher";
        writeTinyMeter(teacher);
        auto t = baseOptions(teacher);
        t.steps = 120;
        QVERIFY2(trainModel(t).validationAccuracy >= 0.9, "the plain teacher learns");

        MethodSettings pumer("pumer");
        pumer.set("layers", std::vector<int>{0, 1}).set("prune", 0.2).set("merge", 0.2).set("merge-text", 0.2);
        pumer.setText("mode", "reference");
        // The KL of two confident models is tiny whatever they differ in: these two compare against
        // a teacher trained for 5 steps only.
        const auto early = m_root / "meter-early";
        writeTinyMeter(early);
        auto e = baseOptions(early);
        e.steps = 5;
        trainModel(e);
        const auto student = m_root / "meter-student";
        const double plainKl = firstDistillLoss(early, student, writeTinyMeter);
        const double reducedKl = firstDistillLoss(early, student, writeTinyMeter, pumer);
        QVERIFY2(std::abs(plainKl) < 1e-5, qPrintable(QString::number(plainKl)));
        QVERIFY2(reducedKl > 1e-5, qPrintable(QString::number(reducedKl)));

        const auto tuned = m_root / "meter-pumer";
        writeTinyMeter(tuned);
        fs::copy_file(teacher / "model.safetensors", tuned / "model.safetensors");
        auto o = baseOptions(tuned);
        o.steps = 40;
        o.teacherDir = teacher.string();
        o.method = pumer;
        QVERIFY2(trainModel(o).validationAccuracy >= 0.9, "fine-tuned with PuMer in place");
        const auto engine = Engine::open(tuned.string());
        std::vector<TrainExample> samples;
        colourSource(9)(0, 8, samples);
        std::vector<ImageU8> images;
        std::vector<std::string> questions;
        for (const auto& e : samples) {
            images.push_back(e.image);
            questions.push_back(e.question);
        }
        const auto answers = engine->predictBatch(images, questions, pumer);
        int right = 0;
        for (std::size_t i = 0; i < samples.size(); ++i) right += answers.labels[i] == (samples[i].label == 0 ? "red" : "blue");
        QVERIFY2(right >= 7, qPrintable(QString("%1 of 8 answered right with PuMer").arg(right)));

        // A teacher with other answers is refused, naming the teacher.
        auto bad = baseOptions(tuned);
        fs::remove_all(tuned / "checkpoint");
        bad.teacherDir = withOtherAnswers(m_root / "meter-wrong", writeTinyMeter, teacher).string();
        QVERIFY_REFUSED_BY(trainModel, bad, "the teacher must be a METER VQA model with the same answers");
    }
};

QTEST_GUILESS_MAIN(TestTrain)
#include "tst_train.moc"
