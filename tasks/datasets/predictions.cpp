#include "tasks/datasets/predictions.h"

#include "common/error.h"
#include "io/json_file.h"
#include "tasks/metrics/python_text.h"

namespace tokenscope::datasets {
namespace {

void readJsonList(PredictionFile& file) {
    const auto document = readJsonDocument(file.path, "predictions file");
    if (!document.is_array()) throw Error(file.path + ": not a JSON list of predictions");
    if (document.empty()) throw Error(file.path + ": the list of predictions is empty");
    // The first object that has either pair of keys decides the format.
    bool decided = false;
    for (const auto& item : document) {
        if (!item.is_object()) continue;
        if (item.contains("question_id") && item.contains("answer")) {
            file.format = PredictionFormat::VqaSubmission;
            decided = true;
        } else if (item.contains("questionId") && item.contains("prediction")) {
            file.format = PredictionFormat::GqaSubmission;
            decided = true;
        }
        if (decided) break;
    }
    if (!decided)
        throw Error(file.path + ": no item has \"question_id\" and \"answer\" (VQAv2 submission) or \"questionId\" and "
                                "\"prediction\" (GQA submission)");
    const bool isVqa = file.format == PredictionFormat::VqaSubmission;
    const char* idKey = isVqa ? "question_id" : "questionId";
    const char* answerKey = isVqa ? "answer" : "prediction";
    for (std::size_t i = 0; i < document.size(); ++i) {
        const std::string where = "item " + std::to_string(i);
        try {
            if (!document[i].is_object()) throw ItemProblem("is not a JSON object");
            file.predictions.push_back({idField(document[i], idKey), stringField(document[i], answerKey), std::nullopt, where});
        } catch (const ItemProblem& e) {
            file.errors.push_back({file.path, where, e.what(), true});
        }
    }
}

void readLlavaAnswers(PredictionFile& file) {
    file.format = PredictionFormat::LlavaAnswers;
    for (const auto& line : readJsonLines(file.path, "predictions file", file.errors)) {
        const std::string where = "line " + std::to_string(line.number);
        try {
            file.predictions.push_back({idField(line.object, "question_id"), stringField(line.object, "text"),
                                        optionalStringField(line.object, "prompt"), where});
        } catch (const ItemProblem& e) {
            file.errors.push_back({file.path, where, e.what(), true});
        }
    }
}

// metrics.py: splits = line.strip().split(","); identifier = splits[0]; prediction = splits[1].
void readNlvr2Csv(PredictionFile& file) {
    file.format = PredictionFormat::Nlvr2Csv;
    const std::string text = readTextFile(file.path, "predictions file");
    std::size_t number = 0, begin = 0;
    while (begin < text.size()) {
        std::size_t end = text.find('\n', begin);
        if (end == std::string::npos) end = text.size();
        namespace python = metrics::python;
        const std::string line = python::encodeUtf8(
            python::strip(python::decodeUtf8(std::string_view(text).substr(begin, end - begin)), python::Dialect::Python3));
        begin = end + 1;
        ++number;
        if (line.empty()) continue;
        const std::string where = "line " + std::to_string(number);
        const auto comma = line.find(',');
        if (comma == std::string::npos) {
            file.errors.push_back({file.path, where, "has no comma (expected identifier,prediction)", true});
            continue;
        }
        const auto next = line.find(',', comma + 1);
        const std::string identifier = line.substr(0, comma);
        const std::string prediction = line.substr(comma + 1, next == std::string::npos ? std::string::npos : next - comma - 1);
        if (file.predictions.empty() && file.errors.empty() && identifier == "identifier") continue;  // a header
        file.predictions.push_back({identifier, prediction, std::nullopt, where});
    }
    if (file.predictions.empty()) {
        if (file.errors.empty()) throw Error(file.path + ": no predictions");
        throw Error(file.path + ": not a predictions file (" + file.errors.front().item + ": " + file.errors.front().message + ")");
    }
}

}  // namespace

const char* predictionFormatName(PredictionFormat format) {
    switch (format) {
    case PredictionFormat::VqaSubmission: return "VQAv2 submission";
    case PredictionFormat::GqaSubmission: return "GQA submission";
    case PredictionFormat::LlavaAnswers: return "LLaVA answers";
    case PredictionFormat::Nlvr2Csv: return "NLVR2 CSV";
    }
    return "?";
}

PredictionFile readPredictions(const std::string& path) {
    PredictionFile file;
    file.path = path;
    const char first = firstSignificantCharacter(path, "predictions file");
    if (first == '\0') throw Error(path + ": empty predictions file");
    if (first == '[') {
        readJsonList(file);
    } else if (first == '{') {
        readLlavaAnswers(file);
    } else {
        readNlvr2Csv(file);
    }
    if (file.predictions.empty())
        throw Error(path + ": no prediction could be read (" + file.errors.front().item + ": " + file.errors.front().message + ")");
    return file;
}

}  // namespace tokenscope::datasets
