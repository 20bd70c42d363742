// tokenscope-cli: evaluation on the datasets users have (tasks/eval/dataset_eval.h). `eval --dataset`
// answers one shard of a dataset under a method into a resumable JSON Lines file; `eval-merge`
// combines the shards of one evaluation and scores them with the dataset's official metric (the
// `score` command's code).

#include "cli_common.h"

#ifdef TOKENSCOPE_HAS_EVAL

#include <glob.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <limits>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "methods/method_json.h"
#include "methods/method_registry.h"
#include "tasks/eval/answer_changes.h"
#include "tasks/eval/dataset_eval.h"
#include "tasks/eval/sweep_table.h"

namespace tokenscope::cli {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;
using namespace evaluation;

void progressLine(std::size_t done, std::size_t total, double eta) {
    if (!isatty(STDERR_FILENO)) return;
    std::fprintf(stderr, "\r\033[K%zu / %zu  ETA %.0f s", done, total, eta);
    if (done >= total) std::fprintf(stderr, "\r\033[K");
}

// Files named by --in: each a path or a glob pattern (quote it so the shell leaves it).
std::vector<std::string> expandInputs(const std::vector<std::string>& patterns) {
    std::vector<std::string> files;
    for (const auto& pattern : patterns) {
        if (pattern.find_first_of("*?[") == std::string::npos) {
            files.push_back(pattern);
            continue;
        }
        glob_t found{};
        const int rc = ::glob(pattern.c_str(), 0, nullptr, &found);
        if (rc == 0)
            for (std::size_t i = 0; i < found.gl_pathc; ++i) files.emplace_back(found.gl_pathv[i]);
        globfree(&found);
        if (rc != 0) throw Error("--in '" + pattern + "': no file matches");
    }
    return files;
}

bool isInteger(const std::string& text) {
    return !text.empty() && text.size() < 19 && text.find_first_not_of("0123456789") == std::string::npos;
}

// The merged answers in the file format the dataset's scorer reads as its own tool would: VQAv2
// and GQA submissions for label models (scored as they are), LLaVA answers JSONL for generated
// answers (VQAv2: with LLaVA's submission processing, as LLaVA's scripts do) and for TextVQA and
// POPE, NLVR2's CSV.
// Returns the file written: PREFIX.predictions.json (submissions), .jsonl (LLaVA answers) or .csv (NLVR2).
std::string writePredictions(const MergedEval& merged, bool generated, const std::string& prefix) {
    const std::string& dataset = merged.identity.dataset;
    const bool submission = (dataset == "vqav2" || dataset == "gqa") && !generated;
    const std::string path = prefix + ".predictions." + (dataset == "nlvr2" ? "csv" : submission ? "json" : "jsonl");
    std::ofstream out(path, std::ios::binary);
    if (!out) throw Error(path + ": cannot be written");
    std::vector<const Json*> answered;
    for (const auto& record : merged.records)
        if (record.contains("text")) answered.push_back(&record);
    if (dataset == "nlvr2") {
        for (const auto* r : answered) out << r->at("question_id").get<std::string>() << "," << r->at("text").get<std::string>() << "\n";
    } else if (submission) {
        Json list = Json::array();
        for (const auto* r : answered) {
            const auto id = r->at("question_id").get<std::string>();
            if (dataset == "vqav2")
                list.push_back({{"question_id", isInteger(id) ? Json(std::stoll(id)) : Json(id)}, {"answer", r->at("text")}});
            else
                list.push_back({{"questionId", id}, {"prediction", r->at("text")}});
        }
        out << list.dump() << "\n";
    } else {
        for (const auto* r : answered) {
            const auto id = r->at("question_id").get<std::string>();
            out << Json{{"question_id", isInteger(id) ? Json(std::stoll(id)) : Json(id)}, {"text", r->at("text")}}.dump() << "\n";
        }
    }
    if (!out.flush()) throw Error(path + ": cannot be written");
    return path;
}

// The plain layout has no official scorer: the fraction of answered items whose prediction equals
// one of the answers after VQA's answer processing (the records' scores).
Json plainMetrics(const MergedEval& merged) {
    std::size_t scored = 0;
    double sum = 0;
    for (const auto& r : merged.records)
        if (r.contains("score") && r.at("score").is_number()) {
            ++scored;
            sum += r.at("score").get<double>();
        }
    return Json{{"metric", "exact match after VQA answer processing (any of the item's answers)"},
                {"accuracy", scored ? sum / double(scored) : 0.0},
                {"scored", scored}};
}

// The merged evaluation as a row of the Trade-off chart's sweep.csv (tasks/eval/sweep_table.h):
// accuracy overall or of one answer type / category (--group), examples/s from the records' own
// preprocess and forward times, agreement with a baseline's answers. A row of the same settings
// is replaced; speed-ups are recomputed against the file's unreduced row.
void addSweepRow(const Arguments& args, const MergedEval& merged, const Json& metrics) {
    const std::string path = args.value("sweep"), group = args.value("group");
    SweepRow row;
    const MethodSettings method = methodSettingsFromJson(merged.identity.method);
    row.method = method.method();
    row.settings = describe(method) + (group.empty() ? "" : " [" + group + "]");
    double ms = 0, accuracy = 0;
    std::size_t timed = 0, scored = 0;
    for (const auto& r : merged.records) {
        if (!r.contains("text") || (!group.empty() && r.value("group", "") != group)) continue;
        if (r.contains("latency_ms")) {
            ms += r.at("latency_ms").get<double>() + r.value("preprocess_ms", 0.0);
            ++timed;
        }
        if (r.contains("score") && r.at("score").is_number()) {
            accuracy += r.at("score").get<double>();
            ++scored;
        }
    }
    if (scored == 0) throw Error("--sweep: no scored question" + (group.empty() ? std::string() : " of group '" + group + "'"));
    // The official overall figure where there is one (VQA accuracy is percent), else the records' mean.
    row.accuracy = accuracy / double(scored);
    if (group.empty() && metrics.is_object() && metrics.contains("overall") && metrics.at("overall").is_number())
        row.accuracy = metrics.at("overall").get<double>() / 100.0;
    else if (group.empty() && metrics.is_object() && metrics.contains("accuracy") && metrics.at("accuracy").is_number())
        row.accuracy = metrics.at("accuracy").get<double>() / (merged.identity.dataset == "gqa" ? 100.0 : 1.0);
    row.examplesPerSecond = timed && ms > 0 ? 1000.0 * double(timed) / ms : 0;
    row.examples = static_cast<int64_t>(scored);
    row.agreement = std::numeric_limits<double>::quiet_NaN();
    if (args.has("baseline")) {
        const auto c = compareAnswers({args.value("out") + ".jsonl"},
                                      expandInputs(args.values("baseline")));
        std::size_t same = 0, paired = 0;
        for (const auto& item : c.items)
            if (group.empty() || item.group == group) {
                ++paired;
                same += item.methodAnswer == item.baselineAnswer;
            }
        if (paired) row.agreement = double(same) / double(paired);
    }
    std::vector<SweepRow> rows;
    std::error_code ec;
    if (fs::exists(path, ec)) rows = readSweepCsv(path);
    rows.erase(std::remove_if(rows.begin(), rows.end(), [&](const SweepRow& r) { return r.settings == row.settings; }), rows.end());
    rows.push_back(row);
    const auto none = std::find_if(rows.begin(), rows.end(), [](const SweepRow& r) { return r.method == "none"; });
    for (auto& r : rows) r.speedup = none != rows.end() && none->examplesPerSecond > 0 ? r.examplesPerSecond / none->examplesPerSecond : 1.0;
    writeSweepCsv(path, rows);
    std::cerr << "sweep: " << path << " (" << rows.size() << " configurations" << (none == rows.end() ? "; no unreduced row yet, speed-ups are 1" : "")
              << ")\n";
}

int runMerge(const Arguments& args) {
    const auto files = expandInputs(args.values("in"));
    if (files.empty()) throw UsageError("--in is required: the shard files (a glob pattern in quotes is fine)");
    const std::string prefix = args.require("out");
    const auto merged = mergeShards(files);
    for (const auto& w : merged.warnings) std::cerr << "warning: " << w.text() << "\n";
    bool generated = false;
    std::size_t errors = 0;
    double latency = 0;
    std::size_t timed = 0;
    for (const auto& r : merged.records) {
        if (r.contains("error")) ++errors;
        if (r.value("answered_by", "") == "generation") generated = true;
        if (r.contains("latency_ms")) {
            latency += r.at("latency_ms").get<double>();
            ++timed;
        }
    }
    // The merged records, one file: the header of the whole evaluation, then every item.
    {
        const std::string path = prefix + ".jsonl";
        std::ofstream out(path, std::ios::binary);
        Json header = merged.identity.toJson();
        header["merged_from"] = files;
        out << header.dump() << "\n";
        for (const auto& r : merged.records) out << r.dump() << "\n";
        if (!out.flush()) throw Error(path + ": cannot be written");
    }
    const std::string& dataset = merged.identity.dataset;
    Json summary{{"dataset", dataset},
                 {"model", merged.identity.model},
                 {"method", merged.identity.method},
                 {"model_settings", merged.identity.modelSettings},
                 {"shards", merged.shardCount},
                 {"shards_seen", merged.shardsSeen},
                 {"records", merged.records.size()},
                 {"errors", errors},
                 {"mean_latency_ms", timed ? latency / double(timed) : 0.0}};
    std::cerr << merged.records.size() << " items from " << files.size() << " file(s) of " << merged.shardCount
              << " shard(s); " << errors << " with errors\n";
    std::function<void(std::ostream&)> scoreText;
    const bool unscored = dataset == "vqav2" && merged.identity.annotations.empty();
    if (dataset == "plain") {
        summary["metrics"] = plainMetrics(merged);
    } else if (unscored) {
        // test-dev: no annotations here; the evaluation server scores the submission file.
        const std::string predictions = writePredictions(merged, generated, prefix);
        summary["metrics"] = nullptr;
        summary["predictions"] = predictions;
        scoreText = [predictions](std::ostream& out) {
            out << "no annotations (test-dev): submit " << predictions << " to the VQAv2 evaluation server\n";
        };
    } else {
        const std::string predictions = writePredictions(merged, generated, prefix);
        // The score command on the merged predictions, with the dataset files the shards read.
        const auto scoreWith = [&merged, &dataset, predictions](const std::string& format, std::ostream& out) {
            std::vector<std::string> argv{"--dataset", dataset, "--predictions", predictions, "--format", format};
            const auto& id = merged.identity;
            if (dataset == "vqav2") {
                argv.insert(argv.end(), {"--annotations", id.annotations});
                if (!id.questions.empty()) argv.insert(argv.end(), {"--questions", id.questions});
            } else {
                argv.insert(argv.end(), {"--annotations", id.questions});
            }
            return scoreTo(Arguments(scoreOptions(), argv), out);
        };
        scoreText = [scoreWith](std::ostream& out) { scoreWith("text", out); };
        std::ostringstream json, csv;
        scoreWith("json", json);
        scoreWith("csv", csv);
        summary["metrics"] = Json::parse(json.str());
        summary["predictions"] = predictions;
        if (!(std::ofstream(prefix + ".metrics.csv", std::ios::binary) << csv.str()))
            throw Error(prefix + ".metrics.csv: cannot be written");
    }
    if (!(std::ofstream(prefix + ".metrics.json", std::ios::binary) << summary.dump(2) << "\n"))
        throw Error(prefix + ".metrics.json: cannot be written");
    if (args.has("sweep")) addSweepRow(args, merged, summary["metrics"]);
    if (args.value("format") == "json") {
        std::cout << summary.dump(2) << "\n";
    } else if (dataset == "plain") {
        std::cout << "accuracy " << summary["metrics"]["accuracy"].get<double>() << " (" << summary["metrics"]["scored"] << " scored)\n";
    } else {
        scoreText(std::cout);  // what the official tool prints
    }
    std::cerr << "wrote " << prefix << ".jsonl, " << prefix << ".metrics.json"
              << (dataset == "plain" || unscored ? "" : ", " + prefix + ".metrics.csv") << "\n";
    return 0;
}

}  // namespace

