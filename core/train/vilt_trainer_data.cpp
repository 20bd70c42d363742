// Training data: turning TrainExamples into model inputs and labels (Batch, BatchMaker), and the
// validation accuracy over the validation source.
#include "train/vilt_trainer.h"

#include <algorithm>
#include <filesystem>

#include <torch/torch.h>

#include "common/error.h"
#include "image/vilt_preprocess.h"
#include "text/bert_tokenizer.h"
#include "train/vilt_trainer_internal.h"

namespace tokenscope {

namespace fs = std::filesystem;

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

BatchMaker::BatchMaker(const std::string& modelDir, const ViltConfig& config)
    : m_tokenizer(BertTokenizer::fromVocabFile((fs::path(modelDir) / "vocab.txt").string())),
      m_maxText(static_cast<std::size_t>(config.maxPositionEmbeddings)) {
    const auto preprocessPath = fs::path(modelDir) / "preprocessor_config.json";
    if (fs::exists(preprocessPath)) m_preprocess = loadViltPreprocessConfig(preprocessPath.string());
}

Batch BatchMaker::make(const std::vector<TrainExample>& examples, int64_t labelCount) const {
    Batch batch;
    const auto n = static_cast<int64_t>(examples.size());
    std::vector<TextEncoding> encodings;
    std::size_t longest = 0;
    std::vector<ImageU8> images;
    std::vector<int64_t> labels;
    for (const auto& e : examples) {
        encodings.push_back(m_tokenizer.encode(e.question, m_maxText, false));
        longest = std::max(longest, encodings.back().inputIds.size());
        images.push_back(e.image);
        if (e.label < 0 || e.label >= labelCount)
            throw Error("training example label " + std::to_string(e.label) + " is outside the model's " +
                        std::to_string(labelCount) + " labels");
        labels.push_back(e.label);
        batch.groups.push_back(e.group);
        batch.relevantPatches.push_back(e.relevantPatches);
        for (const auto& t : e.headTargets) batch.headTargets.push_back({static_cast<int64_t>(batch.groups.size() - 1), t});
        const auto& tokens = encodings.back().tokens;
        for (const auto& [word, patches] : e.groundedWords) {
            if (patches.empty()) continue;
            for (std::size_t t = 0; t < tokens.size(); ++t)
                if (tokens[t] == word)
                    batch.grounded.push_back({static_cast<int64_t>(batch.groups.size() - 1), static_cast<int64_t>(t), patches});
        }
    }
    auto ids = torch::zeros({n, static_cast<int64_t>(longest)}, torch::kLong);
    auto mask = torch::zeros({n, static_cast<int64_t>(longest)}, torch::kLong);
    for (int64_t b = 0; b < n; ++b) {
        const auto length = static_cast<int64_t>(encodings[b].inputIds.size());
        ids[b].narrow(0, 0, length).copy_(torch::tensor(encodings[b].inputIds, torch::kLong));
        mask[b].narrow(0, 0, length).copy_(torch::tensor(encodings[b].attentionMask, torch::kLong));
    }
    auto pixels = preprocessVilt(images, m_preprocess);
    batch.inputs.inputIds = ids;
    batch.inputs.attentionMask = mask;
    batch.inputs.pixelValues = pixels.pixelValues;
    batch.inputs.pixelMask = pixels.pixelMask;
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
    return batch;
}

Validation validate(Vilt& model, const BatchMaker& maker, const TrainOptions& o, const ReductionPlan& plan,
                    int64_t labelCount) {
    torch::NoGradGuard noGrad;
    model->eval();
    Validation result;
    const auto groups = std::max<std::size_t>(1, o.groupNames.size());
    std::vector<int64_t> right(groups, 0), total(groups, 0);
    int64_t allRight = 0;
    std::vector<TrainExample> examples;
    for (int first = 0; first < o.validationExamples; first += o.batchSize) {
        const int count = std::min(o.batchSize, o.validationExamples - first);
        examples.clear();
        o.validation(static_cast<uint64_t>(first), count, examples);
        const auto batch = maker.make(examples, labelCount);
        ViltForwardOptions forward;
        forward.plan = &plan;
        const auto predicted = model->forward(batch.inputs, forward).logits.argmax(1);
        const auto correct = predicted.eq(batch.labels);
        for (int i = 0; i < count; ++i) {
            const auto g = static_cast<std::size_t>(std::clamp<int>(batch.groups[i], 0, static_cast<int>(groups) - 1));
            const bool ok = correct[i].item<bool>();
            right[g] += ok;
            total[g] += 1;
            allRight += ok;
        }
    }
    model->train();
    result.accuracy = o.validationExamples > 0 ? static_cast<double>(allRight) / o.validationExamples : 0.0;
    for (std::size_t g = 0; g < groups; ++g)
        result.groupAccuracy.push_back(total[g] ? static_cast<double>(right[g]) / static_cast<double>(total[g]) : 0.0);
    return result;
}

}  // namespace trainer

}  // namespace tokenscope
