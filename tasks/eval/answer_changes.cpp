#include "tasks/eval/answer_changes.h"

#include <algorithm>
#include <map>

#include "common/error.h"
#include "tasks/eval/dataset_eval.h"

namespace tokenscope::evaluation {

using Json = nlohmann::json;

const char* changeKindName(ChangeKind kind) {
    switch (kind) {
        case ChangeKind::Worse: return "worse";
        case ChangeKind::Better: return "better";
        case ChangeKind::Changed: return "changed";
        case ChangeKind::Same: return "same";
    }
    return "same";
}

namespace {

std::optional<double> scoreOf(const Json& record) {
    const auto found = record.find("score");
    if (found == record.end() || !found->is_number()) return std::nullopt;
    return found->get<double>();
}

}  // namespace

AnswerComparison compareAnswers(const std::vector<std::string>& methodFiles, const std::vector<std::string>& baselineFiles) {
    const MergedEval method = mergeShards(methodFiles), baseline = mergeShards(baselineFiles);
    const std::string& where = methodFiles.front();
    if (method.identity.datasetHash != baseline.identity.datasetHash || method.identity.dataset != baseline.identity.dataset)
        throw Error(where + " and " + baselineFiles.front() + " evaluate different datasets");
    if (method.identity.modelHash != baseline.identity.modelHash)
        throw Error(where + " and " + baselineFiles.front() + " evaluate different models (" + method.identity.model + ", " +
                    baseline.identity.model + ")");
    AnswerComparison out;
    out.methodHeader = method.identity.toJson();
    out.baselineHeader = baseline.identity.toJson();
    std::map<std::string, const Json*> base;
    for (const auto& record : baseline.records)
        if (record.contains("text")) base[record.at("question_id").get<std::string>()] = &record;
    std::size_t paired = 0, scored = 0;
    for (const auto& record : method.records) {
        const std::string id = record.at("question_id").get<std::string>();
        const auto other = base.find(id);
        if (!record.contains("text") || other == base.end()) {
            ++out.onlyOneSide;
            continue;
        }
        const Json& b = *other->second;
        base.erase(other);
        ++paired;
        AnswerChange change;
        change.id = id;
        change.question = record.value("question", b.value("question", ""));
        change.group = record.value("group", "");
        change.images = record.value("images", b.value("images", std::vector<std::string>{}));
        change.methodAnswer = record.at("text").get<std::string>();
        change.baselineAnswer = b.at("text").get<std::string>();
        change.methodScore = scoreOf(record);
        change.baselineScore = scoreOf(b);
        if (change.methodScore && change.baselineScore) {
            ++scored;
            out.methodMean += *change.methodScore;
            out.baselineMean += *change.baselineScore;
        }
        const double drop = change.drop();
        change.kind = change.methodScore && change.baselineScore && drop > 0   ? ChangeKind::Worse
                      : change.methodScore && change.baselineScore && drop < 0 ? ChangeKind::Better
                      : change.methodAnswer != change.baselineAnswer          ? ChangeKind::Changed
                                                                               : ChangeKind::Same;
        switch (change.kind) {
            case ChangeKind::Worse: ++out.worse; break;
            case ChangeKind::Better: ++out.better; break;
            case ChangeKind::Changed: ++out.changed; break;
            case ChangeKind::Same: ++out.same; break;
        }
        out.items.push_back(std::move(change));
    }
    out.onlyOneSide += base.size();
    if (paired == 0) throw Error(where + " and " + baselineFiles.front() + " have no answered question in common");
    if (scored) {
        out.methodMean /= double(scored);
        out.baselineMean /= double(scored);
    }
    std::stable_sort(out.items.begin(), out.items.end(), [](const AnswerChange& a, const AnswerChange& b) { return a.drop() > b.drop(); });
    return out;
}

}  // namespace tokenscope::evaluation
