#include "tasks/datasets/vqa_datasets.h"

#include "common/error.h"

#include <cstdio>
#include <unordered_map>
#include <unordered_set>

namespace tokenscope::datasets {
namespace {

const nlohmann::json& topLevelList(const nlohmann::json& document, const char* key, const std::string& path) {
    if (!document.is_object()) throw Error(path + ": not a JSON object (expected {\"" + key + "\": [...]})");
    const auto it = document.find(key);
    if (it == document.end()) throw Error(path + ": no '" + key + "' list");
    if (!it->is_array()) throw Error(path + ": '" + key + "' is not a list");
    return *it;
}

std::string subtypeOf(const nlohmann::json& document) {
    const auto it = document.find("data_subtype");
    return it != document.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// "annotations[3] (question_id 42)" when the id can be read, else "annotations[3]".
std::string itemName(const char* list, std::size_t index, const nlohmann::json& item, const char* idKey) {
    std::string name = std::string(list) + "[" + std::to_string(index) + "]";
    if (item.is_object()) {
        const auto it = item.find(idKey);
        if (it != item.end() && (it->is_number_integer() || it->is_string()))
            name += std::string(" (") + idKey + " " + idText(*it) + ")";
    }
    return name;
}

void requireObject(const nlohmann::json& item) {
    if (!item.is_object()) throw ItemProblem("is not a JSON object");
}

std::vector<VqaAnswer> readVqaAnswers(const nlohmann::json& annotation) {
    const auto& list = field(annotation, "answers");
    if (!list.is_array()) throw ItemProblem("'answers' is not a list");
    if (list.empty()) throw ItemProblem("'answers' is empty (vqaEval.py divides by the number of answers)");
    std::vector<VqaAnswer> answers;
    for (std::size_t i = 0; i < list.size(); ++i) {
        try {
            requireObject(list[i]);
            VqaAnswer answer;
            answer.answer = stringField(list[i], "answer");
            answer.confidence = optionalStringField(list[i], "answer_confidence");
            if (list[i].contains("answer_id")) answer.answerId = integerField(list[i], "answer_id");
            answers.push_back(std::move(answer));
        } catch (const ItemProblem& e) {
            throw ItemProblem("answers[" + std::to_string(i) + "] " + e.what());
        }
    }
    return answers;
}

bool isKnownAnswerType(const std::string& type) { return type == "yes/no" || type == "number" || type == "other"; }

}  // namespace

std::string cocoImageFile(const std::string& dataSubtype, long long imageId) {
    if (dataSubtype.empty()) return {};
    const std::string folder = dataSubtype == "test-dev2015" ? "test2015" : dataSubtype;
    char digits[32];
    std::snprintf(digits, sizeof digits, "%012lld", imageId);
    return "COCO_" + folder + "_" + digits + ".jpg";
}

VqaV2Dataset readVqaV2(const std::string& questionsPath, const std::string& annotationsPath) {
    if (questionsPath.empty() && annotationsPath.empty()) throw Error("VQAv2: give a questions file, an annotations file or both");
    VqaV2Dataset dataset;
    dataset.questionsPath = questionsPath;
    dataset.annotationsPath = annotationsPath;
    // Questions first: they give the text and, for the test splits, the only list there is.
    std::vector<VqaV2Question> asked;
    std::unordered_map<std::string, std::size_t> askedById;
    if (!questionsPath.empty()) {
        const auto document = readJsonDocument(questionsPath, "VQAv2 questions file");
        const auto& list = topLevelList(document, "questions", questionsPath);
        dataset.dataSubtype = subtypeOf(document);
        for (std::size_t i = 0; i < list.size(); ++i) {
            const auto& item = list[i];
            try {
                requireObject(item);
                VqaV2Question question;
                question.questionId = idField(item, "question_id");
                question.imageId = integerField(item, "image_id");
                question.question = stringField(item, "question");
                if (!askedById.emplace(question.questionId, asked.size()).second)
                    throw ItemProblem("question_id " + question.questionId + " is already used by an earlier question");
                asked.push_back(std::move(question));
            } catch (const ItemProblem& e) {
                dataset.errors.push_back({questionsPath, itemName("questions", i, item, "question_id"), e.what(), true});
            }
        }
        if (asked.empty() && !list.empty())
            throw Error(questionsPath + ": no question could be read (" + dataset.errors.front().item + ": " + dataset.errors.front().message + ")");
    }
    if (annotationsPath.empty()) {
        dataset.questions = std::move(asked);
    } else {
        dataset.hasAnnotations = true;
        const auto document = readJsonDocument(annotationsPath, "VQAv2 annotations file");
        const auto& list = topLevelList(document, "annotations", annotationsPath);
        if (dataset.dataSubtype.empty()) dataset.dataSubtype = subtypeOf(document);
        std::unordered_set<std::string> annotated;
        for (std::size_t i = 0; i < list.size(); ++i) {
            const auto& item = list[i];
            const std::string where = itemName("annotations", i, item, "question_id");
            try {
                requireObject(item);
                VqaV2Question question;
                question.questionId = idField(item, "question_id");
                question.imageId = integerField(item, "image_id");
                question.questionType = stringField(item, "question_type");
                question.answerType = stringField(item, "answer_type");
                question.multipleChoiceAnswer = optionalStringField(item, "multiple_choice_answer").value_or("");
                question.answers = readVqaAnswers(item);
                if (!annotated.insert(question.questionId).second)
                    throw ItemProblem("question_id " + question.questionId + " is already annotated by an earlier item");
                if (!questionsPath.empty()) {
                    const auto it = askedById.find(question.questionId);
                    if (it == askedById.end()) {
                        dataset.errors.push_back({annotationsPath, where, "no question with this id in " + questionsPath, false});
                    } else {
                        question.question = asked[it->second].question;
                    }
                }
                if (!isKnownAnswerType(question.answerType))
                    dataset.errors.push_back({annotationsPath, where,
                                              "unknown answer_type '" + question.answerType +
                                                  "' (VQAv2 has yes/no, number, other); scored under its own name",
                                              false});
                dataset.questions.push_back(std::move(question));
            } catch (const ItemProblem& e) {
                dataset.errors.push_back({annotationsPath, where, e.what(), true});
            }
        }
        if (dataset.questions.empty() && !list.empty())
            throw Error(annotationsPath + ": no annotation could be read (" + dataset.errors.back().item + ": " + dataset.errors.back().message + ")");
        for (const auto& question : asked) {
            if (!annotated.count(question.questionId))
                dataset.errors.push_back({questionsPath, "question_id " + question.questionId,
                                          "no annotation in " + annotationsPath + "; not scored", true});
        }
    }
    for (auto& question : dataset.questions) question.imageFile = cocoImageFile(dataset.dataSubtype, question.imageId);
    return dataset;
}

TextVqaDataset readTextVqa(const std::string& path) {
    TextVqaDataset dataset;
    dataset.path = path;
    const auto document = readJsonDocument(path, "TextVQA file");
    const auto& list = topLevelList(document, "data", path);
    if (const auto it = document.find("dataset_version"); it != document.end() && it->is_string())
        dataset.version = it->get<std::string>();
    for (std::size_t i = 0; i < list.size(); ++i) {
        const auto& item = list[i];
        try {
            requireObject(item);
            TextVqaQuestion question;
            question.questionId = idField(item, "question_id");
            question.imageId = idField(item, "image_id");
            question.imageFile = question.imageId + ".jpg";
            question.question = stringField(item, "question");
            if (const auto it = item.find("answers"); it != item.end() && !it->is_null()) {
                if (!it->is_array()) throw ItemProblem("'answers' is not a list");
                for (std::size_t k = 0; k < it->size(); ++k) {
                    if (!(*it)[k].is_string()) throw ItemProblem("answers[" + std::to_string(k) + "] is not a string");
                    question.answers.push_back((*it)[k].get<std::string>());
                }
            }
            dataset.questions.push_back(std::move(question));
        } catch (const ItemProblem& e) {
            dataset.errors.push_back({path, itemName("data", i, item, "question_id"), e.what(), true});
        }
    }
    if (dataset.questions.empty() && !list.empty())
        throw Error(path + ": no question could be read (" + dataset.errors.front().item + ": " + dataset.errors.front().message + ")");
    return dataset;
}

GqaDataset readGqa(const std::string& path) {
    GqaDataset dataset;
    dataset.path = path;
    const auto document = readOrderedJsonDocument(path, "GQA questions file");
    if (!document.is_object())
        throw Error(path + ": not a JSON object (expected GQA's dictionary question id -> question)");
    for (const auto& [id, item] : document.items()) {
        try {
            if (!item.is_object()) throw ItemProblem("is not a JSON object");
            const nlohmann::json object(item);  // the field helpers take json, not ordered_json
            GqaQuestion question;
            question.questionId = id;
            question.imageId = idField(object, "imageId");
            question.imageFile = question.imageId + ".jpg";
            question.question = stringField(object, "question");
            question.answer = optionalStringField(object, "answer");
            question.fullAnswer = optionalStringField(object, "fullAnswer").value_or("");
            if (const auto it = object.find("isBalanced"); it != object.end()) {
                if (!it->is_boolean()) throw ItemProblem("'isBalanced' is not true or false");
                question.isBalanced = it->get<bool>();
            }
            if (const auto it = object.find("types"); it != object.end() && !it->is_null()) {
                if (!it->is_object()) throw ItemProblem("'types' is not an object");
                question.structuralType = optionalStringField(*it, "structural").value_or("");
                question.semanticType = optionalStringField(*it, "semantic").value_or("");
                question.detailedType = optionalStringField(*it, "detailed").value_or("");
            }
            dataset.questions.push_back(std::move(question));
        } catch (const ItemProblem& e) {
            dataset.errors.push_back({path, "question " + id, e.what(), true});
        }
    }
    if (dataset.questions.empty() && !document.empty())
        throw Error(path + ": no question could be read (" + dataset.errors.front().item + ": " + dataset.errors.front().message + ")");
    return dataset;
}

}  // namespace tokenscope::datasets
