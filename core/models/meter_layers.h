#pragma once

// Core-internal: METER's building blocks under the checkpoint's own names (the state_dict of the released
// zdou0830/METER checkpoints).
//  * BertAttention: transformers' post-LN attention sub-block (`attention` / `crossattention`:
//    self.{query,key,value}, output.{dense,LayerNorm}); used by RoBERTa's layers and by METER's
//    co-attention BertCrossLayer (zdou0830/METER meter/modules/bert_model.py; PuMer
//    src/pumer/model/meter/modules_meter.py).
//  * BertLayer: attention, optional crossattention, intermediate.dense / output.{dense,LayerNorm}.
//  * ClipResidualBlock: OpenAI CLIP's pre-LN block with nn.MultiheadAttention's packed in_proj
//    (attn.in_proj_weight rows q|k|v, attn.out_proj), ln_1, ln_2, mlp.c_fc, QuickGELU, mlp.c_proj
//    (METER meter/modules/clip_model.py, PuMer vit_meter.py).

#include <torch/torch.h>

namespace tokenscope {

// The key mask of one attention call. Both undefined = no mask (fused attention where available).
//  * additive [B, 1, 1, Nk]: added to the scaled scores (transformers / original METER);
//  * multiplicative [B, Nk] key weights: PuMer's differentiable_masked_softmax
//    (multiplicativeMaskedSoftmax: M' = m + (1 - m)·eye(Nq, Nk) — a rectangular identity in
//    cross-attention, so query i always sees key i — eps 1e-6).
struct KeyMask {
    torch::Tensor additive;
    torch::Tensor multiplicative;
};

struct AttentionResult {
    torch::Tensor output;         // [B, Nq, C] = LN(queries + dense(context))
    torch::Tensor probabilities;  // [B, H, Nq, Nk] when asked for
    torch::Tensor keyMean;        // [B, Nk, dh] keys averaged over heads, when asked for
};

class BertAttentionImpl : public torch::nn::Module {
public:
    BertAttentionImpl(int hiddenSize, int heads, double layerNormEps);
    // queries [B, Nq, C], keyValues [B, Nk, C] (the same tensor for self-attention).
    AttentionResult forward(const torch::Tensor& queries, const torch::Tensor& keyValues, const KeyMask& mask,
                            bool wantProbabilities = false, bool wantKeyMean = false);

private:
    int m_heads;
    torch::nn::Linear m_query{nullptr}, m_key{nullptr}, m_value{nullptr}, m_dense{nullptr};
    torch::nn::LayerNorm m_norm{nullptr};
};
TORCH_MODULE(BertAttention);

class BertLayerImpl : public torch::nn::Module {
public:
    BertLayerImpl(int hiddenSize, int heads, int intermediateSize, double layerNormEps, bool crossAttention);
    // x [B, N, C] -> LN(x + output.dense(GELU(intermediate.dense(x)))).
    torch::Tensor feedForward(const torch::Tensor& x);

    BertAttention attention{nullptr};
    BertAttention crossattention{nullptr};  // null for RoBERTa's layers

private:
    torch::nn::Linear m_intermediate{nullptr}, m_output{nullptr};
    torch::nn::LayerNorm m_outputNorm{nullptr};
};
TORCH_MODULE(BertLayer);

class ClipResidualBlockImpl : public torch::nn::Module {
public:
    ClipResidualBlockImpl(int width, int heads, double layerNormEps);
    // x [B, N, W] -> [B, N, W]; attention [B, H, N, N] filled when non-null (no mask).
    torch::Tensor forward(const torch::Tensor& x, torch::Tensor* attention = nullptr);

private:
    int m_heads;
    double m_eps;
    torch::Tensor m_inProjWeight, m_inProjBias;  // [3W, W], [3W]
    torch::nn::Linear m_outProj{nullptr}, m_fc{nullptr}, m_proj{nullptr};
    torch::nn::LayerNorm m_norm1{nullptr}, m_norm2{nullptr};
};
TORCH_MODULE(ClipResidualBlock);

// METER's adapt_position_encoding (PuMer vit_meter.py / METER clip_model.py): table [1 + g², W] ->
// [1 + grid², W]: the CLS row kept, the rest reshaped row-major to g×g, bicubic (align_corners =
// false, A = -0.75) to grid×grid, flattened, CLS prepended. Throws Error when the table is not a
// square grid + 1.
torch::Tensor adaptPositionEncoding(const torch::Tensor& table, int64_t grid);

}  // namespace tokenscope
