#include "models/clip_vision.h"

#include <algorithm>

#include "common/error.h"
#include "engine/timeline.h"

namespace tokenscope {

ClipVisionImpl::ClipVisionImpl(const ClipVisionConfig& config) : m_config(config) {
    const int c = config.hiddenSize;
    const int patches = (config.imageSize / config.patchSize) * (config.imageSize / config.patchSize);
    auto& embeddings = moduleAt(*this, "vision_model.embeddings");
    m_classEmbedding = embeddings.register_parameter("class_embedding", torch::zeros({c}));
    m_patchEmbedding = embeddings.register_module(
        "patch_embedding",
        torch::nn::Conv2d(torch::nn::Conv2dOptions(config.numChannels, c, config.patchSize).stride(config.patchSize).bias(false)));
    m_positionEmbedding = embeddings.register_module("position_embedding", torch::nn::Embedding(patches + 1, c));
    auto& visionModel = moduleAt(*this, "vision_model");
    const auto layerNorm = [&] { return torch::nn::LayerNorm(torch::nn::LayerNormOptions({c}).eps(config.layerNormEps)); };
    // "pre_layrnorm" is the checkpoint's own spelling.
    m_preLayerNorm = visionModel.register_module("pre_layrnorm", layerNorm());
    const BlockShape shape{c, config.numAttentionHeads, config.intermediateSize, config.layerNormEps, true, config.hiddenAct};
    const BlockNames names{"layer_norm1", "layer_norm2", "self_attn", "q_proj", "k_proj", "v_proj", "", "out_proj",
                           "mlp.fc1", "mlp.fc2"};
    auto& layers = moduleAt(*this, "vision_model.encoder.layers");
    for (int i = 0; i < config.numHiddenLayers; ++i) {
        m_layers.push_back(layers.register_module(std::to_string(i), PreNormBlock(shape, names)));
    }
    m_postLayerNorm = visionModel.register_module("post_layernorm", layerNorm());
}

ClipVisionOutputs ClipVisionImpl::forward(const torch::Tensor& pixelValues, const ClipVisionOptions& options) {
    if (pixelValues.dim() != 4 || pixelValues.size(1) != m_config.numChannels || pixelValues.size(2) != m_config.imageSize ||
        pixelValues.size(3) != m_config.imageSize) {
        throw Error("pixel_values must be [batch, " + std::to_string(m_config.numChannels) + ", " +
                    std::to_string(m_config.imageSize) + ", " + std::to_string(m_config.imageSize) + "] for this CLIP tower");
    }
    const auto b = pixelValues.size(0);
    auto patches = m_patchEmbedding(pixelValues.to(m_classEmbedding.dtype())).flatten(2).transpose(1, 2);  // [B, N, C]
    auto cls = m_classEmbedding.view({1, 1, -1}).expand({b, 1, m_config.hiddenSize});
    auto hidden = torch::cat({cls, patches}, 1);  // [B, 1+N, C]
    hidden = hidden + m_positionEmbedding->weight.unsqueeze(0);
    hidden = m_preLayerNorm(hidden);

    ClipVisionOutputs outputs;
    if (options.keepHiddenStates) outputs.hiddenStates.push_back(hidden);
    const int last = options.stopAfterLayer < 0 ? m_config.numHiddenLayers - 1 : options.stopAfterLayer;
    const int64_t tokens = hidden.size(1);
    outputs.clsAttentions.resize(options.clsAttentionLayers.size());
    for (int i = 0; i <= last && i < m_config.numHiddenLayers; ++i) {
        if (options.cancel && options.cancel->load()) throw Cancelled();
        const TimelineSpanGuard span("layer", Stage::Vision, i);
        AttentionProbe probe;
        probe.wantFull = options.keepAttentions;
        const auto wanted = std::find(options.clsAttentionLayers.begin(), options.clsAttentionLayers.end(), i);
        if (wanted != options.clsAttentionLayers.end()) {
            probe.wantRows = true;
            probe.queryBegin = 0, probe.queryEnd = 1, probe.keyBegin = 1, probe.keyEnd = tokens;
        }
        AttentionProbs probs;
        hidden = m_layers[i]->attentionHalf(hidden, {}, probe.wantFull || probe.wantRows ? &probe : nullptr, &probs);
        hidden = m_layers[i]->mlpHalf(hidden);
        if (options.keepAttentions) outputs.attentions.push_back(probs.full);
        for (auto it = wanted; it != options.clsAttentionLayers.end(); it = std::find(it + 1, options.clsAttentionLayers.end(), i))
            outputs.clsAttentions[it - options.clsAttentionLayers.begin()] = probs.rows.to(torch::kFloat).sum(1).squeeze(1);  // [B, N]
        if (options.keepHiddenStates) outputs.hiddenStates.push_back(hidden);
    }
    outputs.lastHiddenState = hidden;
    outputs.poolerOutput = m_postLayerNorm(hidden.select(1, 0));
    return outputs;
}

}  // namespace tokenscope