std::vector<OptionSpec> datasetEvalOptions() {
    return {
        {"dataset", "NAME", "", "evaluate on a dataset in its own layout: vqav2 | textvqa | gqa | pope | nlvr2 | plain (instead of --task)"},
        {"questions", "FILE", "", "--dataset: vqav2: v2_OpenEnded_mscoco_<split>_questions.json; textvqa: TextVQA_0.5.1_val.json; "
                                  "gqa: <split>_balanced_questions.json; pope: coco_pope_<category>.json; nlvr2: dev.json; plain: a JSONL"},
        {"annotations", "FILE", "", "--dataset vqav2: v2_mscoco_<split>_annotations.json (without it nothing is scored: test-dev)"},
        {"images", "DIR", "", "--dataset: the image folder (default: the questions file's folder)"},
        {"shard", "I/N", "0/1", "--dataset: answer the items whose id hashes to I of N (stable under reordering)"},
        {"results", "FILE", "", "--dataset: the shard's JSON Lines results; an existing file of the same evaluation is resumed"},
        {"limit", "N", "0", "--dataset: at most N items of the shard (0: all)"},
        {"decode-threads", "N", "2", "--dataset: threads decoding images ahead of the model"},
        {"max-new-tokens", "N", "16", "--dataset with a generating model (LLaVA): answer length"},
        {"stop-after", "N", "0", "--dataset: stop after writing N records (to try resuming)"},
        {"per-layer", "", "", "--dataset: also record each question's tokens per layer and activation peak (label models: one more traced forward per question, outside its latency)"},
    };
}

