#pragma once

// Core-internal: ViLT (transformers' ViltModel and its heads) under the checkpoint's own names.
// Parts: config (ViltConfig), parameters (constructor), forward (encode + head).

#include <atomic>
#include <optional>
#include <vector>

#include <torch/torch.h>

#include "config/model_config.h"
#include "models/transformer_block.h"
#include "reduce/pumer.h"

namespace tokenscope {

// Raw inputs, named as transformers names them.
struct ViltInputs {
    torch::Tensor inputIds;       // [B, T] int64
    torch::Tensor attentionMask;  // [B, T] 0/1
    torch::Tensor tokenTypeIds;   // [B, T] int64 (undefined = zeros)
    torch::Tensor pixelValues;    // [B, C, H, W]; NLVR2: [B, I, C, H, W]
    torch::Tensor pixelMask;      // [B, H, W] 0/1 (undefined = all ones); NLVR2: [B, I, H, W]
};

// Token reduction inside the encoder (PuMer, docs/algorithms.md §1.3). The reducer runs in the
// listed blocks between the attention residual and the MLP. Mode Reference reproduces PuMer's own
// ViLT in every block (multiplicative masked softmax with eps 1e-6, block and final LayerNorm eps
// 1e-6), so it matches PuMer's checkpoints and fixtures; Fixed keeps the transformers numerics
// (additive masking, log-weights for fractional masks, the config's eps).
struct ViltReduction {
    PumerConfig pumer;
    std::vector<int> layers;  // 0-based block indices
};
constexpr double kPumerLayerNormEps = 1e-6;

struct ViltForwardOptions {
    bool keepHiddenStates = false;  // embedding output + every layer's output
    bool keepAttentions = false;    // [B, H, L, L] per layer (forces unfused attention)
    const std::atomic<bool>* cancel = nullptr;  // polled between layers; throws Cancelled
    std::optional<ViltReduction> reduction;     // unset: the plain transformers forward, unchanged
};

struct ViltLayerReduction {
    int layer = 0;
    ReductionRecord record;
};

// The encoder's view of one image-text pair. Sequence layout: [T text] + [image CLS] + [N patches].
struct ViltEncoding {
    torch::Tensor lastHiddenState;           // [B, L, C] after the final LayerNorm
    torch::Tensor poolerOutput;              // [B, C]
    std::vector<torch::Tensor> hiddenStates; // L+1 x [B, L, C], before the final LayerNorm
    std::vector<torch::Tensor> attentions;   // layers x [B, H, L, L]
    torch::Tensor fullAttentionMask;         // [B, L] int64
    torch::Tensor imageTokenMask;            // [B, 1 + N] int64, column 0 = image CLS
    torch::Tensor imagePatchIndex;           // [B, N, 2] int64 (row, col) in the patch grid
    int64_t gridHeight = 0, gridWidth = 0;   // patch grid of the padded batch
    int64_t textLength = 0;                  // after the last reduction
    std::vector<ViltLayerReduction> reductions;  // one per reducing block
    torch::Tensor finalMask;                 // [B, L'] key mask after the last block (reduction only)
};

// One encoder block with an optional reducer between its halves; shared by encode() and tests.
struct ViltLayerState {
    torch::Tensor hidden;  // [B, T+I, C]
    torch::Tensor mask;    // [B, T+I] key weights (0/1, text part fractional after text merges)
    int64_t textLength = 0;
    torch::Tensor imageSource, textSource;  // provenance carried between reducers (undefined at first)
};
struct ViltLayerStep {
    ViltLayerState state;
    torch::Tensor attention;  // [B, H, N, N] before reduction, when asked for
    std::optional<ReductionRecord> record;
};
// reduceHere == nullptr: this block does not reduce (Reference still uses PuMer's attention numerics).
ViltLayerStep runViltLayer(PreNormBlockImpl& block, const ViltLayerState& state, ReductionMode mode,
                           const PumerConfig* reduceHere, bool keepAttention);

struct ViltOutputs {
    torch::Tensor logits;              // VQA [B, labels]; NLVR2 [B, labels]; retrieval [B, 1]
    std::vector<ViltEncoding> images;  // one per image (NLVR2: num_images), else one
};

class ViltImpl : public torch::nn::Module {
public:
    explicit ViltImpl(const ViltConfig& config);
    ViltOutputs forward(const ViltInputs& inputs, const ViltForwardOptions& options = {});
    // The encoder alone for one image per sample; imageTokenType is 1, or 1..num_images for NLVR2.
    ViltEncoding encode(const ViltInputs& inputs, int64_t imageTokenType, const ViltForwardOptions& options);
    const ViltConfig& config() const { return m_config; }

private:
    torch::Tensor textEmbeddings(const ViltInputs& inputs);
    // Patch embeddings + interpolated position embeddings, valid patches in raster order.
    void visualEmbeddings(const torch::Tensor& pixelValues, const torch::Tensor& pixelMask, ViltEncoding& encoding,
                          torch::Tensor& embeddings, torch::Tensor& mask);
    torch::Tensor classify(const torch::Tensor& pooled);
    // The encoder loop with options.reduction set (hidden = the embeddings [B, L, C]).
    ViltEncoding encodeReduced(torch::Tensor hidden, ViltEncoding& encoding, const ViltForwardOptions& options);

    ViltConfig m_config;
    // vilt.embeddings.*
    torch::Tensor m_clsToken, m_positionEmbeddings;
    torch::nn::Conv2d m_patchProjection{nullptr};
    torch::nn::Embedding m_modalityEmbeddings{nullptr};
    torch::nn::Embedding m_wordEmbeddings{nullptr}, m_textPositionEmbeddings{nullptr}, m_textTokenTypeEmbeddings{nullptr};
    torch::nn::LayerNorm m_textLayerNorm{nullptr};
    std::vector<PreNormBlock> m_layers;
    torch::nn::LayerNorm m_finalLayerNorm{nullptr};
    torch::nn::Linear m_pooler{nullptr};
    // heads
    torch::nn::Linear m_classifierIn{nullptr}, m_classifierOut{nullptr}, m_rankOutput{nullptr};
    torch::nn::LayerNorm m_classifierNorm{nullptr};
};
TORCH_MODULE(Vilt);

}  // namespace tokenscope
