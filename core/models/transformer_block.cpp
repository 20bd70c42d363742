#include "models/transformer_block.h"

#include "engine/version.h"

#include <torch/version.h>  // TORCH_VERSION_MAJOR / MINOR for the LibTorch 2.x paths

#include <cmath>
#include <limits>

namespace tokenscope {

torch::Tensor additiveKeyMask(const torch::Tensor& keepMask, torch::Dtype dtype) {
    // HF: (1 - mask) * finfo(dtype).min, broadcast over heads and queries.
    const double lowest = dtype == torch::kHalf       ? -65504.0
                          : dtype == torch::kBFloat16 ? -3.3895313892515355e38
                          : dtype == torch::kDouble   ? std::numeric_limits<double>::lowest()
                                                      : static_cast<double>(std::numeric_limits<float>::lowest());
    auto inverted = 1.0 - keepMask.to(dtype);
    return (inverted * lowest).unsqueeze(1).unsqueeze(2);  // [B, 1, 1, N]
}

torch::Tensor activate(const torch::Tensor& x, Activation activation) {
    switch (activation) {
        case Activation::Gelu: return torch::gelu(x);
        case Activation::GeluTanh: return torch::gelu(x, "tanh");
        case Activation::QuickGelu: return x * torch::sigmoid(1.702 * x);
        case Activation::Relu: return torch::relu(x);
    }
    return x;
}

namespace {

// M = m + (1 - m)·I as a [B, 1, Nq, N] float mask, or undefined when it is all ones (a mask of ones
// multiplies by nothing). Checked on the CPU only: on a GPU the check would cost a device
// synchronisation per layer.
torch::Tensor selfAttendingMask(const torch::Tensor& keyMask, int64_t rows) {
    if (keyMask.is_cpu() && (keyMask == 1).all().item<bool>()) return {};
    const auto b = keyMask.size(0), n = keyMask.size(1);
    auto mask = keyMask.reshape({b, 1, 1, n}).to(torch::kFloat);
    const auto eye = torch::eye(rows, n, mask.options()).view({1, 1, rows, n});
    return mask + (1.0 - mask) * eye;  // [B, 1, Nq, N]
}

}  // namespace

// The masked softmax with an autograd rule that keeps only what its gradient needs: the
// probabilities P (the next matmul keeps them anyway), the row sums S + eps and the positions of the
// row maxima. Built from the same operations in the same order as multiplicativeMaskedSoftmax, so the
// values are identical; the functional form keeps exp(S - max) and the unnormalised weights besides P,
// two more [B, H, Nq, N] tensors per layer. Gradient (A = P (S + eps) - eps/N, g = dL/dP):
// dL/dA = (g - <g, P>) / (S + eps); dL/ds = dL/dA · A, and the row maximum's position also gets
// -sum(dL/ds), as max() routes it. The key mask must not need a gradient here; an empty mask means
// all ones (autograd needs every tensor argument defined).
class MaskedSoftmaxFunction : public torch::autograd::Function<MaskedSoftmaxFunction> {
public:
    static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& scores,
                                 const torch::Tensor& mask, double eps) {
        const auto n = scores.size(-1);
        auto [rowMax, rowArgmax] = scores.max(-1, true);
        auto weights = scores - rowMax;
        weights.exp_();
        if (mask.numel() > 0) weights.mul_(mask);
        auto total = weights.sum(-1, true);
        total.add_(eps);
        weights.add_(eps / static_cast<double>(n));
        weights.div_(total);
        ctx->save_for_backward({weights, total, rowArgmax});
        ctx->saved_data["shift"] = eps / static_cast<double>(n);
        return weights;
    }

    static torch::autograd::tensor_list backward(torch::autograd::AutogradContext* ctx, torch::autograd::tensor_list grads) {
        const auto saved = ctx->get_saved_variables();
        const auto& probabilities = saved[0];
        const auto& total = saved[1];
        const auto& rowArgmax = saved[2];
        const auto shift = ctx->saved_data["shift"].toDouble();
        const auto& g = grads[0];
        const auto weights = probabilities * total - shift;                                     // A
        auto gradScores = (g - (g * probabilities).sum(-1, true)) / total * weights;            // dL/ds through A
        gradScores.scatter_add_(-1, rowArgmax, -gradScores.sum(-1, true));                      // through the max
        return {gradScores, torch::Tensor(), torch::Tensor()};
    }
};

