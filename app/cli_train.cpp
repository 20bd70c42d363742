// tokenscope-cli train: trains a ViLT VQA model on a built-in task (issue 5), fresh or from a
// model folder, optionally with a reducer in place and distillation from a teacher.

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <sstream>

#include <nlohmann/json.hpp>

#include "cli_common.h"
#include "common/error.h"
#include "config/meter_config.h"
#include "config/meter_config_json.h"
#include "families/meter_runtime.h"
#include "io/json_file.h"
#include "train/vilt_trainer.h"
#ifdef TOKENSCOPE_HAS_TASKS
#include "tasks/shapes/shapes_task.h"
#endif

namespace tokenscope::cli {
namespace {

namespace fs = std::filesystem;

#ifdef TOKENSCOPE_HAS_TASKS

std::string formatDuration(double seconds) {
    const auto s = static_cast<long>(std::lround(std::max(0.0, seconds)));
    std::ostringstream out;
    if (s >= 3600) out << s / 3600 << "h";
    out << std::setw(s >= 3600 ? 2 : 1) << std::setfill('0') << (s / 60) % 60 << "m" << std::setw(2) << s % 60 << "s";
    return out.str();
}

// A fresh Shapes VQA model folder: config.json, vocab.txt (every question word whole),
// preprocessor_config.json (the scenes are used at their own size).
void writeFreshShapesModel(const fs::path& dir, const Arguments& args) {
    const int imageSize = args.intValue("image-size", 32, 1024);
    const int patch = args.intValue("patch", 4, 64);
    if (imageSize % 32 != 0 || imageSize % patch != 0)
        throw UsageError("--image-size must be a multiple of 32 and of --patch");
    const int hidden = args.intValue("hidden", 8, 4096);
    const int heads = args.intValue("heads", 1, 64);
    if (hidden % heads != 0) throw UsageError("--hidden must be a multiple of --heads");
    const auto& answers = shapes::answerVocabulary();
    std::vector<std::string> vocab = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};
    for (const auto& w : shapes::questionWords()) vocab.push_back(w);

