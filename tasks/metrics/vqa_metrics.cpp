#include "tasks/metrics/vqa_metrics.h"

#include "tasks/metrics/answer_processing.h"
#include "tasks/metrics/python_text.h"

#include "common/error.h"

#include <algorithm>
#include <set>
#include <unordered_map>

namespace tokenscope::metrics {
namespace {

using datasets::ItemProblem;
using datasets::VqaAnswer;

// min(1, matches / 3) as vqaEval.py and m4c_evaluator.py write it (float(n) / 3, capped).
double annotatorAccuracy(std::size_t matches) { return matches >= 3 ? 1.0 : static_cast<double>(matches) / 3.0; }

bool sameRecord(const std::string& answerA, const VqaAnswer& a, const std::string& answerB, const VqaAnswer& b) {
    return answerA == answerB && a.confidence == b.confidence && a.answerId == b.answerId;
}

}  // namespace

VqaQuestionAccuracy vqaQuestionAccuracy(std::string_view prediction, const std::vector<VqaAnswer>& answers) {
    if (answers.empty()) throw Error("VQA accuracy: the question has no answers");
    std::vector<std::string> cleaned;
    cleaned.reserve(answers.size());
    for (const auto& answer : answers) cleaned.push_back(vqaCleanAnswer(answer.answer));
    VqaQuestionAccuracy result;
    result.prediction = vqaCleanAnswer(prediction);
    result.processed = std::set<std::string>(cleaned.begin(), cleaned.end()).size() > 1;
    if (result.processed) {
        for (auto& answer : cleaned) answer = vqaProcessAnswer(answer);
        result.prediction = vqaProcessAnswer(result.prediction);
    }
    double sum = 0;
    for (std::size_t i = 0; i < answers.size(); ++i) {
        std::size_t matches = 0;
        for (std::size_t j = 0; j < answers.size(); ++j) {
            if (sameRecord(cleaned[i], answers[i], cleaned[j], answers[j])) continue;  // left out
            if (cleaned[j] == result.prediction) ++matches;
        }
        sum += annotatorAccuracy(matches);
    }
    result.accuracy = sum / static_cast<double>(answers.size());
    result.percent = python::round(100.0 * result.accuracy, 2, python::Dialect::Python2);
    return result;
}

double textVqaQuestionScore(std::string_view prediction, const std::vector<std::string>& answers) {
    if (answers.size() != 10)
        throw Error("TextVQA accuracy: " + std::to_string(answers.size()) + " answers; the evaluator needs 10");
    std::vector<std::string> processed;
    processed.reserve(answers.size());
    for (const auto& answer : answers) processed.push_back(evalAiProcessAnswer(answer));
    const std::string predicted = evalAiProcessAnswer(prediction);
    // unique_answer_scores.get(pred, 0.0): only an answer some annotator gave has a score.
    if (std::find(processed.begin(), processed.end(), predicted) == processed.end()) return 0.0;
    double sum = 0;
    for (std::size_t i = 0; i < processed.size(); ++i) {
        std::size_t matches = 0;
        for (std::size_t j = 0; j < processed.size(); ++j)
            if (j != i && processed[j] == predicted) ++matches;
        sum += annotatorAccuracy(matches);
    }
    return sum / static_cast<double>(processed.size());
}

VqaAccuracy evaluateVqa(const std::vector<VqaEvalItem>& items) {
    VqaAccuracy accuracy;
    accuracy.questions = items.size();
    if (items.empty()) return accuracy;
    // Sums in item order, per group as the lists of vqaEval.py grow.
    double sum = 0;
    std::map<std::string, double> answerTypeSums, questionTypeSums;
    for (const auto& item : items) {
        VqaQuestionScore score{item.questionId, item.answerType, item.questionType, item.prediction,
                               vqaQuestionAccuracy(item.prediction, item.answers)};
        const double value = score.result.accuracy;
        sum += value;
        answerTypeSums[item.answerType] += value;
        ++accuracy.answerTypeCounts[item.answerType];
        questionTypeSums[item.questionType] += value;
        ++accuracy.questionTypeCounts[item.questionType];
        accuracy.perQuestion.push_back(std::move(score));
    }
    // round(100 * float(sum(acc)) / len(acc), 2)
    const auto percent = [](double total, std::size_t count) {
        return python::round(100.0 * total / static_cast<double>(count), 2, python::Dialect::Python2);
    };
    accuracy.overall = percent(sum, items.size());
    for (const auto& [type, total] : answerTypeSums) accuracy.perAnswerType[type] = percent(total, accuracy.answerTypeCounts[type]);
    for (const auto& [type, total] : questionTypeSums) accuracy.perQuestionType[type] = percent(total, accuracy.questionTypeCounts[type]);
    return accuracy;
}

VqaV2Score scoreVqaV2(const datasets::VqaV2Dataset& dataset, const datasets::PredictionFile& predictions,
                      const VqaV2Options& options) {
    if (!dataset.hasAnnotations) throw Error("VQAv2 scoring needs the annotations file (v2_mscoco_<split>_annotations.json)");
    VqaV2Score score;
    score.llavaProcessed = options.llavaSubmissionProcessing && predictions.format == datasets::PredictionFormat::LlavaAnswers;
    auto& coverage = score.coverage;
    coverage.questions = dataset.questions.size();
    const auto byId = indexPredictions(predictions, coverage);
    std::unordered_map<std::string, std::size_t> questionIds;
    std::vector<VqaEvalItem> items;
    items.reserve(dataset.questions.size());
    for (const auto& question : dataset.questions) {
        questionIds.emplace(question.questionId, items.size());
        const auto it = byId.find(question.questionId);
        if (it == byId.end()) {
            ++coverage.withoutPrediction;
            continue;
        }
        const auto& text = predictions.predictions[it->second].answer;
        items.push_back({question.questionId, question.questionType, question.answerType,
                         score.llavaProcessed ? evalAiProcessAnswer(text) : text, question.answers});
    }
    reportUnmatched(predictions, questionIds, "annotated question", coverage);
    score.accuracy = evaluateVqa(items);
    coverage.scored = items.size();
    // Keep the prediction as given in the per-question records.
    if (score.llavaProcessed) {
        for (auto& record : score.accuracy.perQuestion)
            record.prediction = predictions.predictions[byId.at(record.questionId)].answer;
    }
    return score;
}

std::string textVqaPromptQuestion(std::string_view prompt) {
    const auto lines = [&] {
        std::vector<std::string_view> parts;
        std::size_t begin = 0;
        while (true) {
            const auto end = prompt.find('\n', begin);
            parts.push_back(prompt.substr(begin, end == std::string_view::npos ? std::string_view::npos : end - begin));
            if (end == std::string_view::npos) return parts;
            begin = end + 1;
        }
    }();
    std::string_view question;
    if (prompt.rfind("OCR tokens: ", 0) == 0) {
        // re.search(r"Question: (.*?) Short answer:", prompt, re.DOTALL).group(1)
        constexpr std::string_view kStart = "Question: ", kEnd = " Short answer:";
        const auto start = prompt.find(kStart);
        const auto end = start == std::string_view::npos ? start : prompt.find(kEnd, start + kStart.size());
        if (end == std::string_view::npos) throw ItemProblem("the prompt starts with 'OCR tokens: ' but has no 'Question: ... Short answer:'");
        question = prompt.substr(start + kStart.size(), end - start - kStart.size());
    } else if (prompt.find("Reference OCR token: ") != std::string_view::npos && lines.size() == 3) {
        question = prompt.rfind("Reference OCR token:", 0) == 0 ? lines[1] : lines[0];
    } else if (lines.size() == 2) {
        question = lines[0];
    } else {
        throw ItemProblem("the prompt has none of the shapes eval_textvqa.py knows (its prompt_processor asserts)");
    }
    return python::lower(question, python::Dialect::Python3);
}

TextVqaScore scoreTextVqa(const datasets::TextVqaDataset& dataset, const datasets::PredictionFile& predictions) {
    TextVqaScore score;
    auto& coverage = score.coverage;
    coverage.questions = dataset.questions.size();
    std::unordered_map<std::string, std::size_t> byId, byImageAndQuestion;
    for (std::size_t i = 0; i < dataset.questions.size(); ++i) {
        const auto& question = dataset.questions[i];
        byId.emplace(question.questionId, i);
        // A dict comprehension: the last question with the same key wins. '\n' cannot occur in an id.
        byImageAndQuestion[question.imageId + '\n' + python::lower(question.question, python::Dialect::Python3)] = i;
    }
    std::vector<bool> predicted(dataset.questions.size(), false);
    double sum = 0;
    for (const auto& prediction : predictions.predictions) {
        std::size_t index = dataset.questions.size();
        try {
            if (prediction.prompt) {
                const auto it = byImageAndQuestion.find(prediction.questionId + '\n' + textVqaPromptQuestion(*prediction.prompt));
                if (it != byImageAndQuestion.end()) {
                    index = it->second;
                    score.matchedByPrompt = true;
                }
            }
            if (index == dataset.questions.size()) {
                const auto it = byId.find(prediction.questionId);
                if (it == byId.end())
                    throw ItemProblem(prediction.prompt ? "no question with this image id and the prompt's question, nor with this question id"
                                                        : "no question with this id");
                index = it->second;
            }
            const auto& question = dataset.questions[index];
            if (question.answers.size() != 10)
                throw ItemProblem("question " + question.questionId + " has " + std::to_string(question.answers.size()) +
                                  " answers; TextVQA's evaluator needs 10");
        } catch (const ItemProblem& e) {
            ++coverage.unmatched;
            coverage.errors.push_back({predictions.path, describePrediction(prediction), std::string(e.what()) + "; not scored", true});
            continue;
        }
        if (predicted[index]) {
            ++coverage.duplicates;
            coverage.errors.push_back({predictions.path, describePrediction(prediction),
                                       "question " + dataset.questions[index].questionId +
                                           " was already predicted; eval_textvqa.py scores both, so does this",
                                       false});
        }
        predicted[index] = true;
        const double value = textVqaQuestionScore(prediction.answer, dataset.questions[index].answers);
        sum += value;
        score.perQuestion.push_back({dataset.questions[index].questionId, prediction.answer, value});
    }
    coverage.scored = score.perQuestion.size();
    coverage.withoutPrediction = static_cast<std::size_t>(std::count(predicted.begin(), predicted.end(), false));
    if (!score.perQuestion.empty()) score.accuracy = sum / static_cast<double>(score.perQuestion.size());
    return score;
}

std::string formatVqaPercent(double roundedPercent) { return python::formatFixed(roundedPercent, 2); }

std::string formatTextVqaPercent(double accuracy) { return python::formatFixed(100.0 * accuracy, 2); }

}  // namespace tokenscope::metrics