torch::Tensor multiplicativeMaskedSoftmax(const torch::Tensor& scores, const torch::Tensor& keyMask, double eps) {
    const auto n = keyMask.size(1);
    const auto mask = selfAttendingMask(keyMask, scores.size(2));
    if (torch::GradMode::is_enabled() && scores.requires_grad() && !keyMask.requires_grad() &&
        scores.scalar_type() == torch::kFloat)
        return MaskedSoftmaxFunction::apply(scores, mask.defined() ? mask : torch::empty({0}, scores.options()), eps);
    const auto rowMax = std::get<0>(scores.max(-1, true));
    auto weights = (scores - rowMax).to(torch::kFloat).exp();  // [B, H, Nq, N]
    if (mask.defined()) weights = weights * mask;
    weights = (weights + eps / static_cast<double>(n)) / (weights.sum(-1, true) + eps);
    return weights.to(scores.scalar_type());
}

torch::Tensor multiplicativeMaskedSoftmaxInPlace(torch::Tensor& scores, const torch::Tensor& keyMask, double eps) {
    const bool differentiable = torch::GradMode::is_enabled() && (scores.requires_grad() || keyMask.requires_grad());
    if (differentiable || scores.scalar_type() != torch::kFloat) return multiplicativeMaskedSoftmax(scores, keyMask, eps);
    // The same operations in the same order on the scores' own buffer: no allocation the size of the
    // scores, five passes instead of seven.
    const auto n = keyMask.size(1);
    const auto mask = selfAttendingMask(keyMask, scores.size(2));
    scores.sub_(std::get<0>(scores.max(-1, true)));
    scores.exp_();
    if (mask.defined()) scores.mul_(mask);
    auto total = scores.sum(-1, true);
    total.add_(eps);
    scores.add_(eps / static_cast<double>(n));
    scores.div_(total);
    return scores;
}

torch::Tensor additiveWeightMask(const torch::Tensor& weightMask, torch::Dtype dtype) {
    const auto m = weightMask.to(dtype);
    const auto lowest = additiveKeyMask(torch::zeros({1, 1}, m.options()), dtype).item<double>();
    auto additive = torch::where(m >= 1.0, torch::zeros_like(m),
                                 torch::where(m > 0.0, m.clamp_min(1e-30).log(), torch::full_like(m, lowest)));
    return additive.unsqueeze(1).unsqueeze(2);  // [B, 1, 1, N]
}

// x [..., Cin] -> [..., Cout] as one addmm over the folded rows, so the bias is added inside the
// GEMM instead of in a second pass over the output (LibTorch 1.13's linear() runs matmul + add_ for
// inputs of rank 3; 2.x folds them itself).
//
// Short inputs are padded with zero rows to a multiple of 16 when 8 or more rows of the last group of 16
// are missing (float CPU inference only). OpenBLAS's AVX2 SGEMM (16x4 micro-kernel) gets the rows as its
// N dimension and runs such a remainder through its slow edge kernels: for one ViLT-B layer's four
// linears on this project's 2-core AMD EPYC (2 threads), 44 rows took 9.2 ms as they are and 5.3 ms
// padded to 48 (the pad's copy included), 60 rows 9.0 and 6.5 ms, 76 rows 10.1 and 7.5 ms; from 1 to 7
// missing rows, and past a few hundred rows, padding gained nothing. Token reducers leave exactly
// such short sequences. Only OpenBLAS's Haswell and Zen kernel sets (the same SGEMM) are padded for:
// other BLAS libraries were not measured. Each output row is the same dot products; only the kernel
// that computes a row's last bits may differ (about 1e-6 relative).
bool padsRows(const torch::Tensor& x2d) {
    constexpr int64_t kMaxPaddedRows = 256;
    static const bool avx2OpenBlas = openblasCore() == "Haswell" || openblasCore() == "Zen";
    const auto rows = x2d.size(0);
    return avx2OpenBlas && rows < kMaxPaddedRows && rows % 16 >= 8 && x2d.device().is_cpu() &&
           x2d.scalar_type() == torch::kFloat && !torch::GradMode::is_enabled();
}

torch::Tensor linear(torch::nn::Linear& layer, const torch::Tensor& x) {
    if (x.dim() < 3 || !layer->bias.defined() || !x.is_contiguous()) return layer(x);
    auto shape = x.sizes().vec();
    auto rows = x.view({-1, shape.back()});  // [rows, Cin]
    const auto count = rows.size(0);
    if (padsRows(rows)) rows = torch::constant_pad_nd(rows, {0, 0, 0, 16 - count % 16});
    const auto out = torch::addmm(layer->bias, rows, layer->weight.t()).narrow(0, 0, count);  // [rows, Cout]
    shape.back() = out.size(1);
    return out.view(shape);
}

