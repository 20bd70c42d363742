#include "tasks/eval/eval_summary.h"

#include "common/error.h"

namespace tokenscope {

EvalSummary summarizeEval(const std::vector<EvalRecord>& records, const std::vector<std::string>& typeNames) {
    EvalSummary summary;
    for (const auto& name : typeNames) summary.perType.push_back({name, 0, 0, 0.0});
    for (std::size_t i = 0; i < records.size(); ++i) {
        const auto& record = records[i];
        if (record.type < 0 || record.type >= static_cast<int>(typeNames.size()))
            throw Error("evaluation record " + std::to_string(i) + " has question type " + std::to_string(record.type) +
                        " but there are " + std::to_string(typeNames.size()) + " types");
        const bool isCorrect = record.predicted == record.answer;
        auto& type = summary.perType[static_cast<std::size_t>(record.type)];
        ++summary.examples;
        ++type.examples;
        summary.correct += isCorrect;
        type.correct += isCorrect;
        if (record.unreduced) {
            ++summary.compared;
            summary.agreeing += record.predicted == *record.unreduced;
        }
    }
    if (summary.examples > 0) summary.accuracy = static_cast<double>(summary.correct) / static_cast<double>(summary.examples);
    for (auto& type : summary.perType)
        if (type.examples > 0) type.accuracy = static_cast<double>(type.correct) / static_cast<double>(type.examples);
    if (summary.compared > 0)
        summary.agreement = static_cast<double>(summary.agreeing) / static_cast<double>(summary.compared);
    return summary;
}

}  // namespace tokenscope
