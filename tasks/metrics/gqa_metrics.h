#pragma once

// GQA accuracy as LLaVA evaluates it: haotian-liu/LLaVA scripts/convert_gqa_for_eval.py turns each
// answer into text.rstrip('.').lower() (answer_processing.h: llavaGqaAnswer), then GQA's own
// eval.py (cs.stanford.edu/people/dorarad/gqa/evaluate.html, with the testdev changes LLaVA's docs
// link to) scores a question 1 when the prediction == the answer, exactly, over the balanced
// questions. Reported like eval.py: avg(scores) * 100 (avg = float(sum) / len), overall ("Accuracy"),
// for binary questions (structural type other than "query") and open ones ("query"), per
// structural and per semantic type, printed "{:.2f}%". Validity, plausibility, consistency,
// grounding and distribution are not computed (testdev has no choices or scene graphs for them).
// Pure functions, any thread.

#include "tasks/metrics/score_common.h"

#include "tasks/datasets/predictions.h"
#include "tasks/datasets/vqa_datasets.h"

#include <map>
#include <string>
#include <vector>

namespace tokenscope::metrics {

struct GqaQuestionScore {
    std::string questionId;
    std::string prediction;   // as given
    std::string compared;     // after LLaVA's normalisation (or as given for a GQA submission)
    bool correct = false;
    std::string structuralType;
    std::string semanticType;
};

struct GqaTypeAccuracy {
    double percent = 0;       // avg * 100, unrounded
    std::size_t questions = 0;
};

struct GqaScore {
    double accuracy = 0;      // percent, unrounded: eval.py's scores["accuracy"]
    double binary = 0;        // percent over non-"query" questions
    double open = 0;          // percent over "query" questions
    std::size_t binaryQuestions = 0, openQuestions = 0;
    std::map<std::string, GqaTypeAccuracy> perStructuralType;
    std::map<std::string, GqaTypeAccuracy> perSemanticType;
    std::vector<GqaQuestionScore> perQuestion;  // balanced questions with a prediction, in file order
    Coverage coverage;
    bool llavaNormalized = false;
};

struct GqaOptions {
    // LLaVA answers (JSON Lines) are normalised as convert_gqa_for_eval.py does; a GQA submission
    // file (questionId / prediction) is compared as it is, as eval.py does.
    bool llavaNormalization = true;
};

// Matches predictions by question id (a later duplicate replaces the earlier one, like eval.py's
// dict) and scores the balanced questions that have one, in file order. eval.py stops when a
// balanced question has no prediction; here it is counted in coverage.withoutPrediction instead.
// Unbalanced questions are not scored. A question without an answer (a test file) is reported.
GqaScore scoreGqa(const datasets::GqaDataset& dataset, const datasets::PredictionFile& predictions, const GqaOptions& options = {});

// "{:.2f}" of a percent.
std::string formatGqaPercent(double percent);

}  // namespace tokenscope::metrics
