#include "models/meter_layers.h"

#include <cmath>

#include "common/error.h"
#include "engine/timeline.h"
#include "models/transformer_block.h"

namespace tokenscope {

namespace {

torch::nn::LayerNorm layerNorm(int width, double eps) {
    return torch::nn::LayerNorm(torch::nn::LayerNormOptions({width}).eps(eps));
}

// [B, N, H·dh] -> [B, H, N, dh]
torch::Tensor splitHeads(const torch::Tensor& x, int heads) {
    const auto b = x.size(0), n = x.size(1);
    return x.view({b, n, heads, x.size(2) / heads}).transpose(1, 2);
}

// [B, H, N, dh] -> [B, N, H·dh]
torch::Tensor mergeHeads(const torch::Tensor& x) {
    return x.transpose(1, 2).reshape({x.size(0), x.size(2), x.size(1) * x.size(3)});
}

// softmax(q kᵀ·scale, masked) v for q [B, H, Nq, dh], k, v [B, H, Nk, dh].
torch::Tensor attend(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v, const KeyMask& mask,
                     double scale, bool wantProbabilities, torch::Tensor* probabilities) {
    if (mask.multiplicative.defined()) {
        auto scores = torch::matmul(q, k.transpose(-1, -2)).mul_(scale);  // [B, H, Nq, Nk]
        auto p = multiplicativeMaskedSoftmaxInPlace(scores, mask.multiplicative);
        if (wantProbabilities) *probabilities = p;
        return torch::matmul(p, v);  // [B, H, Nq, dh]
    }
    AttentionProbe probe;
    probe.wantFull = wantProbabilities;
    AttentionProbs probs;
    auto context = scaledAttention(q, k, v, mask.additive, scale, wantProbabilities ? &probe : nullptr, &probs);
    if (wantProbabilities) *probabilities = probs.full;
    return context;
}

}  // namespace

BertAttentionImpl::BertAttentionImpl(int hiddenSize, int heads, double layerNormEps) : m_heads(heads) {
    if (heads <= 0 || hiddenSize % heads != 0) throw Error("METER: the hidden size must be a multiple of the attention heads");
    auto& self = moduleAt(*this, "self");
    m_query = self.register_module("query", torch::nn::Linear(hiddenSize, hiddenSize));
    m_key = self.register_module("key", torch::nn::Linear(hiddenSize, hiddenSize));
    m_value = self.register_module("value", torch::nn::Linear(hiddenSize, hiddenSize));
    auto& output = moduleAt(*this, "output");
    m_dense = output.register_module("dense", torch::nn::Linear(hiddenSize, hiddenSize));
    m_norm = output.register_module("LayerNorm", layerNorm(hiddenSize, layerNormEps));
}

AttentionResult BertAttentionImpl::forward(const torch::Tensor& queries, const torch::Tensor& keyValues, const KeyMask& mask,
                                           bool wantProbabilities, bool wantKeyMean) {
    const auto q = splitHeads(m_query(queries), m_heads);     // [B, H, Nq, dh]
    const auto k = splitHeads(m_key(keyValues), m_heads);     // [B, H, Nk, dh]
    const auto v = splitHeads(m_value(keyValues), m_heads);   // [B, H, Nk, dh]
    AttentionResult result;
    if (wantKeyMean) result.keyMean = k.mean(1);  // [B, Nk, dh]
    const double scale = 1.0 / std::sqrt(static_cast<double>(q.size(3)));
    const auto context = attend(q, k, v, mask, scale, wantProbabilities, &result.probabilities);  // [B, H, Nq, dh]
    result.output = m_norm(m_dense(mergeHeads(context)).add_(queries));
    return result;
}

BertLayerImpl::BertLayerImpl(int hiddenSize, int heads, int intermediateSize, double layerNormEps, bool crossAttention) {
    attention = register_module("attention", BertAttention(hiddenSize, heads, layerNormEps));
    if (crossAttention) crossattention = register_module("crossattention", BertAttention(hiddenSize, heads, layerNormEps));
    m_intermediate = moduleAt(*this, "intermediate").register_module("dense", torch::nn::Linear(hiddenSize, intermediateSize));
    auto& output = moduleAt(*this, "output");
    m_output = output.register_module("dense", torch::nn::Linear(intermediateSize, hiddenSize));
    m_outputNorm = output.register_module("LayerNorm", layerNorm(hiddenSize, layerNormEps));
}

torch::Tensor BertLayerImpl::feedForward(const torch::Tensor& x) {
    return m_outputNorm(m_output(torch::gelu(m_intermediate(x))).add_(x));
}

ClipResidualBlockImpl::ClipResidualBlockImpl(int width, int heads, double layerNormEps) : m_heads(heads), m_eps(layerNormEps) {
    if (heads <= 0 || width % heads != 0) throw Error("METER: the CLIP width must be a multiple of its heads");
    auto& attn = moduleAt(*this, "attn");
    m_inProjWeight = attn.register_parameter("in_proj_weight", torch::zeros({3 * width, width}));
    m_inProjBias = attn.register_parameter("in_proj_bias", torch::zeros({3 * width}));
    m_outProj = attn.register_module("out_proj", torch::nn::Linear(width, width));
    m_norm1 = register_module("ln_1", layerNorm(width, layerNormEps));
    m_norm2 = register_module("ln_2", layerNorm(width, layerNormEps));
    auto& mlp = moduleAt(*this, "mlp");
    m_fc = mlp.register_module("c_fc", torch::nn::Linear(width, 4 * width));
    m_proj = mlp.register_module("c_proj", torch::nn::Linear(4 * width, width));
}

torch::Tensor ClipResidualBlockImpl::forward(const torch::Tensor& x, torch::Tensor* attention) {
    torch::Tensor hidden;
    {
        const TimelineSpanGuard span("attention", Stage::Vision, -1, true);
        const auto qkv = torch::linear(m_norm1(x), m_inProjWeight, m_inProjBias).chunk(3, -1);  // 3 x [B, N, W]
        const auto q = splitHeads(qkv[0], m_heads), k = splitHeads(qkv[1], m_heads), v = splitHeads(qkv[2], m_heads);
        const double scale = 1.0 / std::sqrt(static_cast<double>(q.size(3)));
        const auto context = attend(q, k, v, KeyMask{}, scale, attention != nullptr, attention);  // [B, H, N, dh]
        hidden = m_outProj(mergeHeads(context)).add_(x);
    }
    const TimelineSpanGuard span("mlp", Stage::Vision, -1, true);
    const auto inner = m_fc(m_norm2(hidden));
    return m_proj(inner * torch::sigmoid(1.702 * inner)).add_(hidden);  // QuickGELU
}

torch::Tensor adaptPositionEncoding(const torch::Tensor& table, int64_t grid) {
    if (table.dim() != 2) throw Error("adapt_position_encoding: the positional embedding must be [1 + g², W]");
    const auto rows = table.size(0), width = table.size(1);
    const auto before = static_cast<int64_t>(std::llround(std::sqrt(static_cast<double>(rows - 1))));
    if (rows < 2 || before * before + 1 != rows)
        throw Error("adapt_position_encoding: " + std::to_string(rows) + " rows are not a square grid + 1");
    if (grid <= 0) throw Error("adapt_position_encoding: the new grid must be positive");
    if (grid == before) return table;
    const auto patches = table.slice(0, 1).reshape({before, before, width}).permute({2, 0, 1}).unsqueeze(0);  // [1, W, g, g]
    namespace F = torch::nn::functional;
    const auto resized = F::interpolate(patches.to(torch::kFloat), F::InterpolateFuncOptions()
                                                                       .size(std::vector<int64_t>{grid, grid})
                                                                       .mode(torch::kBicubic)
                                                                       .align_corners(false));  // [1, W, G, G]
    const auto flat = resized.squeeze(0).permute({1, 2, 0}).reshape({grid * grid, width}).to(table.scalar_type());  // [G², W]
    return torch::cat({table.slice(0, 0, 1), flat}, 0);  // [1 + G², W]
}

}  // namespace tokenscope
