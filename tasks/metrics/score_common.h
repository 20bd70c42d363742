#pragma once

// What the dataset scorers share: how much of a dataset a prediction file covered, and the
// matching of predictions to questions by id. Pure functions, any thread.

#include "tasks/datasets/dataset_file.h"
#include "tasks/datasets/predictions.h"

#include <string>
#include <unordered_map>
#include <vector>

namespace tokenscope::metrics {

// What a scorer did with the predictions it was given.
struct Coverage {
    std::size_t questions = 0;          // questions in the dataset that can be scored
    std::size_t scored = 0;             // predictions scored
    std::size_t withoutPrediction = 0;  // of the questions, those no prediction was found for (not scored)
    std::size_t unmatched = 0;          // predictions whose id is no question (not scored)
    std::size_t duplicates = 0;         // predictions for an id predicted before
    std::vector<datasets::ItemError> errors;  // one per unmatched, duplicate or unscorable item
};

// "line 4 (question_id 42)"
std::string describePrediction(const datasets::Prediction& prediction);

// Index of the predictions by id. Like a Python dict built from the file (vqa.py's index, GQA's
// eval.py), a later prediction for the same id replaces the earlier one; each such replacement is
// counted in coverage.duplicates and noted in coverage.errors (skipped = false).
std::unordered_map<std::string, std::size_t> indexPredictions(const datasets::PredictionFile& file, Coverage& coverage);

// Counts and reports (coverage.unmatched, coverage.errors) the predictions whose id is not in `ids`.
void reportUnmatched(const datasets::PredictionFile& file, const std::unordered_map<std::string, std::size_t>& ids,
                     const std::string& what, Coverage& coverage);

}  // namespace tokenscope::metrics