    nlohmann::json config = {
        {"architectures", {"ViltForQuestionAnswering"}},
        {"model_type", "vilt"},
        {"hidden_size", hidden},
        {"num_hidden_layers", args.intValue("depth", 1, 48)},
        {"num_attention_heads", heads},
        {"intermediate_size", args.intValue("mlp", 8, 16384)},
        {"hidden_act", "gelu"},
        {"hidden_dropout_prob", 0.0},
        {"attention_probs_dropout_prob", 0.0},
        {"initializer_range", 0.02},
        {"layer_norm_eps", 1e-12},
        {"vocab_size", vocab.size()},
        {"type_vocab_size", 2},
        {"modality_type_vocab_size", 2},
        {"max_position_embeddings", 40},
        {"image_size", imageSize},
        {"patch_size", patch},
        {"num_channels", 3},
        {"qkv_bias", true},
        {"max_image_length", -1},
        {"num_images", -1},
        {"tie_word_embeddings", false},
        {"torch_dtype", "float32"},
        {"tokenscope_task", "shapes"},
    };
    for (std::size_t i = 0; i < answers.size(); ++i) {
        config["id2label"][std::to_string(i)] = answers[i];
        config["label2id"][answers[i]] = i;
    }
    const nlohmann::json preprocess = {{"do_resize", true},         {"size", {{"shortest_edge", imageSize}}},
                                       {"size_divisor", 32},        {"resample", 3},
                                       {"do_rescale", true},        {"rescale_factor", 1.0 / 255.0},
                                       {"do_normalize", true},      {"image_mean", {0.5, 0.5, 0.5}},
                                       {"image_std", {0.5, 0.5, 0.5}}, {"do_pad", true},
                                       {"image_processor_type", "ViltImageProcessor"}};
    std::ofstream(dir / "config.json") << config.dump(2) << "\n";
    std::ofstream(dir / "preprocessor_config.json") << preprocess.dump(2) << "\n";
    std::ofstream vocabFile(dir / "vocab.txt");
    for (const auto& v : vocab) vocabFile << v << "\n";
    if (!vocabFile) throw Error((dir / "vocab.txt").string() + ": cannot write");
}

// GPT-2's printable stand-in of every byte (bytes_to_unicode), as UTF-8.
std::string byteStandIn(int byte) {
    const bool printable = (byte >= '!' && byte <= '~') || (byte >= 0xA1 && byte <= 0xAC) || (byte >= 0xAE && byte <= 0xFF);
    int codePoint = byte;
    if (!printable) {
        int n = 0;
        for (int b = 0; b < byte; ++b)
            if (!((b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF))) ++n;
        codePoint = 256 + n;
    }
    std::string out;
    if (codePoint < 0x80) {
        out += static_cast<char>(codePoint);
    } else {
        out += static_cast<char>(0xC0 | (codePoint >> 6));
        out += static_cast<char>(0x80 | (codePoint & 0x3F));
    }
    return out;
}

// A byte-level BPE tokenizer (vocab.json, merges.txt) for the Shapes questions, in RoBERTa's
// layout: the four special tokens, the 256 byte stand-ins, then merges learned as BPE learns them
// (the most frequent adjacent pair of the question words, with and without the leading "Ġ",
// merged everywhere, ties to the smaller pair) until every word is one token; <mask> last.
void writeShapesBpeTokenizer(const fs::path& dir) {
    nlohmann::ordered_json vocab;
    for (const char* special : {"<s>", "<pad>", "</s>", "<unk>"}) vocab[special] = vocab.size();
    for (int b = 0; b < 256; ++b) vocab[byteStandIn(b)] = vocab.size();
    std::vector<std::vector<std::string>> words;
    for (const auto& word : shapes::questionWords()) {
        if (!std::all_of(word.begin(), word.end(), [](unsigned char c) { return std::isalnum(c) != 0; })) continue;  // punctuation: bytes
        for (const bool space : {false, true}) {
            auto& symbols = words.emplace_back();
            if (space) symbols.push_back(byteStandIn(' '));
            for (const char c : word) symbols.emplace_back(1, c);
        }
    }
    std::vector<std::string> merges;
    for (;;) {
        std::map<std::pair<std::string, std::string>, int> counts;
        for (const auto& w : words)
            for (std::size_t i = 0; i + 1 < w.size(); ++i) ++counts[{w[i], w[i + 1]}];
        if (counts.empty()) break;
        auto best = counts.begin();
        for (auto it = counts.begin(); it != counts.end(); ++it)
            if (it->second > best->second) best = it;
        const auto [left, right] = best->first;
        merges.push_back(left + " " + right);
        if (!vocab.contains(left + right)) vocab[left + right] = vocab.size();
        for (auto& w : words) {
            std::vector<std::string> merged;
            for (std::size_t i = 0; i < w.size(); ++i) {
                if (i + 1 < w.size() && w[i] == left && w[i + 1] == right) {
                    merged.push_back(left + right);
                    ++i;
                } else {
                    merged.push_back(w[i]);
                }
            }
            w = std::move(merged);
        }
    }
    vocab["<mask>"] = vocab.size();
    std::ofstream(dir / "vocab.json") << vocab.dump() << "\n";
    std::ofstream out(dir / "merges.txt");
    out << "#version: 0.2\n";
    for (const auto& rule : merges) out << rule << "\n";
    if (!out) throw Error((dir / "merges.txt").string() + ": cannot write");
}

// A fresh Shapes VQA METER folder: config.json (METER's keys, PuMer's sequential stream order,
// the Shapes answers), vocab.json + merges.txt.
void writeFreshShapesMeter(const fs::path& dir, const Arguments& args) {
    const int imageSize = args.intValue("image-size", 32, 1024);
    const int patch = args.intValue("patch", 4, 64);
    if (imageSize % patch != 0) throw UsageError("--image-size must be a multiple of --patch");
    const int hidden = args.intValue("hidden", 8, 4096);
    const int heads = args.intValue("heads", 1, 64);
    const int mlp = args.intValue("mlp", 8, 16384);
    if (hidden % heads != 0 || mlp % hidden != 0) throw UsageError("--hidden must be a multiple of --heads, --mlp of --hidden");
    writeShapesBpeTokenizer(dir);
    MeterConfig c;
    c.text.vocabSize = static_cast<int>(nlohmann::json::parse(std::ifstream(dir / "vocab.json")).size());
    c.text.hiddenSize = hidden;
    c.text.numHiddenLayers = args.intValue("text-depth", 1, 48);
    c.text.numAttentionHeads = heads;
    c.text.intermediateSize = mlp;
    c.text.maxPositionEmbeddings = 64;
    c.vision.width = hidden;
    c.vision.blocks = args.intValue("image-depth", 1, 48);
    c.vision.heads = heads;
    c.vision.patchSize = patch;
    c.vision.imageSize = imageSize;
    c.hiddenSize = hidden;
    c.numHeads = heads;
    c.numTopLayer = args.intValue("fusion-depth", 1, 48);
    c.intermediateSize = mlp;
    c.maxTextLen = 32;  // the longest Shapes question is about 16 tokens
    c.heads.vqa = true;
    c.heads.vqaLabels = static_cast<int>(shapes::answerVocabulary().size());
    c.streamOrder = MeterStreamOrder::Sequential;
    c.tokenizer = "shapes";
    auto config = meterConfigJson(c, shapes::answerVocabulary());
    config["tokenscope_task"] = "shapes";
    std::ofstream(dir / "config.json") << config.dump(2) << "\n";
}

void copyModelFolder(const fs::path& from, const fs::path& to) {
    for (const char* name : {"config.json", "model.safetensors"})
        if (!fs::exists(from / name)) throw Error((from / name).string() + ": missing (--init-from needs a model folder)");
    for (const char* name : {"config.json", "vocab.txt", "vocab.json", "merges.txt", "preprocessor_config.json", "model.safetensors"})
        if (fs::exists(from / name)) fs::copy_file(from / name, to / name, fs::copy_options::overwrite_existing);
}

// Jobs for the last block's heads on a Shapes question: head 0 looks at the object a colour
// question names, or at the first of a relation or size pair (head 1 at the second); for a count
// or existence question head 0 splits its attention evenly between the objects counted and the
// text [CLS], so the split tells how many there are (all on the [CLS]: none).
std::vector<TrainExample::HeadTarget> shapesHeadTargets(const shapes::ShapesSample& s, const shapes::ShapesOptions& scenes) {
    const auto cells = shapes::relevantCells(s, scenes);
    switch (s.type) {
    case shapes::QuestionType::Color: return {{0, cells, false}};
    case shapes::QuestionType::Count:
    case shapes::QuestionType::Exist: return {{0, cells, true}};
    case shapes::QuestionType::Relation:
    case shapes::QuestionType::Size: return {{0, {cells.at(0)}, false}, {1, {cells.at(1)}, false}};
    }
    return {};
}

// The family and depth of the folder's model, from its config.json (METER's keys or a ViLT's); the
// folder may hold no weights yet, so the config is read without a checkpoint.
MethodTarget trainedModelTarget(const fs::path& dir) {
    const auto path = (dir / "config.json").string();
    if (!isMeterFolder(dir.string())) return methodTargetOf(loadModelConfig(path));
    ModelConfig config;
    config.family = ModelFamily::Meter;
    config.meter = parseMeterHyperParameters(nlohmann::json::parse(readTextFile(path, "the model config")), path);
    return methodTargetOf(config);
}

int runTrain(const Arguments& args) {
    if (args.value("task") != "shapes") throw UsageError("--task must be shapes (the only built-in task)");
    const fs::path dir = args.require("out");
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) throw Error(dir.string() + ": cannot create the output folder: " + ec.message());
    const bool resuming = fs::exists(dir / "checkpoint" / "state.json");
    if (!resuming) {
        if (args.has("init-from")) {
            copyModelFolder(args.value("init-from"), dir);
        } else if (!fs::exists(dir / "config.json")) {
            const std::string arch = args.value("arch");
            if (arch == "meter")
                writeFreshShapesMeter(dir, args);
            else if (arch == "vilt")
                writeFreshShapesModel(dir, args);
            else
                throw UsageError("--arch must be vilt or meter");
        }
    }
    {
        // The exact command, so the model can be reproduced.
        std::ofstream command(dir / "train_command.txt", std::ios::app);
        command << "tokenscope-cli train";
        for (const auto& [name, values] : args.given())
            for (const auto& v : values) command << " --" << name << (args.isSwitch(name) ? "" : " '" + v + "'");
        command << "\n";
    }

