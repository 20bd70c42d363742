// tokenscope-cli commands for the built-in tasks (issue 5): `shapes` writes Shapes VQA samples for
// people to look at; `eval` measures a model's accuracy and throughput on a split under a method,
// or (--sweep) under every method over its knob range, writing sweep.csv and sweep.png.

#include "cli_common.h"

#ifdef TOKENSCOPE_HAS_EVAL

#include <QGuiApplication>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <thread>

#include <unistd.h>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "methods/method_registry.h"
#include "tasks/eval/sweep_table.h"
#include "viz/image_io.h"
#include "tasks/shapes/shapes_eval.h"
#include "tasks/shapes/shapes_task.h"
#include "viz/sweep_chart.h"

namespace tokenscope::cli {
namespace {

namespace fs = std::filesystem;

// A progress line on stderr while a pass runs, only when stderr is a terminal.
shapes::EvalProgress progressLine(const std::string& label) {
    if (!isatty(STDERR_FILENO)) return {};
    return [label](int done, int total) {
        std::fprintf(stderr, "\r\033[K%s  %d / %d", label.c_str(), done, total);
        if (done >= total) std::fprintf(stderr, "\r\033[K");
    };
}

nlohmann::json perTypeJson(const EvalSummary& summary) {
    nlohmann::json out = nlohmann::json::object();
    for (const auto& type : summary.perType)
        out[type.name] = {{"accuracy", type.accuracy}, {"correct", type.correct}, {"examples", type.examples}};
    return out;
}

std::string percent(double fraction) {
    std::ostringstream out;
    out << std::fixed << std::setprecision(1) << 100.0 * fraction << "%";
    return out.str();
}

// Questions may hold commas: always quoted, inner quotes doubled.
std::string csvQuoted(const std::string& text) {
    std::string out = "\"";
    for (char c : text) out += c == '"' ? std::string("\"\"") : std::string(1, c);
    return out + "\"";
}

void warnUnlessShapesModel(const Engine& engine) {
    if (!shapes::isShapesModel(engine.summary().config))
        std::cerr << "warning: " << engine.summary().source
                  << ": its labels are not the Shapes answers (id2label differs), so few answers can match\n";
}

// Scenes at the model's image size unless --image-size says otherwise.
shapes::ShapesOptions scenesFor(const Arguments& args, const Engine& engine) {
    auto scenes = shapes::sceneOptionsFor(engine.summary().config);
    if (args.has("image-size")) scenes.imageSize = args.intValue("image-size", 32, 1024);
    return scenes;
}

struct EvalOptions {
    uint64_t seed = shapes::kTestSeed;
    int count = 0;
    shapes::EvalRunOptions run;
};

EvalOptions evalOptionsFrom(const Arguments& args) {
    if (args.value("task") != "shapes") throw UsageError("--task must be shapes (the only built-in task), not '" + args.value("task") + "'");
    EvalOptions options;
    options.seed = static_cast<uint64_t>(args.intValue("seed", 0, 1 << 30));
    options.count = args.intValue("n", 1, 1000000);
    options.run.batch = args.intValue("batch", 1, 4096);
    options.run.passes = args.intValue("passes", 1, 100);
    return options;
}

int runSingleEval(const Arguments& args) {
    const auto options = evalOptionsFrom(args);
    auto engine = openModel(args, "weights-seed");
    const MethodSettings method = methodFromArgs(args, args.value("method"), methodTargetOf(*engine));
    warnUnlessShapesModel(*engine);
    const auto scenes = scenesFor(args, *engine);
    const auto set = shapes::makeEvalSet(options.seed, options.count, scenes);
    // The unreduced pass first (agreement, speed-up), then the method's in the same process.
    auto run = options.run;
    run.progress = progressLine("unreduced");
    const auto unreduced = shapes::evaluateMethod(*engine, set, MethodSettings{}, run);
    run.progress = progressLine(describe(method));
    const auto reduced = method.is("none") ? unreduced : shapes::evaluateMethod(*engine, set, method, run);
    const auto summary = shapes::summarize(set, reduced, &unreduced);
    const auto base = shapes::summarize(set, unreduced, nullptr);
    const double speedup = unreduced.examplesPerSecond > 0 ? reduced.examplesPerSecond / unreduced.examplesPerSecond : 0.0;
    const auto& model = engine->summary();

    if (args.has("json")) {
        nlohmann::json out;
        out["task"] = "shapes";
        out["model"] = model.source;
        out["random_weights"] = model.randomWeights;
        out["device"] = args.value("device");
        out["dtype"] = args.value("dtype");
        out["seed"] = options.seed;
        out["image_size"] = scenes.imageSize;
        out["examples"] = summary.examples;
        out["batch"] = options.run.batch;
        out["passes"] = options.run.passes;
        out["method"] = method.method();
        out["settings"] = describe(method);
        out["accuracy"] = summary.accuracy;
        out["correct"] = summary.correct;
        out["examples_per_s"] = reduced.examplesPerSecond;
        out["timings_ms"] = {{"preprocess", reduced.preprocessMs}, {"forward", reduced.forwardMs}};
        out["image_tokens"] = reduced.imageTokens;
        out["agreement"] = summary.agreement.value_or(1.0);
        out["agreeing"] = summary.agreeing;
        out["per_type"] = perTypeJson(summary);
        out["speedup"] = speedup;
        out["unreduced"] = {{"accuracy", base.accuracy},
                            {"correct", base.correct},
                            {"examples_per_s", unreduced.examplesPerSecond},
                            {"image_tokens", unreduced.imageTokens},
                            {"per_type", perTypeJson(base)}};
        std::cout << out.dump(2) << "\n";
        return 0;
    }
    std::cout << std::fixed;
    std::cout << "model      " << model.source << " (" << model.parameterCount << " parameters"
              << (model.randomWeights ? ", random weights" : "") << ")\n";
    std::cout << "task       shapes, split seed " << options.seed << ", " << summary.examples << " scenes of "
              << scenes.imageSize << " px, batch "
              << options.run.batch << (options.run.passes > 1 ? ", fastest of " + std::to_string(options.run.passes) + " timed passes" : "")
              << "\n";
    std::cout << "method     " << describe(method) << "\n";
    std::cout << "accuracy   " << percent(summary.accuracy) << " (" << summary.correct << " / " << summary.examples
              << ")   unreduced " << percent(base.accuracy) << "\n";
    std::cout << "agreement  " << percent(summary.agreement.value_or(1.0)) << " of the answers equal the unreduced model's\n";
    std::cout << std::setprecision(1) << "speed      " << reduced.examplesPerSecond << " examples/s   unreduced "
              << unreduced.examplesPerSecond << " examples/s   " << std::setprecision(2) << speedup << "x\n";
    std::cout << std::setprecision(1) << "tokens     " << reduced.imageTokens << " image tokens per layer on average (unreduced "
              << unreduced.imageTokens << ")\n";
    std::cout << "per type  ";
    for (std::size_t t = 0; t < summary.perType.size(); ++t) {
        const auto& type = summary.perType[t];
        std::cout << " " << type.name << " " << (type.examples ? percent(type.accuracy) : std::string("-")) << " ("
                  << type.examples << ", unreduced " << (type.examples ? percent(base.perType[t].accuracy) : std::string("-"))
                  << ")";
    }
    std::cout << "\n";
    return 0;
}

std::vector<std::string> splitList(const std::string& text) {
    std::vector<std::string> items;
    std::stringstream in(text);
    for (std::string item; std::getline(in, item, ',');)
        if (!item.empty()) items.push_back(item);
    return items;
}

int runSweep(const Arguments& args) {
    const auto options = evalOptionsFrom(args);
    std::vector<std::string> methods;
    for (const auto& name : splitList(args.value("sweep-methods"))) methods.push_back(methodDescriptor(name).id);
    const fs::path outDir = args.value("out");
    auto engine = openModel(args, "weights-seed");
    warnUnlessShapesModel(*engine);
    std::error_code ec;
    fs::create_directories(outDir, ec);
    if (ec) throw Error(outDir.string() + ": cannot create the folder (" + ec.message() + ")");
    const auto scenes = scenesFor(args, *engine);
    const auto set = shapes::makeEvalSet(options.seed, options.count, scenes);

    shapes::SweepCallbacks callbacks;
    callbacks.progressFor = [](const std::string& label) { return progressLine(label); };
    callbacks.onRow = [](const SweepRow& row, int index, int total) {
        std::fprintf(stderr, "[%d/%d] %s: accuracy %.1f%%, %.1f examples/s (%.2fx), agreement %.1f%%, %.1f image tokens\n",
                     index + 1, total, row.settings.c_str(), 100 * row.accuracy, row.examplesPerSecond, row.speedup,
                     100 * row.agreement, row.imageTokens);
    };
    const auto rows = shapes::runSweep(*engine, set, options.run, methods, callbacks);
    const std::string csvPath = (outDir / "sweep.csv").string();
    writeSweepCsv(csvPath, rows);

    // The figure. QPainter's text needs a QGuiApplication; offscreen needs no display.
    if (qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM")) qputenv("QT_QPA_PLATFORM", "offscreen");
    int argc = 1;
    char name[] = "tokenscope-cli";
    char* argv[] = {name, nullptr};
    QGuiApplication app(argc, argv);
    const auto& model = engine->summary();
    SweepChartOptions chart;
    chart.title = QStringLiteral("Shapes VQA: accuracy against throughput, per token-reduction method");
    // A folder by its name; random weights by their source, which says so.
    auto folder = fs::path(model.source).lexically_normal();
    if (folder.filename().empty()) folder = folder.parent_path();  // "dir/"
    const std::string modelName = model.randomWeights || folder.filename().empty() ? model.source : folder.filename().string();
    chart.subtitle = QStringLiteral("%1 · split seed %2, %3 examples, batch %4 · %5 %6, threads: %7")
                         .arg(QString::fromStdString(modelName))
                         .arg(options.seed)
                         .arg(options.count)
                         .arg(QString::number(options.run.batch) +
                              (options.run.passes > 1 ? QStringLiteral(", fastest of %1 passes in turns").arg(options.run.passes) : QString()))
                         .arg(QString::fromStdString(args.value("device")))
                         .arg(QString::fromStdString(args.value("dtype")))
                         .arg(std::getenv("OMP_NUM_THREADS") ? QString::fromLocal8Bit(std::getenv("OMP_NUM_THREADS"))
                                                             : QString::number(std::thread::hardware_concurrency()));
    const QString pngPath = QString::fromStdString((outDir / "sweep.png").string());
    if (!renderSweepChart(rows, chart).save(pngPath, "PNG")) throw Error(pngPath.toStdString() + ": cannot write the figure");

    if (args.has("json")) {
        nlohmann::json out = nlohmann::json::array();
        for (const auto& row : rows)
            out.push_back({{"method", row.method}, {"settings", row.settings}, {"knob", row.knob}, {"accuracy", row.accuracy},
                           {"examples_per_s", row.examplesPerSecond}, {"speedup", row.speedup},
                           {"agreement", row.agreement}, {"image_tokens", row.imageTokens}, {"examples", row.examples}});
        std::cout << out.dump(2) << "\n";
    } else {
        std::cout << sweepCsvText(rows);
    }
    std::cerr << "wrote " << csvPath << " and " << pngPath.toStdString() << "\n";
    return 0;
}

int runEval(const Arguments& args) {
    if (args.has("dataset")) return runDatasetEvaluation(args);
    return args.has("sweep") ? runSweep(args) : runSingleEval(args);
}

// Shapes scenes in VQAv2's own layout (tokenscope-cli eval --dataset vqav2 reads it as it reads
// COCO): val2014/COCO_val2014_<image id>.jpg, the questions and the annotations files (ten
// annotators, all giving the scene's answer; answer type from the question type).
int writeShapesAsVqaV2(const fs::path& outDir, uint64_t seed, int first, int count, const shapes::ShapesOptions& options) {
    const fs::path images = outDir / "val2014";
    std::error_code ec;
    fs::create_directories(images, ec);
    if (ec) throw Error(images.string() + ": cannot create the folder (" + ec.message() + ")");
    nlohmann::json questions = nlohmann::json::array(), annotations = nlohmann::json::array();
    for (int i = 0; i < count; ++i) {
        const auto index = static_cast<uint64_t>(first + i);
        const auto sample = shapes::makeSample(seed, index, options);
        const auto imageId = static_cast<long long>(index + 1);
        const long long questionId = imageId * 10;
        char file[64];
        std::snprintf(file, sizeof file, "COCO_val2014_%012lld.jpg", imageId);
        saveImageFile((images / file).string(), sample.image);
        questions.push_back({{"image_id", imageId}, {"question", sample.question}, {"question_id", questionId}});
        const std::string type = shapes::questionTypeName(sample.type);
        const std::string answerType = sample.type == shapes::QuestionType::Exist || sample.type == shapes::QuestionType::Relation
                                           ? "yes/no"
                                       : sample.type == shapes::QuestionType::Count ? "number"
                                                                                    : "other";
        nlohmann::json answers = nlohmann::json::array();
        for (int a = 1; a <= 10; ++a) answers.push_back({{"answer", sample.answer}, {"answer_confidence", "yes"}, {"answer_id", a}});
        annotations.push_back({{"question_type", type}, {"multiple_choice_answer", sample.answer}, {"answers", answers},
                               {"image_id", imageId}, {"answer_type", answerType}, {"question_id", questionId}});
    }
    const auto write = [&](const char* name, const nlohmann::json& json) {
        std::ofstream out(outDir / name, std::ios::binary);
        out << json.dump() << "\n";
        if (!out.flush()) throw Error((outDir / name).string() + ": cannot be written");
    };
    const nlohmann::json info{{"description", "Shapes VQA scenes (TokenScope), split seed " + std::to_string(seed)}};
    write("v2_OpenEnded_mscoco_val2014_questions.json",
          {{"info", info}, {"task_type", "Open-Ended"}, {"data_type", "mscoco"}, {"data_subtype", "val2014"}, {"questions", questions}});
    write("v2_mscoco_val2014_annotations.json",
          {{"info", info}, {"data_type", "mscoco"}, {"data_subtype", "val2014"}, {"annotations", annotations}});
    std::cerr << "wrote " << count << " scenes of split seed " << seed << " to " << outDir.string()
              << " in VQAv2's layout (val2014/*.jpg, v2_OpenEnded_mscoco_val2014_questions.json, v2_mscoco_val2014_annotations.json)\n";
    return 0;
}

int runShapes(const Arguments& args) {
    const auto seed = static_cast<uint64_t>(args.intValue("seed", 0, 1 << 30));
    const int count = args.intValue("n", 1, 100000);
    const int first = args.intValue("first", 0, 1 << 30);
    shapes::ShapesOptions options;
    options.imageSize = args.intValue("image-size", 32, 2048);
    options.clutter = !args.has("no-clutter");
    const fs::path outDir = args.require("out");
    std::error_code ec;
    fs::create_directories(outDir, ec);
    if (ec) throw Error(outDir.string() + ": cannot create the folder (" + ec.message() + ")");
    const std::string layout = args.value("layout");
    if (layout == "vqav2") return writeShapesAsVqaV2(outDir, seed, first, count, options);
    if (layout != "plain") throw UsageError("--layout must be plain or vqav2, not '" + layout + "'");
    std::ofstream jsonl(outDir / "questions.jsonl");
    std::ofstream csv(outDir / "questions.csv");
    if (!jsonl || !csv) throw Error(outDir.string() + ": cannot write questions.jsonl / questions.csv");
    csv << "seed,index,file,question,answer,type\n";
    for (int i = 0; i < count; ++i) {
        const auto index = static_cast<uint64_t>(first + i);
        const auto sample = shapes::makeSample(seed, index, options);
        char file[64];
        std::snprintf(file, sizeof file, "shapes_s%llu_%05llu.png", static_cast<unsigned long long>(seed),
                      static_cast<unsigned long long>(index));
        saveImageFile((outDir / file).string(), sample.image);
        const std::string type = shapes::questionTypeName(sample.type);
        jsonl << nlohmann::json{{"seed", seed}, {"index", index}, {"file", file}, {"image", file}, {"id", std::to_string(index)},
                                {"question", sample.question}, {"answers", {sample.answer}},
                                {"answer", sample.answer}, {"type", type}}
                     .dump()
              << "\n";
        csv << seed << "," << index << "," << file << "," << csvQuoted(sample.question) << "," << sample.answer << ","
            << type << "\n";
    }
    if (!jsonl.flush() || !csv.flush()) throw Error(outDir.string() + ": cannot write questions.jsonl / questions.csv");
    std::cerr << "wrote " << count << " scenes of split seed " << seed << " to " << outDir.string()
              << " (PNGs, questions.jsonl, questions.csv)\n";
    return 0;
}

// The model options with --seed renamed --weights-seed: eval's --seed picks the split.
std::vector<OptionSpec> evalOptions() {
    auto all = withModel(withMethod({
        {"task", "NAME", "shapes", "the built-in task (shapes)"},
        {"seed", "S", "3", "split seed of the test scenes (the bundled model trained on 1, validated on 2)"},
        {"n", "N", "500", "examples (samples 0..N-1 of the split)"},
        {"batch", "N", "32", "examples per forward pass (the same for every method)"},
        {"passes", "N", "1", "timed passes per configuration; examples/s from the fastest (busy machines; a sweep takes them in turns)"},
        {"image-size", "PX", "", "side of the scenes (default: the model's image_size, as training draws them)"},
        {"json", "", "", "print one JSON object (a JSON array of rows with --sweep)"},
        {"sweep", "", "", "every method over its knob range: writes sweep.csv and sweep.png into --out"},
        {"sweep-methods", "LIST", "", "--sweep: only these methods (comma-separated; none is always run)"},
        {"out", "DIR", "sweep", "--sweep: output folder (created)"},
    }));
    const auto datasets = datasetEvalOptions();
    all.insert(all.end(), datasets.begin(), datasets.end());
    // withModel puts the model's options first: the first --seed is the weights'.
    const auto weights = std::find_if(all.begin(), all.end(), [](const OptionSpec& spec) { return spec.name == "seed"; });
    if (weights != all.end()) weights->name = "weights-seed";
    return all;
}

}  // namespace

std::vector<Command> taskCommands() {
    return {
        {"eval", "accuracy, throughput and agreement on a built-in task under a method, a sweep of every method, or one "
                 "shard of a dataset in its own layout (--dataset; resumable, merged by eval-merge)",
         evalOptions(), runEval},
        {"shapes", "write Shapes VQA scenes as PNGs with questions.jsonl and questions.csv",
         {{"seed", "S", "3", "split seed"},
          {"n", "N", "16", "scenes to write"},
          {"first", "I", "0", "index of the first scene"},
          {"out", "DIR", "", "output folder (created)"},
          {"image-size", "PX", std::to_string(shapes::ShapesOptions{}.imageSize), "side of the square scenes"},
          {"no-clutter", "", "", "plain backgrounds (no texture, lines or specks)"},
          {"layout", "plain|vqav2", "plain", "plain: PNGs, questions.jsonl (eval --dataset plain reads it) and questions.csv; "
                                             "vqav2: COCO-named JPEGs with VQAv2's questions and annotations files"}},
         runShapes},
    };
}

}  // namespace tokenscope::cli

#else

namespace tokenscope::cli {

// Built without the GUI (no OpenCV to draw the scenes): no task commands.
std::vector<Command> taskCommands() { return {}; }

}  // namespace tokenscope::cli

#endif
