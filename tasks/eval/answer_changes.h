#pragma once

// The questions whose answer a reduction changed: two evaluations of one dataset by one model (shard
// files or eval-merge outputs, tasks/eval/dataset_eval.h), the method's and a baseline's (usually
// the unreduced model), paired by question id. A change is "worse" when the question's official
// score fell (right -> wrong, or a partly right VQA answer that lost annotators), "better" when it
// rose, "changed" when the answer differs at the same score. Sorted by score drop, largest first.
// Pure functions, any thread; errors are tokenscope::Error naming the file.

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace tokenscope::evaluation {

enum class ChangeKind { Worse, Better, Changed, Same };
const char* changeKindName(ChangeKind kind);  // "worse", "better", "changed", "same"

struct AnswerChange {
    std::string id;
    std::string question;
    std::string group;                // answer type / category
    std::vector<std::string> images;  // as the evaluation read them
    std::string baselineAnswer, methodAnswer;
    std::optional<double> baselineScore, methodScore;
    ChangeKind kind = ChangeKind::Same;
    double drop() const { return baselineScore.value_or(0) - methodScore.value_or(0); }
};

struct AnswerComparison {
    nlohmann::json methodHeader, baselineHeader;  // the files' evaluation headers
    std::vector<AnswerChange> items;              // every question both answered, worst drop first
    std::size_t worse = 0, better = 0, changed = 0, same = 0;
    std::size_t onlyOneSide = 0;                  // answered (or errored) in one file only
    double methodMean = 0, baselineMean = 0;      // mean score over the paired, scored items
};

// Throws Error when the files evaluate different datasets or models.
AnswerComparison compareAnswers(const std::vector<std::string>& methodFiles, const std::vector<std::string>& baselineFiles);

}  // namespace tokenscope::evaluation
