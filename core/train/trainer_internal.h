#pragma once

// Internal to core/train: what the trainer's parts share. The optimisation loop (trainer_loop.cpp)
// knows no model family; each family is a Trainee (vilt_trainee.cpp, meter_trainee.cpp) that makes
// batches, runs the training and validation forwards and shows the auxiliary losses what they read
// (an AuxView). trainer_data.cpp: the supervision part of a batch and validation;
// trainer_losses.cpp: the auxiliary losses.

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <torch/torch.h>

#include "models/meter.h"
#include "models/vilt.h"
#include "train/vilt_trainer.h"

namespace tokenscope {

namespace trainer {

struct Batch {
    ViltInputs inputs;        // ViLT
    MeterInputs meterInputs;  // METER
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

// Fills everything of the batch but the model inputs: labels, groups and the auxiliary losses'
// targets. tokens[b] = example b's text tokens as words (a grounded word is found where a token
// equals it; the family strips its own markers, such as byte-level BPE's "Ġ").
void fillSupervision(Batch& batch, const std::vector<TrainExample>& examples, const std::vector<std::vector<std::string>>& tokens,
                     int64_t labelCount);

// What the auxiliary losses read from a training forward pass, whatever the family.
//  * patchStates[k]: the image patch tokens [B, N, C] after k blocks of the image's path (0 = the
//    embeddings), the "layer" of the patch, role and position losses;
//  * attentions[l]: [B, H, T, K] attention of text queries (0 = the text [CLS]) over keys in which
//    key 0 is the "nothing" slot of head targets and the patches start at patchKeyOffset; the
//    grounding loss reads layer l, the attention and head attention losses the last one;
//  * cells [B, N]: the row-major grid cell of every patch token;
//  * textCls [B, C]: the text [CLS] after the last layer (the [CLS] loss).
struct AuxView {
    std::vector<torch::Tensor> patchStates;
    std::vector<torch::Tensor> attentions;
    int64_t patchKeyOffset = 0;
    torch::Tensor cells;
    int64_t gridHeight = 0, gridWidth = 0;
    torch::Tensor textCls;
};

// One model family under training. The loop owns the optimiser, the schedule, checkpoints and the
// log; the trainee owns the model and what is particular to it.
class Trainee {
public:
    virtual ~Trainee() = default;
    virtual torch::nn::Module& model() = 0;
    // The parameters the optimiser updates, by name (weight decay is decided from the names).
    virtual std::vector<std::pair<std::string, torch::Tensor>> trainableParameters() = 0;
    virtual int64_t labelCount() const = 0;
    // The AuxView's sizes: patch-state layers 0..stateLayers(), their width; attention layers.
    virtual int stateLayers() const = 0;
    virtual int64_t stateWidth(int layer) const = 0;
    virtual int attentionLayers() const = 0;
    virtual int64_t textWidth() const = 0;
    virtual Batch makeBatch(const std::vector<TrainExample>& examples) const = 0;
    struct Forward {
        torch::Tensor logits;  // [B, labels]
        AuxView view;          // filled as far as asked for
        std::vector<torch::Tensor> keepFractions;  // DynamicViT training: per stage [B]
    };
    virtual Forward trainingForward(const Batch& batch, bool hiddenStates, bool attentions) = 0;
    // The distillation teacher's logits (no gradient); undefined without a teacher.
    virtual torch::Tensor teacherLogits(const Batch& batch) = 0;
    // Validation: the logits the model gives in use (reductions for real), no gradient.
    virtual torch::Tensor predict(const Batch& batch) = 0;
    // DynamicViT: the prune stages (0 = not training DynamicViT) and its target keep ratio.
    virtual int keepStages() const { return 0; }
};

// Refuses options no run can use (no example sources, no steps), before a trainee loads anything.
void checkRunOptions(const TrainOptions& o);

// The optimisation loop: AdamW, warm-up and cosine decay, the task, distillation, ratio and
// auxiliary losses, resume, checkpoints, validation and the training log.
TrainSummary runTraining(const TrainOptions& o, Trainee& trainee);

// Weights and buffers by name, for writing.
std::map<std::string, torch::Tensor> stateDict(torch::nn::Module& module);

struct Validation {
    double accuracy = 0;
    std::vector<double> groupAccuracy;
};

// Accuracy of the trainee's predictions over the validation source, overall and per group.
Validation validate(Trainee& trainee, const TrainOptions& o);

// The auxiliary losses of a training forward pass (what each one measures is described with its
// definition in trainer_losses.cpp).
torch::Tensor patchLoss(const AuxView& view, const torch::Tensor& labels, const char* what, torch::nn::Linear& head, int layer,
                        int64_t classes);
torch::Tensor attentionLoss(const AuxView& view, const Batch& batch);
torch::Tensor groundingLoss(const AuxView& view, const Batch& batch, int layer);
torch::Tensor positionLoss(const AuxView& view, torch::nn::Linear& head, int layer);
torch::Tensor clsLoss(const AuxView& view, const Batch& batch, torch::nn::Linear& head);
torch::Tensor headAttentionLoss(const AuxView& view, const Batch& batch);

}  // namespace trainer

}  // namespace tokenscope
