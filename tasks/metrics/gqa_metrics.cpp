#include "tasks/metrics/gqa_metrics.h"

#include "tasks/metrics/answer_processing.h"
#include "tasks/metrics/python_text.h"

namespace tokenscope::metrics {
namespace {

// eval.py: avg(l) = float(sum(l)) / len(l), 0 for an empty list; reported as avg * 100.
struct Tally {
    double sum = 0;
    std::size_t count = 0;
    void add(double score) {
        sum += score;
        ++count;
    }
    double percent() const { return count ? sum / static_cast<double>(count) * 100.0 : 0.0; }
};

}  // namespace

GqaScore scoreGqa(const datasets::GqaDataset& dataset, const datasets::PredictionFile& predictions, const GqaOptions& options) {
    GqaScore score;
    score.llavaNormalized = options.llavaNormalization && predictions.format == datasets::PredictionFormat::LlavaAnswers;
    auto& coverage = score.coverage;
    const auto byId = indexPredictions(predictions, coverage);
    std::unordered_map<std::string, std::size_t> questionIds;
    Tally all, binary, open;
    std::map<std::string, Tally> structural, semantic;
    for (std::size_t i = 0; i < dataset.questions.size(); ++i) {
        const auto& question = dataset.questions[i];
        questionIds.emplace(question.questionId, i);
        if (!question.isBalanced) continue;
        if (!question.answer) {
            coverage.errors.push_back({dataset.path, "question " + question.questionId,
                                       "the questions file gives no answer for it; not scored", true});
            continue;
        }
        ++coverage.questions;
        const auto it = byId.find(question.questionId);
        if (it == byId.end()) {
            ++coverage.withoutPrediction;
            continue;
        }
        GqaQuestionScore record;
        record.questionId = question.questionId;
        record.prediction = predictions.predictions[it->second].answer;
        record.compared = score.llavaNormalized ? llavaGqaAnswer(record.prediction) : record.prediction;
        record.correct = record.compared == *question.answer;
        record.structuralType = question.structuralType;
        record.semanticType = question.semanticType;
        const double value = record.correct ? 1.0 : 0.0;
        all.add(value);
        (question.structuralType == "query" ? open : binary).add(value);
        structural[question.structuralType].add(value);
        semantic[question.semanticType].add(value);
        score.perQuestion.push_back(std::move(record));
    }
    reportUnmatched(predictions, questionIds, "question", coverage);
    coverage.scored = score.perQuestion.size();
    score.accuracy = all.percent();
    score.binary = binary.percent();
    score.open = open.percent();
    score.binaryQuestions = binary.count;
    score.openQuestions = open.count;
    for (const auto& [type, tally] : structural) score.perStructuralType[type] = {tally.percent(), tally.count};
    for (const auto& [type, tally] : semantic) score.perSemanticType[type] = {tally.percent(), tally.count};
    return score;
}

std::string formatGqaPercent(double percent) { return python::formatFixed(percent, 2); }

}  // namespace tokenscope::metrics
