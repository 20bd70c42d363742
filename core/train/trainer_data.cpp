// Training data, whatever the family: the supervision part of a batch (labels, groups and the
// auxiliary losses' targets) and the validation accuracy over the validation source.
#include <algorithm>

#include <torch/torch.h>

#include "common/error.h"
#include "train/trainer_internal.h"

namespace tokenscope {

namespace trainer {

namespace {

// [B, G] int64 from each example's per-cell vector, or undefined unless every example has one of
// the same length.
torch::Tensor denseCells(const std::vector<TrainExample>& examples, std::vector<int64_t> TrainExample::*field) {
    const auto cells = examples.empty() ? 0 : (examples.front().*field).size();
    const bool dense = cells > 0 && std::all_of(examples.begin(), examples.end(), [cells, field](const TrainExample& e) {
        return (e.*field).size() == cells;
    });
    if (!dense) return {};
    const auto n = static_cast<int64_t>(examples.size());
    auto out = torch::empty({n, static_cast<int64_t>(cells)}, torch::kLong);
    for (int64_t b = 0; b < n; ++b) out[b].copy_(torch::tensor(examples[static_cast<std::size_t>(b)].*field, torch::kLong));
    return out;
}

}  // namespace

void fillSupervision(Batch& batch, const std::vector<TrainExample>& examples, const std::vector<std::vector<std::string>>& tokens,
                     int64_t labelCount) {
    const auto n = static_cast<int64_t>(examples.size());
    std::vector<int64_t> labels;
    for (int64_t b = 0; b < n; ++b) {
        const auto& e = examples[static_cast<std::size_t>(b)];
        if (e.label < 0 || e.label >= labelCount)
            throw Error("training example label " + std::to_string(e.label) + " is outside the model's " +
                        std::to_string(labelCount) + " labels");
        labels.push_back(e.label);
        batch.groups.push_back(e.group);
        batch.relevantPatches.push_back(e.relevantPatches);
        for (const auto& t : e.headTargets) batch.headTargets.push_back({b, t});
        const auto& words = tokens.at(static_cast<std::size_t>(b));
        for (const auto& [word, patches] : e.groundedWords) {
            if (patches.empty()) continue;
            for (std::size_t t = 0; t < words.size(); ++t)
                if (words[t] == word) batch.grounded.push_back({b, static_cast<int64_t>(t), patches});
        }
    }
    batch.labels = torch::tensor(labels, torch::kLong);
    batch.patchLabels = denseCells(examples, &TrainExample::patchLabels);
    batch.patchRoles = denseCells(examples, &TrainExample::patchRoles);
    std::vector<float> targets;
    for (int64_t b = 0; b < n; ++b) {
        const auto& t = examples[static_cast<std::size_t>(b)].clsTargets;
        if (t.empty()) continue;
        if (!batch.clsSamples.empty() && t.size() * batch.clsSamples.size() != targets.size())
            throw Error("[CLS] targets: examples with " + std::to_string(t.size()) + " and " +
                        std::to_string(targets.size() / batch.clsSamples.size()) + " numbers in one batch");
        batch.clsSamples.push_back(b);
        targets.insert(targets.end(), t.begin(), t.end());
    }
    if (!batch.clsSamples.empty())
        batch.clsTargets = torch::tensor(targets).reshape({static_cast<int64_t>(batch.clsSamples.size()), -1});
}

Validation validate(Trainee& trainee, const TrainOptions& o) {
    torch::NoGradGuard noGrad;
    trainee.model().eval();
    Validation result;
    const auto groups = std::max<std::size_t>(1, o.groupNames.size());
    std::vector<int64_t> right(groups, 0), total(groups, 0);
    int64_t allRight = 0;
    std::vector<TrainExample> examples;
    for (int first = 0; first < o.validationExamples; first += o.batchSize) {
        const int count = std::min(o.batchSize, o.validationExamples - first);
        examples.clear();
        o.validation(static_cast<uint64_t>(first), count, examples);
        const auto batch = trainee.makeBatch(examples);
        const auto correct = trainee.predict(batch).argmax(1).eq(batch.labels);
        for (int i = 0; i < count; ++i) {
            const auto g = static_cast<std::size_t>(std::clamp<int>(batch.groups[i], 0, static_cast<int>(groups) - 1));
            const bool ok = correct[i].item<bool>();
            right[g] += ok;
            total[g] += 1;
            allRight += ok;
        }
    }
    trainee.model().train();
    result.accuracy = o.validationExamples > 0 ? static_cast<double>(allRight) / o.validationExamples : 0.0;
    for (std::size_t g = 0; g < groups; ++g)
        result.groupAccuracy.push_back(total[g] ? static_cast<double>(right[g]) / static_cast<double>(total[g]) : 0.0);
    return result;
}

}  // namespace trainer

}  // namespace tokenscope
