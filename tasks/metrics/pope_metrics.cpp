#include "tasks/metrics/pope_metrics.h"

#include "tasks/metrics/answer_processing.h"
#include "tasks/metrics/python_text.h"

#include "common/error.h"

#include <algorithm>
#include <unordered_map>

namespace tokenscope::metrics {

PopeMetrics popeMetrics(const std::vector<bool>& answerIsNo, const std::vector<bool>& labelIsNo) {
    if (answerIsNo.empty()) throw Error("POPE: no answers to score");
    if (labelIsNo.empty()) throw Error("POPE: no labels to score against");
    PopeMetrics m;
    std::size_t yes = 0;
    for (const bool isNo : answerIsNo) yes += !isNo;
    const std::size_t pairs = std::min(answerIsNo.size(), labelIsNo.size());
    for (std::size_t i = 0; i < pairs; ++i) {
        const bool predictedYes = !answerIsNo[i];
        const bool labelYes = !labelIsNo[i];
        if (predictedYes && labelYes) ++m.truePositive;
        else if (predictedYes) ++m.falsePositive;
        else if (!labelYes) ++m.trueNegative;
        else ++m.falseNegative;
    }
    const auto ratio = [](std::size_t a, std::size_t b) { return static_cast<double>(a) / static_cast<double>(b); };
    m.yesRatio = ratio(yes, answerIsNo.size());
    m.accuracy = ratio(m.truePositive + m.trueNegative, pairs);
    m.precisionDefined = m.truePositive + m.falsePositive > 0;
    m.recallDefined = m.truePositive + m.falseNegative > 0;
    if (m.precisionDefined) m.precision = ratio(m.truePositive, m.truePositive + m.falsePositive);
    if (m.recallDefined) m.recall = ratio(m.truePositive, m.truePositive + m.falseNegative);
    m.f1Defined = m.precisionDefined && m.recallDefined && m.precision + m.recall != 0.0;
    if (m.f1Defined) m.f1 = 2 * m.precision * m.recall / (m.precision + m.recall);
    return m;
}

PopeScore scorePope(const datasets::PopeDataset& labels, const std::vector<datasets::Prediction>& answers,
                    const std::string& answersPath) {
    PopeScore score;
    auto& coverage = score.coverage;
    std::vector<const datasets::PopeQuestion*> labelled;
    for (const auto& question : labels.questions) {
        if (question.label) {
            labelled.push_back(&question);
        } else {
            coverage.errors.push_back({labels.path, "question_id " + question.questionId, "has no label; left out", true});
        }
    }
    coverage.questions = labelled.size();
    std::vector<bool> answerIsNo, labelIsNo;
    for (const auto* question : labelled) labelIsNo.push_back(popeLabelIsNo(*question->label));
    bool sameIdsInOrder = answers.size() == labelled.size();
    for (std::size_t i = 0; i < answers.size(); ++i) {
        PopeAnswerScore record;
        record.questionId = answers[i].questionId;
        record.answer = answers[i].answer;
        record.answerIsNo = popeAnswerIsNo(answers[i].answer);
        if (i < labelled.size()) {
            record.hasLabel = true;
            record.labelQuestionId = labelled[i]->questionId;
            record.labelIsNo = labelIsNo[i];
            sameIdsInOrder = sameIdsInOrder && record.labelQuestionId == record.questionId;
        }
        answerIsNo.push_back(record.answerIsNo);
        score.perAnswer.push_back(std::move(record));
    }
    coverage.scored = std::min(answers.size(), labelled.size());
    coverage.withoutPrediction = labelled.size() - coverage.scored;
    coverage.unmatched = answers.size() - coverage.scored;
    if (coverage.unmatched)
        coverage.errors.push_back({answersPath, answers[coverage.scored].where,
                                   "this and the " + std::to_string(coverage.unmatched - 1) +
                                       " answers after it have no label left to pair with (eval_pope.py drops them too; "
                                       "the yes ratio counts them)",
                                   false});
    if (!sameIdsInOrder && answers.size() == labelled.size()) {
        std::vector<std::string> a, b;
        for (const auto& answer : answers) a.push_back(answer.questionId);
        for (const auto* question : labelled) b.push_back(question->questionId);
        std::sort(a.begin(), a.end());
        std::sort(b.begin(), b.end());
        if (a == b)
            coverage.errors.push_back({answersPath, "answers", "hold the label file's question ids in another order; answers "
                                       "are paired with labels by position, as eval_pope.py does", false});
    }
    if (!answerIsNo.empty() && !labelIsNo.empty()) score.metrics = popeMetrics(answerIsNo, labelIsNo);
    return score;
}

std::vector<datasets::Prediction> popeCategoryAnswers(const datasets::PopeDataset& questionFile,
                                                      const datasets::PredictionFile& answers, const std::string& category,
                                                      std::vector<datasets::ItemError>& errors) {
    std::unordered_map<std::string, const datasets::PopeQuestion*> byId;
    for (const auto& question : questionFile.questions) byId[question.questionId] = &question;
    std::vector<datasets::Prediction> selected;
    for (const auto& answer : answers.predictions) {
        const auto it = byId.find(answer.questionId);
        if (it == byId.end()) {
            errors.push_back({answers.path, describePrediction(answer), "no question with this id in " + questionFile.path + "; left out", true});
            continue;
        }
        if (it->second->category == category) selected.push_back(answer);
    }
    return selected;
}

std::string popeCategoryFromFileName(const std::string& path) {
    const auto slash = path.find_last_of('/');
    const std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
    constexpr std::string_view kPrefix = "coco_pope_", kSuffix = ".json";
    if (name.size() < kPrefix.size() + kSuffix.size() || name.compare(0, kPrefix.size(), kPrefix) != 0 ||
        name.compare(name.size() - kSuffix.size(), kSuffix.size(), kSuffix) != 0)
        return {};
    return name.substr(kPrefix.size(), name.size() - kPrefix.size() - kSuffix.size());
}

std::string popeFormat(double fraction) { return python::repr(fraction); }

std::string popeSummaryLine(const PopeMetrics& m) {
    std::string line;
    for (const double value : {m.f1, m.accuracy, m.precision, m.recall, m.yesRatio})
        line += (line.empty() ? "" : ", ") + python::formatFixed(value, 3);
    return line;
}

}  // namespace tokenscope::metrics