    shapes::ShapesOptions scenes;
    scenes.imageSize = args.intValue("image-size", 32, 1024);
    const auto trainSeed = static_cast<uint64_t>(args.intValue("train-seed", 0, 1 << 30));
    const auto valSeed = static_cast<uint64_t>(args.intValue("val-seed", 0, 1 << 30));
    if (trainSeed == valSeed) throw UsageError("--train-seed and --val-seed must differ");
    const auto& answers = shapes::answerVocabulary();
    const double patchLossWeight = std::stod(args.value("patch-loss"));
    const bool patchLabels = patchLossWeight > 0;
    const double attentionLossWeight = std::stod(args.value("attention-loss"));
    const bool relevantCells = attentionLossWeight > 0;
    const double groundingLossWeight = std::stod(args.value("grounding-loss"));
    const bool grounding = groundingLossWeight > 0;
    const double roleLossWeight = std::stod(args.value("role-loss"));
    const double headAttentionLossWeight = std::stod(args.value("head-attention-loss"));
    const double clsLossWeight = std::stod(args.value("cls-loss"));
    const bool roles = roleLossWeight > 0, headTargets = headAttentionLossWeight > 0, clsTargets = clsLossWeight > 0;
    const bool clsDirection = args.has("cls-direction");
    if (clsDirection && !clsTargets) throw UsageError("--cls-direction needs --cls-loss");
    const auto source = [&answers, scenes, patchLabels, relevantCells, grounding, roles, headTargets, clsTargets, clsDirection](uint64_t seed) {
        return [&answers, scenes, seed, patchLabels, relevantCells, grounding, roles, headTargets, clsTargets, clsDirection](
                   uint64_t first, int count, std::vector<TrainExample>& out) {
            for (int i = 0; i < count; ++i) {
                auto s = shapes::makeSample(seed, first + static_cast<uint64_t>(i), scenes);
                TrainExample e;
                e.label = std::find(answers.begin(), answers.end(), s.answer) - answers.begin();
                e.group = static_cast<int>(s.type);
                if (patchLabels) e.patchLabels = shapes::cellLabels(s, scenes);
                if (relevantCells) e.relevantPatches = shapes::relevantCells(s, scenes);
                if (grounding) e.groundedWords = shapes::groundedWords(s, scenes);
                if (roles) e.patchRoles = shapes::patchRoles(s, scenes);
                if (headTargets) e.headTargets = shapesHeadTargets(s, scenes);
                if (clsTargets && s.type == shapes::QuestionType::Relation) {
                    // How far the first object is from the second, in columns and rows (-1..1).
                    const auto cells = shapes::relevantCells(s, scenes);
                    const float span = static_cast<float>(scenes.grid - 1);
                    const float dx = static_cast<float>(cells.at(0) % scenes.grid - cells.at(1) % scenes.grid) / span;
                    const float dy = static_cast<float>(cells.at(0) / scenes.grid - cells.at(1) / scenes.grid) / span;
                    e.clsTargets = {dx, dy};
                    // ... and along the direction the question asks about (> 0: the answer is yes).
                    if (clsDirection) e.clsTargets.push_back(dx * static_cast<float>(s.directionX) + dy * static_cast<float>(s.directionY));
                }
                e.image = std::move(s.image);
                e.question = std::move(s.question);
                out.push_back(std::move(e));
            }
        };
    };

