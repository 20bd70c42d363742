#include "models/llama.h"

#include <torch/version.h>  // TORCH_VERSION_MAJOR / MINOR for the LibTorch 2.x paths

#include <cmath>
#include <limits>

#include "common/error.h"
#include "engine/timeline.h"
#include "models/transformer_block.h"

namespace tokenscope {

namespace {

// torch.finfo(dtype).min: what HF fills masked scores with (finite, so a fully masked row of a
// left-padding query softmaxes to a uniform row instead of NaN).
double lowestOf(torch::Dtype dtype) {
    switch (dtype) {
        case torch::kHalf: return -65504.0;
        case torch::kBFloat16: return -3.3895313892515355e38;
        case torch::kDouble: return std::numeric_limits<double>::lowest();
        default: return static_cast<double>(std::numeric_limits<float>::lowest());
    }
}

// rotate_half on the two halves of the head dimension: [a, b] -> [-b, a] (not interleaved pairs).
torch::Tensor rotateHalf(const torch::Tensor& x) {
    const auto half = x.size(-1) / 2;
    return torch::cat({-x.slice(-1, half), x.slice(-1, 0, half)}, -1);
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// RMSNorm

RmsNormImpl::RmsNormImpl(int size, double eps) : m_eps(eps) {
    m_weight = register_parameter("weight", torch::ones({size}));
}

torch::Tensor RmsNormImpl::forward(const torch::Tensor& x) {
    const auto inputDtype = x.scalar_type();
    const auto x32 = x.to(torch::kFloat);
    const auto variance = x32.pow(2).mean(-1, true);
    return m_weight * (x32 * torch::rsqrt(variance + m_eps)).to(inputDtype);
}

// ---------------------------------------------------------------------------------------------
// Part 2: parameters under the checkpoint's names

LlamaDecoderLayerImpl::LlamaDecoderLayerImpl(const LlamaConfig& config) : m_config(config) {
    const int c = config.hiddenSize;
    const int qWidth = config.numAttentionHeads * config.headDim;
    const int kvWidth = config.numKeyValueHeads * config.headDim;
    const auto linear = [](int in, int out, bool bias) { return torch::nn::Linear(torch::nn::LinearOptions(in, out).bias(bias)); };
    auto& attention = moduleAt(*this, "self_attn");
    m_qProj = attention.register_module("q_proj", linear(c, qWidth, config.attentionBias));
    m_kProj = attention.register_module("k_proj", linear(c, kvWidth, config.attentionBias));
    m_vProj = attention.register_module("v_proj", linear(c, kvWidth, config.attentionBias));
    m_oProj = attention.register_module("o_proj", linear(qWidth, c, config.attentionBias));
    auto& mlp = moduleAt(*this, "mlp");
    m_gateProj = mlp.register_module("gate_proj", linear(c, config.intermediateSize, config.mlpBias));
    m_upProj = mlp.register_module("up_proj", linear(c, config.intermediateSize, config.mlpBias));
    m_downProj = mlp.register_module("down_proj", linear(config.intermediateSize, c, config.mlpBias));
    m_inputLayerNorm = register_module("input_layernorm", RmsNorm(c, config.rmsNormEps));
    m_postAttentionLayerNorm = register_module("post_attention_layernorm", RmsNorm(c, config.rmsNormEps));
}

LlamaImpl::LlamaImpl(const LlamaConfig& config) : m_config(config) {
    auto& model = moduleAt(*this, "model");
    m_embedTokens = model.register_module("embed_tokens", torch::nn::Embedding(config.vocabSize, config.hiddenSize));
    auto& layers = moduleAt(*this, "model.layers");
    for (int i = 0; i < config.numHiddenLayers; ++i) {
        m_layers.push_back(layers.register_module(std::to_string(i), LlamaDecoderLayer(config)));
    }
    m_norm = model.register_module("norm", RmsNorm(config.hiddenSize, config.rmsNormEps));
    if (!config.tieWordEmbeddings) {
        m_lmHead = register_module(
            "lm_head", torch::nn::Linear(torch::nn::LinearOptions(config.hiddenSize, config.vocabSize).bias(false)));
    }
    // HF's inv_freq = 1 / theta^(arange(0, D, 2) / D), in fp32 (a non-persistent buffer there).
    const auto exponents = torch::arange(0, config.headDim, 2, torch::kLong).to(torch::kFloat) / static_cast<float>(config.headDim);
    m_inverseFrequency = 1.0 / torch::pow(static_cast<float>(config.ropeTheta), exponents);  // [D/2]
}

// ---------------------------------------------------------------------------------------------
// Part 3: forward

torch::Tensor LlamaDecoderLayerImpl::forward(const torch::Tensor& hidden, const torch::Tensor& cos,
                                             const torch::Tensor& sin, const torch::Tensor& additiveMask,
                                             torch::Tensor* cachedKeys, torch::Tensor* cachedValues,
                                             torch::Tensor* attention) {
    const auto b = hidden.size(0), t = hidden.size(1);
    const int hq = m_config.numAttentionHeads, hkv = m_config.numKeyValueHeads, d = m_config.headDim;

    auto x = m_inputLayerNorm(hidden);
    auto q = m_qProj(x).view({b, t, hq, d}).transpose(1, 2);   // [B, Hq, T, D]
    auto k = m_kProj(x).view({b, t, hkv, d}).transpose(1, 2);  // [B, Hkv, T, D]
    auto v = m_vProj(x).view({b, t, hkv, d}).transpose(1, 2);  // [B, Hkv, T, D]
    const auto cosHeads = cos.unsqueeze(1), sinHeads = sin.unsqueeze(1);  // [B, 1, T, D]
    q = q * cosHeads + rotateHalf(q) * sinHeads;
    k = k * cosHeads + rotateHalf(k) * sinHeads;
    if (cachedKeys) {
        if (cachedKeys->defined()) {
            k = torch::cat({*cachedKeys, k}, 2);  // [B, Hkv, Tk, D]
            v = torch::cat({*cachedValues, v}, 2);
        }
        *cachedKeys = k;
        *cachedValues = v;
    }
    // Query head j reads KV head j / (Hq / Hkv), as HF's repeat_kv.
    if (hkv != hq) {
        k = k.repeat_interleave(hq / hkv, 1);  // [B, Hq, Tk, D]
        v = v.repeat_interleave(hq / hkv, 1);
    }

    torch::Tensor context;
#if TORCH_VERSION_MAJOR >= 2
    if (!attention) context = at::scaled_dot_product_attention(q, k, v, additiveMask, 0.0, false);
#endif
    if (!context.defined()) {
        auto scores = torch::matmul(q, k.transpose(2, 3)) / std::sqrt(static_cast<double>(d));  // [B, Hq, T, Tk]
        scores = scores + additiveMask;
        const auto probabilities = torch::softmax(scores, -1, torch::kFloat).to(q.scalar_type());
        if (attention) *attention = probabilities;
        context = torch::matmul(probabilities, v);  // [B, Hq, T, D]
    }
    context = context.transpose(1, 2).reshape({b, t, hq * d});  // [B, T, Hq·D]
    auto h = hidden + m_oProj(context);

    x = m_postAttentionLayerNorm(h);
    return h + m_downProj(torch::silu(m_gateProj(x)) * m_upProj(x));
}

torch::Tensor LlamaImpl::embed(const torch::Tensor& inputIds) { return m_embedTokens(inputIds); }

LlamaOutputs LlamaImpl::forward(const torch::Tensor& inputsEmbeds, const torch::Tensor& attentionMask,
                                const torch::Tensor& positionIds, const LlamaOptions& options) {
    if (inputsEmbeds.dim() != 3 || inputsEmbeds.size(2) != m_config.hiddenSize)
        throw Error("inputs_embeds must be [batch, tokens, " + std::to_string(m_config.hiddenSize) + "]");
    const auto b = inputsEmbeds.size(0), t = inputsEmbeds.size(1);
    const auto device = inputsEmbeds.device();
    const auto dtype = inputsEmbeds.scalar_type();
    KvCache* cache = options.cache;
    if (cache && cache->keys.size() != m_layers.size()) {
        if (cache->length() != 0) throw Error("KV cache was built for another model");
        cache->keys.assign(m_layers.size(), {});
        cache->values.assign(m_layers.size(), {});
    }
    const int64_t past = cache ? cache->length() : 0;
    const int64_t keysTotal = past + t;

    auto keep = attentionMask.defined() ? attentionMask.to(device, torch::kBool)
                                        : torch::ones({b, keysTotal}, torch::TensorOptions(device).dtype(torch::kBool));
    if (keep.dim() != 2 || keep.size(0) != b || keep.size(1) != keysTotal)
        throw Error("attention_mask must be [batch, cached + new tokens] = [" + std::to_string(b) + ", " +
                    std::to_string(keysTotal) + "]");
    auto positions = positionIds.defined()
                         ? positionIds.to(device, torch::kLong)
                         : torch::arange(past, keysTotal, torch::TensorOptions(device).dtype(torch::kLong)).expand({b, t});
    if (positions.sizes() != torch::IntArrayRef({b, t})) throw Error("position_ids must be [batch, tokens]");

    // Rotary angles in fp32, cast to the activation dtype.
    const auto angles = positions.to(torch::kFloat).unsqueeze(-1) * m_inverseFrequency.to(device).view({1, 1, -1});  // [B, T, D/2]
    const auto rotary = torch::cat({angles, angles}, -1);  // [B, T, D]
    const auto cos = rotary.cos().to(dtype), sin = rotary.sin().to(dtype);

    // Causal over cache slots (query i sits at slot past + i), the padding mask, the optional window.
    const auto longOptions = torch::TensorOptions(device).dtype(torch::kLong);
    const auto querySlots = torch::arange(past, keysTotal, longOptions).view({t, 1});
    const auto keySlots = torch::arange(0, keysTotal, longOptions).view({1, keysTotal});
    auto allowed = keySlots <= querySlots;  // [T, Tk]
    if (m_config.slidingWindow > 0) allowed = allowed & (keySlots > querySlots - m_config.slidingWindow);
    allowed = allowed.unsqueeze(0).unsqueeze(0) & keep.view({b, 1, 1, keysTotal});  // [B, 1, T, Tk]
    const auto additiveMask = torch::zeros({b, 1, t, keysTotal}, inputsEmbeds.options())
                                  .masked_fill(allowed.logical_not(), lowestOf(dtype));

    LlamaOutputs outputs;
    auto hidden = inputsEmbeds;
    for (std::size_t i = 0; i < m_layers.size(); ++i) {
        if (options.cancel && options.cancel->load()) throw Cancelled();
        const TimelineSpanGuard span("layer", Stage::Decoder, static_cast<int>(i));
        if (options.keepHiddenStates) outputs.hiddenStates.push_back(hidden);
        torch::Tensor attention;
        hidden = m_layers[i]->forward(hidden, cos, sin, additiveMask, cache ? &cache->keys[i] : nullptr,
                                      cache ? &cache->values[i] : nullptr, options.keepAttentions ? &attention : nullptr);
        if (options.keepAttentions) outputs.attentions.push_back(attention);
    }
    hidden = m_norm(hidden);
    if (options.keepHiddenStates) outputs.hiddenStates.push_back(hidden);

    if (options.lastPositionLogitsOnly) hidden = hidden.slice(1, t - 1, t);  // [B, 1, C]
    outputs.logits = m_lmHead ? m_lmHead(hidden) : torch::matmul(hidden, m_embedTokens->weight.t());  // [B, T, V]
    return outputs;
}

}  // namespace tokenscope
