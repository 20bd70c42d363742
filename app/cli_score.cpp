// tokenscope-cli score: a predictions file scored against a dataset's own files with the dataset's
// official metric (tasks/metrics: VQAv2's vqaEval.py, LLaVA's TextVQA / GQA / POPE evaluations,
// NLVR2's metrics.py, reproduced bit for bit). Torch is not touched. Output: the lines the
// official tool prints (text), one JSON object (json) or one row per number (csv); warnings about
// items that could not be read or matched on stderr.

#include "cli_common.h"

#include "common/error.h"
#include "tasks/datasets/jsonl_datasets.h"
#include "tasks/datasets/predictions.h"
#include "tasks/datasets/vqa_datasets.h"
#include "tasks/metrics/gqa_metrics.h"
#include "tasks/metrics/nlvr2_metrics.h"
#include "tasks/metrics/pope_metrics.h"
#include "tasks/metrics/python_text.h"
#include "tasks/metrics/vqa_metrics.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

namespace tokenscope::cli {
namespace {

namespace fs = std::filesystem;
using datasets::ItemError;
using metrics::Coverage;
using Json = nlohmann::ordered_json;

constexpr std::size_t kWarningsShown = 10;

// What one dataset's scoring hands to the printer.
struct Report {
    std::string text;                                // the official tool's lines
    Json json = Json::object();
    std::vector<std::vector<std::string>> csvRows;   // metric, group, value, questions
    std::vector<std::string> perQuestionHeader;
    std::vector<std::vector<std::string>> perQuestionRows;
    std::vector<ItemError> warnings;
    std::size_t scored = 0;
};

std::string csvField(const std::string& text) {
    if (text.find_first_of(",\"\n\r") == std::string::npos && (text.empty() || (text.front() != ' ' && text.back() != ' ')))
        return text;
    std::string out = "\"";
    for (char c : text) out += c == '"' ? std::string("\"\"") : std::string(1, c);
    return out + "\"";
}

std::string csvLine(const std::vector<std::string>& fields) {
    std::string line;
    for (std::size_t i = 0; i < fields.size(); ++i) line += (i ? "," : "") + csvField(fields[i]);
    return line + "\n";
}

void append(std::vector<ItemError>& to, const std::vector<ItemError>& from) { to.insert(to.end(), from.begin(), from.end()); }

Json coverageJson(const Coverage& coverage) {
    return Json{{"questions", coverage.questions},
                {"scored", coverage.scored},
                {"without_prediction", coverage.withoutPrediction},
                {"unmatched_predictions", coverage.unmatched},
                {"duplicate_predictions", coverage.duplicates}};
}

// A coverage line for stderr when part of the dataset was not predicted.
void noteCoverage(const Coverage& coverage, const std::string& what, std::vector<ItemError>& warnings, const std::string& file) {
    if (!coverage.withoutPrediction) return;
    warnings.push_back({file, what,
                        std::to_string(coverage.withoutPrediction) + " of " + std::to_string(coverage.questions) +
                            " have no prediction and are left out of the scores (the official tool wants them all)",
                        false});
}

// textvqa, gqa, nlvr2: the one dataset file, given as --annotations or --questions.
std::string datasetFile(const Arguments& args, const std::string& what) {
    if (args.has("annotations") && args.has("questions") && args.value("annotations") != args.value("questions"))
        throw UsageError(what + " is one file: give it as --annotations (or --questions), not two different files");
    if (args.has("annotations")) return args.value("annotations");
    if (args.has("questions")) return args.value("questions");
    throw UsageError("--annotations is required: " + what);
}

Report scoreVqaV2(const Arguments& args, const datasets::PredictionFile& predictions) {
    if (!args.has("annotations")) throw UsageError("--annotations is required for vqav2 (v2_mscoco_<split>_annotations.json)");
    const auto dataset = datasets::readVqaV2(args.has("questions") ? args.value("questions") : "", args.value("annotations"));
    auto score = metrics::scoreVqaV2(dataset, predictions);
    const auto& accuracy = score.accuracy;
    Report report;
    append(report.warnings, dataset.errors);
    append(report.warnings, score.coverage.errors);
    noteCoverage(score.coverage, "questions", report.warnings, args.value("annotations"));
    report.scored = score.coverage.scored;
    const auto percent = metrics::formatVqaPercent;

    std::ostringstream text;
    text << "Overall Accuracy is: " << percent(accuracy.overall) << "\n\n";
    text << "Per Question Type Accuracy is the following:\n";
    for (const auto& [type, value] : accuracy.perQuestionType) text << type << " : " << percent(value) << "\n";
    text << "\n\nPer Answer Type Accuracy is the following:\n";
    for (const auto& [type, value] : accuracy.perAnswerType) text << type << " : " << percent(value) << "\n";
    report.text = text.str();

    auto& json = report.json;
    json["metric"] = "VQA accuracy in percent, rounded to 2 places (GT-Vision-Lab/VQA vqaEval.py)";
    json["llava_submission_processing"] = score.llavaProcessed;
    json["coverage"] = coverageJson(score.coverage);
    json["overall"] = accuracy.overall;
    Json perAnswerType = Json::object(), perQuestionType = Json::object();
    for (const auto& [type, value] : accuracy.perAnswerType)
        perAnswerType[type] = {{"accuracy", value}, {"questions", accuracy.answerTypeCounts.at(type)}};
    for (const auto& [type, value] : accuracy.perQuestionType)
        perQuestionType[type] = {{"accuracy", value}, {"questions", accuracy.questionTypeCounts.at(type)}};
    json["per_answer_type"] = perAnswerType;
    json["per_question_type"] = perQuestionType;

    report.csvRows.push_back({"accuracy", "overall", percent(accuracy.overall), std::to_string(accuracy.questions)});
    for (const auto& [type, value] : accuracy.perAnswerType)
        report.csvRows.push_back({"accuracy", "answer_type=" + type, percent(value), std::to_string(accuracy.answerTypeCounts.at(type))});
    for (const auto& [type, value] : accuracy.perQuestionType)
        report.csvRows.push_back({"accuracy", "question_type=" + type, percent(value), std::to_string(accuracy.questionTypeCounts.at(type))});

    report.perQuestionHeader = {"question_id", "answer_type", "question_type", "prediction", "compared_as", "accuracy"};
    for (const auto& q : accuracy.perQuestion)
        report.perQuestionRows.push_back({q.questionId, q.answerType, q.questionType, q.prediction, q.result.prediction, percent(q.result.percent)});
    return report;
}

Report scoreTextVqa(const Arguments& args, const datasets::PredictionFile& predictions) {
    const std::string file = datasetFile(args, "TextVQA_0.5.1_val.json for textvqa");
    const auto dataset = datasets::readTextVqa(file);
    const auto score = metrics::scoreTextVqa(dataset, predictions);
    Report report;
    append(report.warnings, dataset.errors);
    append(report.warnings, score.coverage.errors);
    noteCoverage(score.coverage, "questions", report.warnings, file);
    report.scored = score.coverage.scored;
    const std::string printed = metrics::formatTextVqaPercent(score.accuracy);
    report.text = "Samples: " + std::to_string(score.perQuestion.size()) + "\nAccuracy: " + printed + "%\n";
    report.json["metric"] = "TextVQA accuracy, a fraction (LLaVA llava/eval/eval_textvqa.py with m4c_evaluator.py)";
    report.json["matched_by"] = score.matchedByPrompt ? "image id and the prompt's question (eval_textvqa.py)" : "question id";
    report.json["coverage"] = coverageJson(score.coverage);
    report.json["accuracy"] = score.accuracy;
    report.json["accuracy_percent_printed"] = printed;
    report.csvRows.push_back({"accuracy_percent", "overall", printed, std::to_string(score.perQuestion.size())});
    report.perQuestionHeader = {"question_id", "prediction", "score"};
    for (const auto& q : score.perQuestion) report.perQuestionRows.push_back({q.questionId, q.prediction, metrics::python::repr(q.score)});
    return report;
}

Report scoreGqa(const Arguments& args, const datasets::PredictionFile& predictions) {
    const std::string file = datasetFile(args, "<split>_balanced_questions.json for gqa");
    const auto dataset = datasets::readGqa(file);
    const auto score = metrics::scoreGqa(dataset, predictions);
    Report report;
    append(report.warnings, dataset.errors);
    append(report.warnings, score.coverage.errors);
    noteCoverage(score.coverage, "balanced questions", report.warnings, file);
    report.scored = score.coverage.scored;
    const auto percent = metrics::formatGqaPercent;
    std::ostringstream text;
    text << "Binary: " << percent(score.binary) << "%\nOpen: " << percent(score.open) << "%\nAccuracy: " << percent(score.accuracy) << "%\n";
    const auto types = [&](const char* title, const std::map<std::string, metrics::GqaTypeAccuracy>& perType) {
        text << "\n" << title << ":\n";
        for (const auto& [type, value] : perType)
            text << "  " << type << ": " << percent(value.percent) << "% (" << value.questions << " questions)\n";
    };
    types("Accuracy / structural type", score.perStructuralType);
    types("Accuracy / semantic type", score.perSemanticType);
    report.text = text.str();

    auto& json = report.json;
    json["metric"] = "GQA accuracy in percent (LLaVA scripts/convert_gqa_for_eval.py, then GQA's eval.py)";
    json["llava_normalization"] = score.llavaNormalized;
    json["coverage"] = coverageJson(score.coverage);
    json["accuracy"] = score.accuracy;
    json["binary"] = {{"accuracy", score.binary}, {"questions", score.binaryQuestions}};
    json["open"] = {{"accuracy", score.open}, {"questions", score.openQuestions}};
    for (const auto& [key, perType] : {std::pair{"per_structural_type", &score.perStructuralType}, std::pair{"per_semantic_type", &score.perSemanticType}}) {
        Json object = Json::object();
        for (const auto& [type, value] : *perType) object[type] = {{"accuracy", value.percent}, {"questions", value.questions}};
        json[key] = object;
    }
    report.csvRows.push_back({"accuracy", "overall", percent(score.accuracy), std::to_string(score.coverage.scored)});
    report.csvRows.push_back({"accuracy", "binary", percent(score.binary), std::to_string(score.binaryQuestions)});
    report.csvRows.push_back({"accuracy", "open", percent(score.open), std::to_string(score.openQuestions)});
    for (const auto& [type, value] : score.perStructuralType)
        report.csvRows.push_back({"accuracy", "structural=" + type, percent(value.percent), std::to_string(value.questions)});
    for (const auto& [type, value] : score.perSemanticType)
        report.csvRows.push_back({"accuracy", "semantic=" + type, percent(value.percent), std::to_string(value.questions)});
    report.perQuestionHeader = {"question_id", "prediction", "compared_as", "correct", "structural_type", "semantic_type"};
    for (const auto& q : score.perQuestion)
        report.perQuestionRows.push_back({q.questionId, q.prediction, q.compared, q.correct ? "1" : "0", q.structuralType, q.semanticType});
    return report;
}

// The label files: one coco_pope_<category>.json, or every such file of a folder.
std::vector<std::string> popeLabelFiles(const std::string& annotations) {
    if (!fs::is_directory(annotations)) return {annotations};
    std::vector<std::string> files;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(annotations, ec)) {
        const std::string path = entry.path().string();
        if (!metrics::popeCategoryFromFileName(path).empty()) files.push_back(path);
    }
    if (ec) throw Error(annotations + ": cannot list the folder: " + ec.message());
    if (files.empty()) throw Error(annotations + ": no coco_pope_<category>.json label file in this folder");
    std::sort(files.begin(), files.end());
    return files;
}

Report scorePope(const Arguments& args, const datasets::PredictionFile& predictions) {
    if (!args.has("annotations"))
        throw UsageError("--annotations is required for pope: a label file (coco_pope_<category>.json) or a folder of them");
    const auto labelFiles = popeLabelFiles(args.value("annotations"));
    const bool byCategory = args.has("questions");
    if (labelFiles.size() > 1 && !byCategory)
        throw UsageError("a folder of POPE label files needs --questions (LLaVA's llava_pope_test.jsonl) to tell the categories' answers apart");
    datasets::PopeDataset questionFile;
    if (byCategory) questionFile = datasets::readPope(args.value("questions"));
    Report report;
    append(report.warnings, questionFile.errors);
    std::ostringstream text;
    Json categories = Json::array();
    report.perQuestionHeader = {"category", "question_id", "answer", "read_as", "label_question_id", "label"};
    bool selectionReported = false;
    for (const auto& labelFile : labelFiles) {
        const std::string category = metrics::popeCategoryFromFileName(labelFile);
        if (byCategory && category.empty())
            throw UsageError(labelFile + ": with --questions the label file must be named coco_pope_<category>.json");
        std::vector<ItemError> selectionErrors;
        const auto answers = byCategory ? metrics::popeCategoryAnswers(questionFile, predictions, category, selectionErrors)
                                        : predictions.predictions;
        if (!selectionReported) append(report.warnings, selectionErrors);  // the same for every category
        selectionReported = true;
        const auto labels = datasets::readPope(labelFile);
        append(report.warnings, labels.errors);
        if (answers.empty()) {
            report.warnings.push_back({predictions.path, "category " + category, "no answer belongs to it; not scored", true});
            continue;
        }
        const auto score = metrics::scorePope(labels, answers, predictions.path);
        append(report.warnings, score.coverage.errors);
        report.scored += score.coverage.scored;
        const auto& m = score.metrics;
        const auto value = [](double v, bool defined) { return defined ? metrics::popeFormat(v) : std::string("undefined"); };
        if (byCategory) text << "Category: " << category << ", # samples: " << answers.size() << "\n";
        text << "TP\tFP\tTN\tFN\t\n" << m.truePositive << "\t" << m.falsePositive << "\t" << m.trueNegative << "\t" << m.falseNegative << "\n";
        text << "Accuracy: " << metrics::popeFormat(m.accuracy) << "\n";
        text << "Precision: " << value(m.precision, m.precisionDefined) << (m.precisionDefined ? "" : " (no answer was read as yes; eval_pope.py divides by zero)") << "\n";
        text << "Recall: " << value(m.recall, m.recallDefined) << (m.recallDefined ? "" : " (no label is yes; eval_pope.py divides by zero)") << "\n";
        text << "F1 score: " << value(m.f1, m.f1Defined) << (m.f1Defined ? "" : " (eval_pope.py divides by zero)") << "\n";
        text << "Yes ratio: " << metrics::popeFormat(m.yesRatio) << "\n";
        text << metrics::popeSummaryLine(m) << "\n";
        if (byCategory) text << "====================================\n";
        const auto nullable = [](double v, bool defined) { return defined ? Json(v) : Json(nullptr); };
        categories.push_back({{"category", category.empty() ? "all" : category}, {"label_file", labelFile},
                              {"samples", answers.size()}, {"coverage", coverageJson(score.coverage)},
                              {"tp", m.truePositive}, {"fp", m.falsePositive}, {"tn", m.trueNegative}, {"fn", m.falseNegative},
                              {"accuracy", m.accuracy}, {"precision", nullable(m.precision, m.precisionDefined)},
                              {"recall", nullable(m.recall, m.recallDefined)}, {"f1", nullable(m.f1, m.f1Defined)},
                              {"yes_ratio", m.yesRatio}, {"summary", metrics::popeSummaryLine(m)}});
        const std::string group = "category=" + (category.empty() ? std::string("all") : category);
        const std::string pairs = std::to_string(score.coverage.scored);
        report.csvRows.push_back({"accuracy", group, metrics::popeFormat(m.accuracy), pairs});
        report.csvRows.push_back({"precision", group, value(m.precision, m.precisionDefined), pairs});
        report.csvRows.push_back({"recall", group, value(m.recall, m.recallDefined), pairs});
        report.csvRows.push_back({"f1", group, value(m.f1, m.f1Defined), pairs});
        report.csvRows.push_back({"yes_ratio", group, metrics::popeFormat(m.yesRatio), std::to_string(answers.size())});
        for (const auto& a : score.perAnswer)
            report.perQuestionRows.push_back({category, a.questionId, a.answer, a.answerIsNo ? "no" : "yes", a.hasLabel ? a.labelQuestionId : "",
                                              a.hasLabel ? (a.labelIsNo ? "no" : "yes") : ""});
    }
    report.text = text.str();
    report.json["metric"] = "POPE accuracy, precision, recall, F1 and yes ratio as fractions (LLaVA llava/eval/eval_pope.py); "
                            "answers paired with labels by position";
    report.json["categories"] = categories;
    return report;
}

Report scoreNlvr2(const Arguments& args, const datasets::PredictionFile& predictions) {
    const std::string file = datasetFile(args, "the NLVR2 split file (dev.json, test1.json) for nlvr2");
    const auto dataset = datasets::readNlvr2(file);
    const auto score = metrics::scoreNlvr2(dataset, predictions);
    Report report;
    append(report.warnings, dataset.errors);
    append(report.warnings, score.coverage.errors);
    noteCoverage(score.coverage, "examples", report.warnings, file);
    report.scored = score.coverage.scored;
    const std::string accuracy = metrics::python::repr(score.accuracy), consistency = metrics::python::repr(score.consistency);
    report.text = "accuracy=" + accuracy + "\nconsistency=" + consistency + "\n";
    report.json["metric"] = "NLVR2 accuracy and consistency as fractions (lil-lab/nlvr nlvr2/eval/metrics.py)";
    report.json["coverage"] = coverageJson(score.coverage);
    report.json["accuracy"] = score.accuracy;
    report.json["consistency"] = score.consistency;
    report.json["correct"] = score.correct;
    report.json["sentences"] = score.sentences;
    report.json["consistent_sentences"] = score.consistentSentences;
    report.csvRows.push_back({"accuracy", "overall", accuracy, std::to_string(score.coverage.scored)});
    report.csvRows.push_back({"consistency", "overall", consistency, std::to_string(score.sentences)});
    report.perQuestionHeader = {"identifier", "prediction", "correct"};
    for (const auto& e : score.perExample) report.perQuestionRows.push_back({e.identifier, e.prediction, e.correct ? "1" : "0"});
    return report;
}

int runScoreTo(const Arguments& args, std::ostream& out) {
    const std::string dataset = args.require("dataset");
    const std::string format = args.value("format");
    if (format != "text" && format != "json" && format != "csv") throw UsageError("--format must be text, json or csv, not '" + format + "'");
    const std::map<std::string, Report (*)(const Arguments&, const datasets::PredictionFile&)> scorers{
        {"vqav2", scoreVqaV2}, {"textvqa", scoreTextVqa}, {"gqa", scoreGqa}, {"pope", scorePope}, {"nlvr2", scoreNlvr2}};
    const auto scorer = scorers.find(dataset);
    if (scorer == scorers.end()) throw UsageError("--dataset must be vqav2, textvqa, gqa, pope or nlvr2, not '" + dataset + "'");
    const auto predictions = datasets::readPredictions(args.require("predictions"));
    Report report = scorer->second(args, predictions);
    std::vector<ItemError> warnings = predictions.errors;
    append(warnings, report.warnings);
    for (std::size_t i = 0; i < warnings.size() && i < kWarningsShown; ++i) std::cerr << "warning: " << warnings[i].text() << "\n";
    if (warnings.size() > kWarningsShown) std::cerr << "warning: ... and " << warnings.size() - kWarningsShown << " more\n";
    if (report.scored == 0) throw Error(predictions.path + ": no prediction matches a question of the dataset; nothing was scored");

    if (args.has("per-question")) {
        const std::string path = args.value("per-question");
        std::ofstream out(path, std::ios::binary);
        out << csvLine(report.perQuestionHeader);
        for (const auto& row : report.perQuestionRows) out << csvLine(row);
        if (!out) throw Error(path + ": cannot write the per-question scores");
    }
    if (format == "json") {
        Json json;
        json["dataset"] = dataset;
        json["predictions"] = predictions.path;
        json["prediction_format"] = datasets::predictionFormatName(predictions.format);
        for (auto& [key, value] : report.json.items()) json[key] = value;
        json["warnings"] = warnings.size();
        out << json.dump(2) << "\n";
    } else if (format == "csv") {
        out << "dataset,metric,group,value,questions\n";
        for (auto row : report.csvRows) {
            row.insert(row.begin(), dataset);
            out << csvLine(row);
        }
    } else {
        out << report.text;
    }
    return 0;
}

int runScore(const Arguments& args) { return runScoreTo(args, std::cout); }

}  // namespace