    TrainOptions options;
    options.modelDir = dir.string();
    if (args.has("distill-from")) options.teacherDir = args.value("distill-from");
    options.distillWeight = std::stod(args.value("distill-weight"));
    // A preset names the model family's own knobs, at the model's depth (as eval and the window place it).
    options.method = methodFromArgs(args, args.value("method"), trainedModelTarget(dir));
    options.ratioWeight = std::stod(args.value("ratio-weight"));
    options.trainPredictorOnly = args.has("train-predictor-only");
    options.patchLossWeight = patchLossWeight;
    options.patchLossLayer = args.intValue("patch-loss-layer", 1, 48);
    options.patchClasses = shapes::kCellClasses;
    options.attentionLossWeight = attentionLossWeight;
    options.groundingLossWeight = groundingLossWeight;
    options.groundingLayer = args.intValue("grounding-layer", 0, 47);
    options.roleLossWeight = roleLossWeight;
    options.roleLossLayer = args.intValue("role-loss-layer", 1, 48);
    options.roleClasses = shapes::kRoleClasses;
    options.headAttentionLossWeight = headAttentionLossWeight;
    options.positionLossWeight = std::stod(args.value("position-loss"));
    options.clsLossWeight = clsLossWeight;
    options.clsTargetSize = clsDirection ? 3 : 2;
    options.positionLossLayer = args.intValue("position-loss-layer", 1, 48);
    options.batchSize = args.intValue("batch", 1, 4096);
    options.steps = args.intValue("steps", 1, 100000000);
    options.stopAfter = args.intValue("stop-after", 0, 100000000);
    options.learningRate = std::stod(args.value("lr"));
    options.weightDecay = std::stod(args.value("weight-decay"));
    options.warmupFraction = parseRatio(args, "warmup");
    options.validateEvery = args.intValue("validate-every", 0, 100000000);
    options.checkpointEvery = args.intValue("checkpoint-every", 0, 100000000);
    options.validationExamples = args.intValue("val-n", 1, 1000000);
    options.logEvery = args.intValue("log-every", 1, 100000);
    options.seed = static_cast<uint64_t>(args.intValue("seed", 0, 1 << 30));
    for (int t = 0; t < shapes::kQuestionTypes; ++t)
        options.groupNames.push_back(shapes::questionTypeName(static_cast<shapes::QuestionType>(t)));
    options.train = source(trainSeed);
    options.validation = source(valSeed);
    options.progress = [&](const TrainProgress& p) {
        if (!p.note.empty()) {
            std::cerr << p.note << "\n";
            return;
        }
        std::cerr << "step " << p.step << "/" << p.steps << std::fixed << std::setprecision(4) << "  loss " << p.loss;
        if (p.distillLoss > 0) std::cerr << " (task " << p.taskLoss << ", kl " << p.distillLoss << ")";
        if (p.patchLoss > 0 || p.attentionLoss > 0 || p.groundingLoss > 0 || p.roleLoss > 0 || p.headAttentionLoss > 0 ||
            p.positionLoss > 0 || p.clsLoss > 0)
            std::cerr << " (task " << p.taskLoss << ", patch " << p.patchLoss << ", attention " << p.attentionLoss
                      << ", grounding " << p.groundingLoss << ", role " << p.roleLoss << ", heads " << p.headAttentionLoss << ", position " << p.positionLoss << ", cls " << p.clsLoss << ")";
        if (!p.keepFractions.empty()) {
            std::cerr << "  ratio " << p.ratioLoss << " kept";
            for (const auto f : p.keepFractions) std::cerr << " " << std::setprecision(3) << f;
            std::cerr << std::setprecision(4);
        }
        std::cerr << std::setprecision(3) << "  train acc " << p.trainAccuracy << std::scientific << std::setprecision(2)
                  << "  lr " << p.learningRate << std::fixed << std::setprecision(1) << "  " << p.examplesPerSecond
                  << " ex/s  elapsed " << formatDuration(p.elapsedSeconds) << "  ETA " << formatDuration(p.etaSeconds)
                  << "\n";
        if (p.validated) {
            std::cerr << "  validation accuracy " << std::setprecision(4) << p.validationAccuracy << "  (";
            for (std::size_t g = 0; g < p.groupAccuracy.size(); ++g)
                std::cerr << (g ? ", " : "") << options.groupNames[g] << " " << std::setprecision(3) << p.groupAccuracy[g];
            std::cerr << ")\n";
        }
    };
    const auto summary = trainModel(options);
    std::cout << (summary.cancelled ? "stopped" : "trained") << " " << summary.steps << " steps in "
              << formatDuration(summary.seconds) << "; validation accuracy " << std::fixed << std::setprecision(4)
              << summary.validationAccuracy << "\nwrote " << dir.string() << "/model.safetensors\n";
    return 0;
}

