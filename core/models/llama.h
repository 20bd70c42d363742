#pragma once

// Core-internal: the LLaMA / Mistral decoder (transformers' LlamaForCausalLM / MistralForCausalLM,
// v4.45 eager attention) under the checkpoint's own names ("model.*", "lm_head.weight"): RMSNorm in
// fp32, half-split rotary embeddings with the config's theta, grouped / multi-query KV heads,
// causal + padding (+ optional sliding-window) mask, a KV cache for incremental decoding.
// It is LLaVA-NeXT's language model (registered there as "language_model").

#include <atomic>
#include <vector>

#include <torch/torch.h>

#include "config/model_config.h"

namespace tokenscope {

// Per-layer keys and values after RoPE, [B, Hkv, T, D], grown by concatenation along T (HF's
// DynamicCache). Owned by the caller; one cache per sequence batch.
struct KvCache {
    std::vector<torch::Tensor> keys, values;
    int64_t length() const { return keys.empty() || !keys.front().defined() ? 0 : keys.front().size(2); }
    void clear() { keys.clear(), values.clear(); }
};

struct LlamaOptions {
    bool keepHiddenStates = false;  // HF's output_hidden_states: inputs, every layer's output, the last one after the final norm
    bool keepAttentions = false;    // [B, Hq, T, Tpast + T] per layer (explicit softmax instead of fused attention)
    bool lastPositionLogitsOnly = false;  // logits [B, 1, V]: what greedy decoding needs
    KvCache* cache = nullptr;       // read and extended when set
    const std::atomic<bool>* cancel = nullptr;
};

struct LlamaOutputs {
    torch::Tensor logits;                     // [B, T, V] (or [B, 1, V])
    std::vector<torch::Tensor> hiddenStates;  // numHiddenLayers + 1 of [B, T, C]
    std::vector<torch::Tensor> attentions;    // [B, Hq, T, Tk]
};

class RmsNormImpl : public torch::nn::Module {
public:
    RmsNormImpl(int size, double eps);
    // x·rsqrt(mean(x²) + eps) in fp32, cast back, times weight.
    torch::Tensor forward(const torch::Tensor& x);

private:
    double m_eps;
    torch::Tensor m_weight;
};
TORCH_MODULE(RmsNorm);

class LlamaDecoderLayerImpl : public torch::nn::Module {
public:
    explicit LlamaDecoderLayerImpl(const LlamaConfig& config);
    // hidden [B, T, C]; cos/sin [B, T, D]; additiveMask [B, 1, T, Tk]; cache slots of this layer
    // (undefined on the first call) are replaced by the grown tensors; attention [B, Hq, T, Tk] on request.
    torch::Tensor forward(const torch::Tensor& hidden, const torch::Tensor& cos, const torch::Tensor& sin,
                          const torch::Tensor& additiveMask, torch::Tensor* cachedKeys, torch::Tensor* cachedValues,
                          torch::Tensor* attention);

private:
    LlamaConfig m_config;
    RmsNorm m_inputLayerNorm{nullptr}, m_postAttentionLayerNorm{nullptr};
    torch::nn::Linear m_qProj{nullptr}, m_kProj{nullptr}, m_vProj{nullptr}, m_oProj{nullptr};
    torch::nn::Linear m_gateProj{nullptr}, m_upProj{nullptr}, m_downProj{nullptr};
};
TORCH_MODULE(LlamaDecoderLayer);

class LlamaImpl : public torch::nn::Module {
public:
    explicit LlamaImpl(const LlamaConfig& config);

    // inputIds [B, T] int64 -> [B, T, C] in the weights' dtype.
    torch::Tensor embed(const torch::Tensor& inputIds);
    // inputsEmbeds [B, T, C]. attentionMask [B, Tpast + T] of 0/1 over the cache plus the new
    // tokens (undefined = all valid). positionIds [B, T] (undefined = Tpast .. Tpast + T - 1).
    // Left-padded rows need the explicit cumsum positions (see llava_next.h). Throws Cancelled.
    LlamaOutputs forward(const torch::Tensor& inputsEmbeds, const torch::Tensor& attentionMask,
                         const torch::Tensor& positionIds, const LlamaOptions& options = {});

    const LlamaConfig& config() const { return m_config; }

private:
    LlamaConfig m_config;
    torch::nn::Embedding m_embedTokens{nullptr};
    std::vector<LlamaDecoderLayer> m_layers;
    RmsNorm m_norm{nullptr};
    torch::nn::Linear m_lmHead{nullptr};  // null when tied to embed_tokens
    torch::Tensor m_inverseFrequency;     // [D/2] fp32 buffer-free constant
};
TORCH_MODULE(Llama);

}  // namespace tokenscope
