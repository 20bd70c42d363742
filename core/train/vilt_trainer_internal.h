#pragma once

// Internal to core/train: what the parts of trainVilt share (vilt_trainer.cpp: the optimisation
// loop; vilt_trainer_data.cpp: batches and validation; vilt_trainer_losses.cpp: the auxiliary losses).

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "config/model_config.h"
#include "image/vilt_preprocess.h"
#include "methods/reduction_plan.h"
#include "models/vilt.h"
#include "text/bert_tokenizer.h"
#include "train/vilt_trainer.h"

namespace tokenscope {

namespace trainer {

struct Batch {
    ViltInputs inputs;
    torch::Tensor labels;  // [B] int64
    std::vector<int> groups;
    torch::Tensor patchLabels;  // [B, G] int64 when every example has G patch labels, else undefined
    torch::Tensor patchRoles;   // [B, G] int64 likewise
    std::vector<std::vector<int64_t>> relevantPatches;
    struct Grounded {
        int64_t sample = 0, position = 0;  // the word's token
        std::vector<int64_t> patches;
    };
    std::vector<Grounded> grounded;
    struct HeadTarget {
        int64_t sample = 0;
        TrainExample::HeadTarget target;
    };
    std::vector<HeadTarget> headTargets;
    std::vector<int64_t> clsSamples;  // the examples with [CLS] targets
    torch::Tensor clsTargets;         // [clsSamples, K] float
};

// Tokenises, preprocesses and stacks training examples into a Batch, with the model folder's
// vocab.txt and preprocessor_config.json.
class BatchMaker {
public:
    BatchMaker(const std::string& modelDir, const ViltConfig& config);

    Batch make(const std::vector<TrainExample>& examples, int64_t labelCount) const;

private:
    BertTokenizer m_tokenizer;
    std::size_t m_maxText;
    ViltPreprocessConfig m_preprocess;
};

struct Validation {
    double accuracy = 0;
    std::vector<double> groupAccuracy;
};

// Accuracy of the model (under the plan) over the validation source, overall and per group.
Validation validate(Vilt& model, const BatchMaker& maker, const TrainOptions& o, const ReductionPlan& plan,
                    int64_t labelCount);

// The auxiliary losses of a training forward pass (what each one measures is described with its
// definition in vilt_trainer_losses.cpp).
torch::Tensor patchLoss(const ViltEncoding& encoding, const torch::Tensor& labels, const char* what, torch::nn::Linear& head,
                        int layer, int64_t classes);
torch::Tensor attentionLoss(const ViltEncoding& encoding, const Batch& batch);
torch::Tensor groundingLoss(const ViltEncoding& encoding, const Batch& batch, int layer);
torch::Tensor positionLoss(const ViltEncoding& encoding, torch::nn::Linear& head, int layer);
torch::Tensor clsLoss(const ViltEncoding& encoding, const Batch& batch, torch::nn::Linear& head);
torch::Tensor headAttentionLoss(const ViltEncoding& encoding, const Batch& batch);

}  // namespace trainer

}  // namespace tokenscope
