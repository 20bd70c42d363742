#include "tasks/datasets/jsonl_datasets.h"

#include "common/error.h"

#include <tuple>
#include <unordered_set>

namespace tokenscope::datasets {
namespace {

std::string lineName(const JsonLine& line) { return "line " + std::to_string(line.number); }

// An id must be unique in its file: later duplicates are reported and left out.
void requireUnique(std::unordered_set<std::string>& seen, const std::string& key, const std::string& id) {
    if (!seen.insert(id).second) throw ItemProblem("'" + key + "' " + id + " is already used by an earlier line");
}

template <typename Dataset>
void throwIfNothingRead(const Dataset& dataset, std::size_t items, const std::string& path) {
    if (items == 0 && !dataset.errors.empty())
        throw Error(path + ": no item could be read (" + dataset.errors.front().item + ": " + dataset.errors.front().message + ")");
}

}  // namespace

PopeDataset readPope(const std::string& path) {
    PopeDataset dataset;
    dataset.path = path;
    std::unordered_set<std::string> seen;
    for (const auto& line : readJsonLines(path, "POPE file", dataset.errors)) {
        try {
            PopeQuestion question;
            question.questionId = idField(line.object, "question_id");
            question.image = stringField(line.object, "image");
            question.text = stringField(line.object, "text");
            question.label = optionalStringField(line.object, "label");
            question.category = optionalStringField(line.object, "category").value_or("");
            requireUnique(seen, "question_id", question.questionId);
            dataset.questions.push_back(std::move(question));
        } catch (const ItemProblem& e) {
            dataset.errors.push_back({path, lineName(line), e.what(), true});
        }
    }
    throwIfNothingRead(dataset, dataset.questions.size(), path);
    return dataset;
}

std::pair<std::string, std::string> nlvr2ImageFiles(const std::string& identifier) {
    std::vector<std::string> parts;
    std::size_t begin = 0;
    while (true) {
        const auto end = identifier.find('-', begin);
        parts.push_back(identifier.substr(begin, end - begin));
        if (end == std::string::npos) break;
        begin = end + 1;
    }
    if (parts.size() != 4)
        throw ItemProblem("identifier '" + identifier + "' is not split-set_id-pair_id-sentence_id");
    for (const auto& part : parts)
        if (part.empty()) throw ItemProblem("identifier '" + identifier + "' has an empty part");
    const std::string pair = parts[0] + "-" + parts[1] + "-" + parts[2];
    return {pair + "-img0.png", pair + "-img1.png"};
}

Nlvr2Dataset readNlvr2(const std::string& path) {
    Nlvr2Dataset dataset;
    dataset.path = path;
    std::unordered_set<std::string> seen;
    for (const auto& line : readJsonLines(path, "NLVR2 file", dataset.errors)) {
        try {
            Nlvr2Example example;
            example.identifier = stringField(line.object, "identifier");
            example.split = example.identifier.substr(0, example.identifier.find('-'));
            example.sentence = stringField(line.object, "sentence");
            const auto& label = field(line.object, "label");
            if (label.is_boolean()) {
                example.label = label.get<bool>() ? "True" : "False";
            } else if (label.is_string()) {
                example.label = label.get<std::string>();
            } else {
                throw ItemProblem("'label' is neither \"True\"/\"False\" nor a boolean");
            }
            std::tie(example.leftImage, example.rightImage) = nlvr2ImageFiles(example.identifier);
            requireUnique(seen, "identifier", example.identifier);
            dataset.examples.push_back(std::move(example));
        } catch (const ItemProblem& e) {
            dataset.errors.push_back({path, lineName(line), e.what(), true});
        }
    }
    throwIfNothingRead(dataset, dataset.examples.size(), path);
    return dataset;
}

PlainDataset readPlainJsonl(const std::string& path) {
    PlainDataset dataset;
    dataset.path = path;
    std::unordered_set<std::string> seen;
    for (const auto& line : readJsonLines(path, "questions file", dataset.errors)) {
        try {
            PlainQuestion question;
            question.id = line.object.contains("id") ? idField(line.object, "id") : std::to_string(line.number);
            question.image = stringField(line.object, "image");
            question.question = stringField(line.object, "question");
            if (const auto it = line.object.find("answers"); it != line.object.end() && !it->is_null()) {
                if (it->is_string()) {
                    question.answers.push_back(it->get<std::string>());
                } else if (it->is_array()) {
                    for (std::size_t k = 0; k < it->size(); ++k) {
                        if (!(*it)[k].is_string()) throw ItemProblem("answers[" + std::to_string(k) + "] is not a string");
                        question.answers.push_back((*it)[k].get<std::string>());
                    }
                } else {
                    throw ItemProblem("'answers' is neither a string nor a list of strings");
                }
            }
            requireUnique(seen, "id", question.id);
            dataset.questions.push_back(std::move(question));
        } catch (const ItemProblem& e) {
            dataset.errors.push_back({path, lineName(line), e.what(), true});
        }
    }
    throwIfNothingRead(dataset, dataset.questions.size(), path);
    return dataset;
}

}  // namespace tokenscope::datasets