#else

int runTrain(const Arguments&) {
    throw Error("this build has no task data (configured with TOKENSCOPE_GUI=OFF, without OpenCV)");
}

#endif

}  // namespace

std::vector<Command> trainCommands() {
    return {
        {"train", "train a ViLT or METER VQA model on a built-in task (Shapes VQA), fresh or fine-tuned; resumable",
         withMethod({{"task", "NAME", "shapes", "the task"},
                     {"arch", "NAME", "vilt", "fresh model: vilt (single stream) or meter (text and image encoders, co-attention fusion)"},
                     {"out", "DIR", "", "model folder to write (resumes from DIR/checkpoint when present)"},
                     {"init-from", "DIR", "", "start from this model folder instead of random weights"},
                     {"distill-from", "DIR", "", "teacher model folder: add KL(student || teacher) to the loss"},
                     {"distill-weight", "W", "1.0", "weight of the distillation term"},
                     {"ratio-weight", "W", "2.0", "dynamicvit: weight of the keep-ratio loss"},
                     {"patch-loss", "W", "0", "weight of the auxiliary patch loss (what is in each grid cell; training only, not saved)"},
                     {"patch-loss-layer", "N", "2", "patch loss on the tokens after this many blocks (METER: CLIP blocks, then fusion layers)"},
                     {"grounding-loss", "W", "0", "weight of the auxiliary grounding loss (colour and shape words look at what they name; training only)"},
                     {"grounding-layer", "N", "1", "grounding loss on this block's attention (0-based; METER: a fusion layer's text-to-image attention)"},
                     {"role-loss", "W", "0", "weight of the auxiliary role loss (which patches the question is about; training only)"},
                     {"role-loss-layer", "N", "3", "role loss on the tokens after this many blocks (METER: CLIP blocks, then fusion layers)"},
                     {"stop-after", "N", "0", "stop after N steps, keeping the --steps schedule (0 = all; run again without it to go on)"},
                     {"position-loss", "W", "0", "weight of the auxiliary position loss (each patch's column and row; training only)"},
                     {"position-loss-layer", "N", "2", "position loss on the tokens after this many blocks (METER: CLIP blocks, then fusion layers)"},
                     {"cls-loss", "W", "0", "weight of the auxiliary [CLS] loss (how far apart a relation question's two objects are; training only)"},
                     {"cls-direction", "", "", "the [CLS] loss also regresses the distance along the direction the relation question asks about"},
                     {"head-attention-loss", "W", "0", "weight of the auxiliary head attention loss (jobs for the last block's heads; training only)"},
                     {"attention-loss", "W", "0", "weight of the auxiliary attention loss (the last block's [CLS] looks at the question's objects; training only)"},
                     {"train-predictor-only", "", "", "dynamicvit: freeze the model, train only the predictors"},
                     {"steps", "N", "3000", "optimizer steps"},
                     {"batch", "B", "64", "examples per step"},
                     {"lr", "LR", "1e-3", "peak learning rate (AdamW)"},
                     {"weight-decay", "WD", "0.01", "AdamW weight decay (not on biases and norms)"},
                     {"warmup", "F", "0.05", "fraction of the steps spent warming up"},
                     {"validate-every", "N", "250", "steps between validations"},
                     {"checkpoint-every", "N", "250", "steps between checkpoints"},
                     {"log-every", "N", "20", "steps between progress lines"},
                     {"val-n", "N", "512", "validation examples"},
                     {"train-seed", "S", "1", "split seed of the training data"},
                     {"val-seed", "S", "2", "split seed of the validation data"},
                     {"seed", "N", "0", "seed of the initial weights"},
                     {"image-size", "PX", "192", "fresh model: scene size (and the model's image size)"},
                     {"patch", "PX", "24", "fresh model: patch size (image size / 8: one grid cell, one object)"},
                     {"hidden", "N", "128", "fresh model: hidden size"},
                     {"depth", "N", "6", "fresh ViLT: encoder layers"},
                     {"text-depth", "N", "2", "fresh METER: RoBERTa layers"},
                     {"image-depth", "N", "4", "fresh METER: CLIP blocks"},
                     {"fusion-depth", "N", "2", "fresh METER: co-attention layers"},
                     {"heads", "N", "4", "fresh model: attention heads"},
                     {"mlp", "N", "256", "fresh model: MLP size"}}),
         runTrain},
    };
}

}  // namespace tokenscope::cli
