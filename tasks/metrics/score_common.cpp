#include "tasks/metrics/score_common.h"

namespace tokenscope::metrics {

std::string describePrediction(const datasets::Prediction& prediction) {
    return prediction.where + " (question_id " + prediction.questionId + ")";
}

std::unordered_map<std::string, std::size_t> indexPredictions(const datasets::PredictionFile& file, Coverage& coverage) {
    std::unordered_map<std::string, std::size_t> byId;
    for (std::size_t i = 0; i < file.predictions.size(); ++i) {
        const auto& prediction = file.predictions[i];
        const auto [it, inserted] = byId.emplace(prediction.questionId, i);
        if (inserted) continue;
        ++coverage.duplicates;
        coverage.errors.push_back({file.path, describePrediction(prediction),
                                   "a second prediction for this question; it replaces the one at " +
                                       file.predictions[it->second].where,
                                   false});
        it->second = i;
    }
    return byId;
}

void reportUnmatched(const datasets::PredictionFile& file, const std::unordered_map<std::string, std::size_t>& ids,
                     const std::string& what, Coverage& coverage) {
    for (const auto& prediction : file.predictions) {
        if (ids.count(prediction.questionId)) continue;
        ++coverage.unmatched;
        coverage.errors.push_back({file.path, describePrediction(prediction), "no " + what + " with this id; not scored", true});
    }
}

}  // namespace tokenscope::metrics
