#pragma once

// Core-internal: DynamicViT (Rao et al., "DynamicViT: Efficient Vision Transformers with Dynamic
// Token Sparsification", NeurIPS 2021; raoyongming/DynamicViT models/dyvit.py) for ViLT's image patches, as
// PuMer's VL baseline does (csarron/PuMer src/pumer/model/pruner.py).
//
// A learned predictor per prune location scores every current image patch (the image CLS and the
// text are never scored and never pruned). At inference the top int(P0 · ρ^i) patches by keep
// score survive stage i (P0 = the initial patch count) and the rest of the encoder runs on the
// shorter sequence; in training nothing is removed: hard Gumbel-softmax keep decisions, multiplied
// by the previous stage's, mask the attention through the multiplicative masked softmax, and the
// fraction kept per stage feeds the ratio loss.
//
// Checkpoint names (ViltImpl registers the predictors when config.json has dynamicvit_config):
//   dynamicvit.predictors.{i}.in_conv.0   LayerNorm(C)            (eps 1e-5, PyTorch's default)
//   dynamicvit.predictors.{i}.in_conv.1   Linear(C, C)            then GELU
//   dynamicvit.predictors.{i}.out_conv.0  Linear(C, C/2)          then GELU
//   dynamicvit.predictors.{i}.out_conv.2  Linear(C/2, C/4)        then GELU
//   dynamicvit.predictors.{i}.out_conv.4  Linear(C/4, 2)          then log-softmax; channel 0 = keep

#include <cstdint>
#include <vector>

#include <torch/torch.h>

#include "reduce/pumer.h"

namespace tokenscope {

// DynamicVitSettings (core/reduce/reducer_settings.h): locations are the blocks that first see each
// stage's pruned tokens (predictor i reads block locations[i] - 1's output), one per predictor of
// the model; training = true is the training forward (Gumbel decisions, masks, keep fractions; no
// tokens removed, no records).

// PredictorLG (raoyongming/DynamicViT models/dyvit.py). forward: patches x [B, N, C] and the keep
// policy [B, N, 1] (1 = the patch is still there; the global feature is the policy-weighted mean over
// patches) -> log-probabilities [B, N, 2], channel 0 = keep, channel 1 = drop.
class DynamicVitPredictorImpl : public torch::nn::Module {
public:
    explicit DynamicVitPredictorImpl(int64_t hiddenSize);
    torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& policy);

private:
    int64_t m_localChannels = 0;  // C/2: channels kept per token; the other C - C/2 are averaged
    torch::nn::Sequential m_inConv{nullptr}, m_outConv{nullptr};
};
TORCH_MODULE(DynamicVitPredictor);

// Patches kept after stage `stage` (1-based) of P0 initial ones: int(P0 · ρ^stage) as DynamicViT
// computes it (truncation), at least 1 and at most P0.
int64_t dynamicVitKeepCount(int64_t initialPatches, double keepRatio, int stage);

// One inference pruning step, a pure function. hidden [B, T+I, C] (text first, then the image CLS
// and I-1 patches), mask [B, T+I] key weights, keepLogProbability [B, I-1] (the predictor's channel
// 0 for every patch), imageSource [B, I, I0] (undefined = identity). Keeps the image CLS and the
// `keep` best-scored patches (masked patches rank last), survivors in score order as DynamicViT
// gathers them; the text is untouched.
struct DynamicVitPruneInput {
    torch::Tensor hidden;
    int64_t textLength = 0;
    torch::Tensor mask;
    torch::Tensor keepLogProbability;
    torch::Tensor imageSource;
    int64_t keep = 0;
};
struct DynamicVitPruneOutput {
    torch::Tensor hidden;  // [B, T + 1 + keep, C]
    torch::Tensor mask;    // [B, T + 1 + keep]
    // counts (imageIn = I, tokensKept = imageOut = 1 + keep, tokensPruned, textIn = textOut = T);
    // isReduced; imageScore [B, I] = keep probability (1 for the image CLS); keptIndex [B, 1 + keep]
    // input image positions (CLS first, then score order) = imageOrigin; keptScore; imageSource
    // [B, 1 + keep, I0]; imageSize; text fields undefined.
    ReductionRecord record;
};
DynamicVitPruneOutput dynamicVitPrune(const DynamicVitPruneInput& input);

// One training step at a prune location: keep = hard Gumbel-softmax(log-probabilities)[..., 0] ×
// previous ([B, N] in {0, 1}, gradients by the straight-through estimator).
torch::Tensor dynamicVitGumbelKeep(const torch::Tensor& keepLogProbabilities, const torch::Tensor& previous);

// DynamicViT's ratio loss (losses.py): mean over stages i = 1.. of mean over the batch of
// (keepFractions[i-1] - ρ^i)², keepFractions [B] per stage. A scalar; zero without stages.
torch::Tensor dynamicVitRatioLoss(const std::vector<torch::Tensor>& keepFractions, double keepRatio);

// DynamicViT's default locations for an encoder of `layers` blocks: L/4, L/2, 3L/4 (3, 6, 9 of 12),
// without duplicates and within 1..L-1.
std::vector<int> defaultDynamicVitLocations(int layers);

// Trainable parameters of a ViLT with predictors: only the predictors' (predictorOnly, everything
// else gets requires_grad false), or all. Names as named_parameters() gives them.
std::vector<std::pair<std::string, torch::Tensor>> dynamicVitTrainableParameters(torch::nn::Module& vilt,
                                                                                   bool predictorOnly);
bool isDynamicVitParameter(const std::string& name);  // "dynamicvit." prefix

}  // namespace tokenscope
