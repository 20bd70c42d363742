#pragma once

// Counting an evaluation: accuracy, accuracy per question type and agreement with the unreduced
// model's answers, from one record per example. Torch-free and task-free: the task supplies the
// type names, the caller the answers. Pure functions, any thread.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace tokenscope {

// One evaluated example.
struct EvalRecord {
    int type = 0;                 // index into the type names given to summarizeEval
    std::string answer;           // the ground truth
    std::string predicted;        // the evaluated configuration's answer
    std::optional<std::string> unreduced;  // the unreduced model's answer, when it was run
};

struct TypeAccuracy {
    std::string name;
    int64_t examples = 0;
    int64_t correct = 0;
    double accuracy = 0;  // correct / examples; 0 when the type has no examples
};

struct EvalSummary {
    int64_t examples = 0;
    int64_t correct = 0;
    double accuracy = 0;                 // correct / examples in [0, 1]; 0 for no examples
    int64_t compared = 0;                // examples with an unreduced answer
    int64_t agreeing = 0;                // of those, the answer equals the unreduced one
    std::optional<double> agreement;     // agreeing / compared; empty when nothing was compared
    std::vector<TypeAccuracy> perType;   // one per type name, in their order
};

// A prediction is correct when it equals the answer exactly (labels, not free text). Throws
// Error when a record's type is outside the names.
EvalSummary summarizeEval(const std::vector<EvalRecord>& records, const std::vector<std::string>& typeNames);

}  // namespace tokenscope