torch::Tensor scaledAttention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                              const torch::Tensor& additiveMask, double scale, const AttentionProbe* probe,
                              AttentionProbs* probs) {
    const bool wantFull = probe && probe->wantFull;
    const bool wantRows = probe && probe->wantRows;
    auto probabilities = [&](const torch::Tensor& queries) {
        // In place on the fresh product: nothing saves it for a backward pass.
        auto scores = torch::matmul(queries, k.transpose(-1, -2)).mul_(scale);  // [B, H, n, N]
        if (additiveMask.defined()) scores.add_(additiveMask);
        return torch::softmax(scores, -1);
    };
    torch::Tensor output;
    if (wantFull) {
        auto full = probabilities(q);
        output = torch::matmul(full, v);
        probs->full = full;
        if (wantRows) {
            probs->rows = full.slice(2, probe->queryBegin, probe->queryEnd).slice(3, probe->keyBegin, probe->keyEnd);
        }
        return output;
    }
// The scale argument arrived in LibTorch 2.1.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 1)
    {
        c10::optional<torch::Tensor> mask;
        if (additiveMask.defined()) mask = additiveMask;
        output = at::scaled_dot_product_attention(q, k, v, mask, 0.0, false, scale);
    }
#else
    output = torch::matmul(probabilities(q), v);
#endif
    if (wantRows) {
        auto rows = probabilities(q.slice(2, probe->queryBegin, probe->queryEnd));
        probs->rows = rows.slice(3, probe->keyBegin, probe->keyEnd);
    }
    return output;
}

torch::nn::Module& moduleAt(torch::nn::Module& root, const std::string& dottedPath) {
    torch::nn::Module* current = &root;
    std::size_t start = 0;
    while (start < dottedPath.size()) {
        const auto dot = dottedPath.find('.', start);
        const std::string part = dottedPath.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
        auto children = current->named_children();
        if (auto* found = children.find(part)) {
            current = found->get();
        } else {
            current = current->register_module(part, std::make_shared<torch::nn::Module>()).get();
        }
        if (dot == std::string::npos) break;
        start = dot + 1;
    }
    return *current;
}

template <typename M>
M PreNormBlockImpl::registerAt(const std::string& dottedPath, M module) {
    const auto dot = dottedPath.rfind('.');
    if (dot == std::string::npos) return register_module(dottedPath, module);
    return moduleAt(*this, dottedPath.substr(0, dot)).register_module(dottedPath.substr(dot + 1), module);
}

PreNormBlockImpl::PreNormBlockImpl(const BlockShape& shape, const BlockNames& names) : m_shape(shape) {
    const auto c = shape.hiddenSize;
    const auto layerNorm = [&] {
        return torch::nn::LayerNorm(torch::nn::LayerNormOptions({c}).eps(shape.layerNormEps));
    };
    const std::string attention = names.attention.empty() ? "" : names.attention + ".";
    const std::string output = names.attentionOutput.empty() ? attention : names.attentionOutput + ".";
    m_layerNormBefore = registerAt(names.layerNormBefore, layerNorm());
    m_query = registerAt(attention + names.query, torch::nn::Linear(torch::nn::LinearOptions(c, c).bias(shape.qkvBias)));
    m_key = registerAt(attention + names.key, torch::nn::Linear(torch::nn::LinearOptions(c, c).bias(shape.qkvBias)));
    m_value = registerAt(attention + names.value, torch::nn::Linear(torch::nn::LinearOptions(c, c).bias(shape.qkvBias)));
    m_output = registerAt(output + names.outputProjection, torch::nn::Linear(c, c));
    m_layerNormAfter = registerAt(names.layerNormAfter, layerNorm());
    m_mlpIn = registerAt(names.mlpIn, torch::nn::Linear(c, shape.intermediateSize));
    m_mlpOut = registerAt(names.mlpOut, torch::nn::Linear(shape.intermediateSize, c));
}