int scoreTo(const Arguments& scoreArguments, std::ostream& out) { return runScoreTo(scoreArguments, out); }

std::vector<OptionSpec> scoreOptions() {
    return {{"dataset", "NAME", "", "vqav2 | textvqa | gqa | pope | nlvr2"},
              {"predictions", "FILE", "", "VQAv2 submission JSON, GQA submission JSON, LLaVA answers JSONL or NLVR2 CSV"},
              {"questions", "FILE", "", "vqav2: v2_OpenEnded_mscoco_<split>_questions.json (optional); pope: LLaVA's llava_pope_test.jsonl "
                                        "(answers split by category); textvqa, gqa, nlvr2: the dataset file, as --annotations"},
              {"annotations", "FILE", "", "vqav2: v2_mscoco_<split>_annotations.json; textvqa: TextVQA_0.5.1_val.json; "
                                          "gqa: <split>_balanced_questions.json; pope: coco_pope_<category>.json or a folder of them; "
                                          "nlvr2: dev.json / test1.json"},
              {"format", "text|json|csv", "text", "text: the lines the official tool prints"},
              {"per-question", "FILE", "", "also write each question's score as CSV"}};
}

std::vector<Command> scoreCommands() {
    return {{"score", "score a predictions file with a dataset's official metric (VQAv2, TextVQA, GQA, POPE, NLVR2)",
             scoreOptions(), runScore}};
}

}  // namespace tokenscope::cli
