#pragma once

// Core-internal: the CLIP vision tower (transformers' CLIPVisionModel) under the checkpoint's own
// names, with every hidden state and attention map on request. It is LLaVA-NeXT's vision tower.

#include <atomic>
#include <vector>

#include <torch/torch.h>

#include "config/model_config.h"
#include "models/transformer_block.h"

namespace tokenscope {

struct ClipVisionOptions {
    bool keepHiddenStates = false;
    bool keepAttentions = false;
    int stopAfterLayer = -1;  // run layers [0, stopAfterLayer] only (-1 = all); LLaVA uses layer -2
    std::vector<int> clsAttentionLayers;  // layers whose CLS attention row to keep (HiRED)
    const std::atomic<bool>* cancel = nullptr;
};

struct ClipVisionOutputs {
    torch::Tensor lastHiddenState;            // [B, 1+N, C], no post-LayerNorm
    torch::Tensor poolerOutput;               // [B, C] = post_layernorm(CLS)
    std::vector<torch::Tensor> hiddenStates;  // [0] = pre_layrnorm(embeddings), [i] = layer i output
    std::vector<torch::Tensor> attentions;    // [B, H, 1+N, 1+N] per layer
    // Per entry of clsAttentionLayers: the CLS query's attention over the N patch keys (softmax
    // over all 1+N keys), summed over heads: [B, N] float32. Only that row is computed.
    std::vector<torch::Tensor> clsAttentions;
};

class ClipVisionImpl : public torch::nn::Module {
public:
    explicit ClipVisionImpl(const ClipVisionConfig& config);
    // pixelValues [B, C, S, S] with S = config.imageSize.
    ClipVisionOutputs forward(const torch::Tensor& pixelValues, const ClipVisionOptions& options = {});
    const ClipVisionConfig& config() const { return m_config; }

private:
    ClipVisionConfig m_config;
    torch::Tensor m_classEmbedding;
    torch::nn::Conv2d m_patchEmbedding{nullptr};
    torch::nn::Embedding m_positionEmbedding{nullptr};
    torch::nn::LayerNorm m_preLayerNorm{nullptr}, m_postLayerNorm{nullptr};
    std::vector<PreNormBlock> m_layers;
};
TORCH_MODULE(ClipVision);

}  // namespace tokenscope