torch::Tensor PreNormBlockImpl::keys(const torch::Tensor& hidden) {
    const auto b = hidden.size(0), n = hidden.size(1);
    const auto headDim = m_shape.hiddenSize / m_shape.numHeads;
    return linear(m_key, m_layerNormBefore(hidden)).view({b, n, m_shape.numHeads, headDim}).transpose(1, 2);  // [B, H, N, D]
}

torch::Tensor PreNormBlockImpl::attentionHalf(const torch::Tensor& hidden, const torch::Tensor& additiveMask,
                                              const AttentionProbe* probe, AttentionProbs* probs) {
    const auto b = hidden.size(0), n = hidden.size(1);
    const auto heads = m_shape.numHeads;
    const auto headDim = m_shape.hiddenSize / heads;
    const auto normed = m_layerNormBefore(hidden);
    const auto q = linear(m_query, normed).view({b, n, heads, headDim}).transpose(1, 2);  // [B, H, N, D]
    const auto k = linear(m_key, normed).view({b, n, heads, headDim}).transpose(1, 2);    // [B, H, N, D]
    const auto v = linear(m_value, normed).view({b, n, heads, headDim}).transpose(1, 2);  // [B, H, N, D]
    const double scale = 1.0 / std::sqrt(static_cast<double>(headDim));
    const auto context = scaledAttention(q, k, v, additiveMask, scale, probe, probs);  // [B, H, N, D]
    return linear(m_output, context.transpose(1, 2).reshape({b, n, m_shape.hiddenSize})).add_(hidden);
}

torch::Tensor PreNormBlockImpl::attentionHalf(const torch::Tensor& hidden, const torch::Tensor& additiveMask,
                                              const AttentionProbe* probe, AttentionProbs* probs,
                                              AttentionOverrides& overrides) {
    const auto b = hidden.size(0), n = hidden.size(1);
    const auto heads = m_shape.numHeads;
    const auto headDim = m_shape.hiddenSize / heads;
    const auto normed = overrides.layerNormEps > 0.0
                            ? torch::layer_norm(hidden, {m_shape.hiddenSize}, m_layerNormBefore->weight,
                                                m_layerNormBefore->bias, overrides.layerNormEps)
                            : m_layerNormBefore(hidden);
    const auto q = linear(m_query, normed).view({b, n, heads, headDim}).transpose(1, 2);  // [B, H, N, D]
    const auto k = linear(m_key, normed).view({b, n, heads, headDim}).transpose(1, 2);    // [B, H, N, D]
    const auto v = linear(m_value, normed).view({b, n, heads, headDim}).transpose(1, 2);  // [B, H, N, D]
    if (overrides.wantKeyMean) overrides.keyMean = k.mean(1);      // [B, N, D]
    if (overrides.wantQueryMean) overrides.queryMean = q.mean(1);  // [B, N, D]
    const double scale = 1.0 / std::sqrt(static_cast<double>(headDim));
    torch::Tensor context;
    if (overrides.multiplicativeMask.defined()) {
        auto scores = torch::matmul(q, k.transpose(-2, -1)).mul_(scale);  // [B, H, N, N]
        const auto full = multiplicativeMaskedSoftmaxInPlace(scores, overrides.multiplicativeMask, overrides.maskedSoftmaxEps);
        context = torch::matmul(full, v);  // [B, H, N, D]
        if (probe && probe->wantFull) probs->full = full;
        if (probe && probe->wantRows)
            probs->rows = full.slice(2, probe->queryBegin, probe->queryEnd).slice(3, probe->keyBegin, probe->keyEnd);
    } else {
        context = scaledAttention(q, k, v, additiveMask, scale, probe, probs);  // [B, H, N, D]
    }
    return linear(m_output, context.transpose(1, 2).reshape({b, n, m_shape.hiddenSize})).add_(hidden);
}

torch::Tensor PreNormBlockImpl::mlpHalf(const torch::Tensor& hidden, double layerNormEps) {
    if (layerNormEps <= 0.0) return mlpHalf(hidden);
    const auto normed = torch::layer_norm(hidden, {m_shape.hiddenSize}, m_layerNormAfter->weight,
                                          m_layerNormAfter->bias, layerNormEps);
    return linear(m_mlpOut, activate(linear(m_mlpIn, normed), m_shape.activation)).add_(hidden);
}

torch::Tensor PreNormBlockImpl::mlpHalf(const torch::Tensor& hidden) {
    return linear(m_mlpOut, activate(linear(m_mlpIn, m_layerNormAfter(hidden)), m_shape.activation)).add_(hidden);
}

}  // namespace tokenscope
