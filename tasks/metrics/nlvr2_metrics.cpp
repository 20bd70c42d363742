#include "tasks/metrics/nlvr2_metrics.h"

#include "tasks/metrics/python_text.h"

#include <map>

namespace tokenscope::metrics {

Nlvr2Score scoreNlvr2(const datasets::Nlvr2Dataset& dataset, const datasets::PredictionFile& predictions) {
    using python::Dialect;
    Nlvr2Score score;
    auto& coverage = score.coverage;
    coverage.questions = dataset.examples.size();
    const auto byId = indexPredictions(predictions, coverage);
    std::unordered_map<std::string, std::size_t> identifiers;
    std::map<std::string, bool> consistent;  // sentence -> every example right so far
    for (std::size_t i = 0; i < dataset.examples.size(); ++i) {
        const auto& example = dataset.examples[i];
        identifiers.emplace(example.identifier, i);
        const auto it = byId.find(example.identifier);
        if (it == byId.end()) {
            ++coverage.withoutPrediction;
            continue;
        }
        const auto& prediction = predictions.predictions[it->second].answer;
        const bool correct = python::lower(prediction, Dialect::Python3) == python::lower(example.label, Dialect::Python3);
        // "split-set-pair-sentence" with the pair id emptied (the reader checked the four parts).
        const auto second = example.identifier.find('-', example.identifier.find('-') + 1);
        const auto third = example.identifier.find('-', second + 1);
        const std::string sentence = example.identifier.substr(0, second + 1) + example.identifier.substr(third);
        auto [entry, added] = consistent.emplace(sentence, true);
        (void)added;
        if (!correct) entry->second = false;
        score.correct += correct;
        score.perExample.push_back({example.identifier, prediction, correct});
    }
    reportUnmatched(predictions, identifiers, "example", coverage);
    coverage.scored = score.perExample.size();
    score.sentences = consistent.size();
    for (const auto& [sentence, allRight] : consistent) score.consistentSentences += allRight;
    if (coverage.scored) score.accuracy = static_cast<double>(score.correct) / static_cast<double>(coverage.scored);
    if (score.sentences) score.consistency = static_cast<double>(score.consistentSentences) / static_cast<double>(score.sentences);
    return score;
}

}  // namespace tokenscope::metrics