int runDatasetEvaluation(const Arguments& args) {
    DatasetSource source;
    source.kind = parseDatasetKind(args.value("dataset"));
    if (args.has("questions")) source.questions = args.value("questions");
    if (args.has("annotations")) source.annotations = args.value("annotations");
    if (args.has("images")) source.images = args.value("images");
    const std::string resultsPath = args.require("results");
    const auto dataset = loadEvalDataset(source);
    for (std::size_t i = 0; i < dataset.errors.size() && i < 10; ++i) std::cerr << "warning: " << dataset.errors[i].text() << "\n";
    auto engine = openModel(args, "weights-seed");
    DatasetEvalOptions options;
    options.method = methodFromArgs(args, args.value("method"), methodTargetOf(*engine));
    options.shard = parseShard(args.value("shard"));
    options.batch = args.intValue("batch", 1, 4096);
    options.limit = static_cast<std::size_t>(args.intValue("limit", 0, 1 << 30));
    options.decodeThreads = args.intValue("decode-threads", 1, 64);
    options.maxNewTokens = args.intValue("max-new-tokens", 1, 4096);
    options.stopAfter = static_cast<std::size_t>(args.intValue("stop-after", 0, 1 << 30));
    options.perLayer = args.has("per-layer");
    options.decode = readImage;
    options.progress = progressLine;
    ShardFile out(resultsPath, identityOf(*engine, dataset, options.method, options.shard));
    if (out.wasResumed())
        std::cerr << "resuming " << resultsPath << ": " << out.doneCount() << " items already answered"
                  << (out.truncatedTail() ? " (an unfinished last line was cut off)" : "") << "\n";
    const auto stats = runDatasetEval(*engine, dataset, out, options);
    const Json report{{"dataset", datasetKindName(source.kind)},
                      {"results", resultsPath},
                      {"shard", args.value("shard")},
                      {"shard_items", stats.shardItems},
                      {"skipped_already_done", stats.skipped},
                      {"answered", stats.answered},
                      {"errors", stats.errors},
                      {"examples_per_s", stats.examplesPerSecond()},
                      {"model_seconds", stats.modelSeconds},
                      {"input_wait_seconds", stats.waitSeconds},
                      {"input_wait_fraction", stats.waitFraction()},
                      {"wall_seconds", stats.wallSeconds}};
    std::cout << report.dump(2) << "\n";
    return 0;
}

std::vector<Command> datasetEvalCommands() {
    return {{"eval-merge", "combine the shard files of one dataset evaluation and score them with the dataset's official metric",
             {{"in", "FILE", "", "a shard's results file, or a glob pattern in quotes (repeatable)", true},
              {"out", "PREFIX", "", "writes PREFIX.jsonl (all records), PREFIX.metrics.json and .metrics.csv, and the predictions file"},
              {"format", "text|json", "text", "what to print"},
              {"sweep", "FILE", "", "also add the result as a row of a sweep.csv for the window's Trade-off chart (accuracy against speed-up)"},
              {"group", "TYPE", "", "--sweep: the accuracy of one answer type / category (e.g. yes/no) instead of the overall one"},
              {"baseline", "FILE", "", "--sweep: the unreduced evaluation's results, for the agreement column (repeatable)", true}},
             runMerge}};
}

}  // namespace tokenscope::cli

#else

namespace tokenscope::cli {
std::vector<OptionSpec> datasetEvalOptions() { return {}; }
int runDatasetEvaluation(const Arguments&) { throw UsageError("this build has no image decoding, so it cannot evaluate on datasets"); }
std::vector<Command> datasetEvalCommands() { return {}; }
}  // namespace tokenscope::cli

#endif
