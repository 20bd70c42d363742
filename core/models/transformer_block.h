#pragma once

// Core-internal: the pre-LayerNorm transformer block that ViLT and the CLIP vision tower share,
// and attention that can hand out the probability rows a caller asks for.

#include <cstdint>
#include <string>

#include <torch/torch.h>

#include "config/model_config.h"

namespace tokenscope {

// Which attention probabilities to keep, besides the output. Requesting nothing keeps attention
// fused (scaled_dot_product_attention on LibTorch 2.x).
struct AttentionProbe {
    bool wantFull = false;      // [B, H, N, N]
    bool wantRows = false;      // queries [queryBegin, queryEnd) against keys [keyBegin, keyEnd)
    int64_t queryBegin = 0, queryEnd = 0;
    int64_t keyBegin = 0, keyEnd = 0;
};

struct AttentionProbs {
    torch::Tensor full;  // [B, H, N, N] when wantFull
    torch::Tensor rows;  // [B, H, queryEnd-queryBegin, keyEnd-keyBegin] when wantRows (softmax over all keys)
};

// softmax(q k^T * scale + mask) v for q, k, v [B, H, N, D]; additiveMask [B, 1, 1, N] or undefined.
torch::Tensor scaledAttention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                              const torch::Tensor& additiveMask, double scale, const AttentionProbe* probe,
                              AttentionProbs* probs);

// Additive key mask from a 0/1 mask [B, N]: 0 where kept, the dtype's lowest value where masked.
torch::Tensor additiveKeyMask(const torch::Tensor& keepMask, torch::Dtype dtype);

torch::Tensor activate(const torch::Tensor& x, Activation activation);

// PuMer's differentiable_masked_softmax (src/pumer/model/common.py), the same as DynamicViT's
// softmax_with_policy: scores [B, H, Nq, N], keyMask [B, N] (0/1 or fractional weights).
// M = m + (1 - m)·I (a masked token still attends to itself), A = exp(S - rowmax(S))·M in fp32,
// P = (A + eps/N) / (ΣA + eps), cast back to the scores' dtype.
torch::Tensor multiplicativeMaskedSoftmax(const torch::Tensor& scores, const torch::Tensor& keyMask, double eps = 1e-6);
// The same, overwriting `scores` (a fresh product nobody else holds) when no gradient is recorded
// and the scores are fp32; otherwise as above. Returns the probabilities.
torch::Tensor multiplicativeMaskedSoftmaxInPlace(torch::Tensor& scores, const torch::Tensor& keyMask, double eps = 1e-6);

// Additive key mask [B, 1, 1, N] from a key-weight mask [B, N] that may be fractional after token
// merging: 0 where 1, log(m) where 0 < m < 1, the dtype's lowest value where 0. Equal to
// additiveKeyMask() for a 0/1 mask.
torch::Tensor additiveWeightMask(const torch::Tensor& weightMask, torch::Dtype dtype);

// Per-call changes to a block's attention half that token reducers need.
struct AttentionOverrides {
    double layerNormEps = 0.0;        // > 0: LN1 (and, via mlpHalf, LN2) with this eps instead of the module's
    torch::Tensor multiplicativeMask; // [B, N] defined: PuMer's masked softmax instead of additive masking
    double maskedSoftmaxEps = 1e-6;
    bool wantKeyMean = false;         // fills keyMean [B, N, D] = keys averaged over heads
    bool wantQueryMean = false;       // fills queryMean [B, N, D]
    torch::Tensor keyMean, queryMean; // outputs
};

// Where a block's parameters live in the checkpoint, relative to the block's own module.
struct BlockNames {
    std::string layerNormBefore, layerNormAfter;
    std::string attention;  // container of query/key/value (or q/k/v_proj)
    std::string query, key, value;
    std::string attentionOutput;  // container of the output projection ("" = attention container)
    std::string outputProjection;
    std::string mlpIn, mlpOut;  // full dotted paths, e.g. "intermediate.dense"
};

struct BlockShape {
    int hiddenSize = 0;
    int numHeads = 0;
    int intermediateSize = 0;
    double layerNormEps = 1e-12;
    bool qkvBias = true;
    Activation activation = Activation::Gelu;
};

// One pre-LN block: h += O(MHA(LN1(h))); h += FC2(act(FC1(LN2(h)))). The two halves are separate
// calls so that a token reducer can run between them.
class PreNormBlockImpl : public torch::nn::Module {
public:
    PreNormBlockImpl(const BlockShape& shape, const BlockNames& names);
    // hidden [B, N, C] -> [B, N, C]; additiveMask [B, 1, 1, N] or undefined.
    torch::Tensor attentionHalf(const torch::Tensor& hidden, const torch::Tensor& additiveMask,
                                const AttentionProbe* probe, AttentionProbs* probs);
    torch::Tensor mlpHalf(const torch::Tensor& hidden);
    // The same halves with reducer overrides (explicit attention whenever a multiplicative mask is set).
    torch::Tensor attentionHalf(const torch::Tensor& hidden, const torch::Tensor& additiveMask,
                                const AttentionProbe* probe, AttentionProbs* probs, AttentionOverrides& overrides);
    torch::Tensor mlpHalf(const torch::Tensor& hidden, double layerNormEps);
    // Keys [B, H, N, D] of LN1(hidden), for reducers that use the key metric.
    torch::Tensor keys(const torch::Tensor& hidden);

private:
    torch::nn::Module& container(const std::string& dottedPath);
    template <typename M>
    M registerAt(const std::string& dottedPath, M module);

    BlockShape m_shape;
    torch::nn::LayerNorm m_layerNormBefore{nullptr}, m_layerNormAfter{nullptr};
    torch::nn::Linear m_query{nullptr}, m_key{nullptr}, m_value{nullptr}, m_output{nullptr};
    torch::nn::Linear m_mlpIn{nullptr}, m_mlpOut{nullptr};
};
TORCH_MODULE(PreNormBlock);

// Registers (or finds) the plain container module at a dotted path under root ("a.b" -> root.a.b).
torch::nn::Module& moduleAt(torch::nn::Module& root, const std::string& dottedPath);

}  // namespace tokenscope
