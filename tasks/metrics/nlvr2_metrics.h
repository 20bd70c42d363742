#pragma once

// NLVR2 accuracy and consistency as lil-lab/nlvr nlvr2/eval/metrics.py computes them (Python 3):
// a prediction is right when prediction.lower() == label.lower() ("true" matches "True"; " True"
// and "yes" do not), accuracy = right / examples, consistency = the fraction of sentences (the
// identifier with its pair id blanked: "dev-850--0") whose every example is right. Both are
// fractions, printed with str() ("accuracy=0.75"). Pure functions, any thread.

#include "tasks/metrics/score_common.h"

#include "tasks/datasets/jsonl_datasets.h"
#include "tasks/datasets/predictions.h"

#include <string>
#include <vector>

namespace tokenscope::metrics {

struct Nlvr2ExampleScore {
    std::string identifier;
    std::string prediction;
    bool correct = false;
};

struct Nlvr2Score {
    double accuracy = 0;              // fraction
    double consistency = 0;           // fraction of sentences with every example right
    std::size_t correct = 0;
    std::size_t sentences = 0, consistentSentences = 0;
    std::vector<Nlvr2ExampleScore> perExample;  // label file order
    Coverage coverage;
};

// Matches predictions by identifier (a later duplicate replaces the earlier one, like metrics.py's
// dict). metrics.py refuses a prediction file that misses an example; here the examples without
// one are counted in coverage.withoutPrediction and left out of both fractions.
Nlvr2Score scoreNlvr2(const datasets::Nlvr2Dataset& dataset, const datasets::PredictionFile& predictions);

}  // namespace tokenscope::metrics
