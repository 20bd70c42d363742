#pragma once

// Core-internal: ViLT (transformers' ViltModel and its heads) under the checkpoint's own names.
// Parts: config (ViltConfig), parameters (constructor), forward (encode + head).

#include <atomic>
#include <cstdint>
#include <optional>
#include <vector>

#include <torch/torch.h>

#include "config/model_config.h"
#include "models/dynamic_vit.h"
#include "models/transformer_block.h"
#include "methods/reduction_plan.h"
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

// What produced a reduction record (the trace builder reads records by it).
enum class ReductionMethod { Pumer, Tome, RandomDrop, UniformDrop, DynamicVit };

// The model runs under a ReductionPlan (core/methods/reduction_plan.h) and asks it what to do:
//  * plan.embeddingDrop: image patches dropped once at the embedding, before block 0 (random /
//    uniform, see DropSettings; records at layer -1).
//  * plan.at(Stage::Fusion, l): the step between block l's attention residual and its MLP — PuMer
//    (csarron/PuMer vit_vilt.py Block.forward, core/reduce/pumer.h) or ToMe (facebookresearch/ToMe,
//    runViltTomeLayer below).
//  * plan.numerics: Reference reproduces PuMer's own ViLT in every block (multiplicative masked
//    softmax with eps 1e-6, block and final LayerNorm eps 1e-6), so it matches PuMer's checkpoints and
//    fixtures; Fixed keeps the transformers numerics (additive masking, log-weights for fractional
//    masks, the config's eps).
//  * plan.dynamicVit: DynamicViT (raoyongming/DynamicViT, models/dynamic_vit.h) with the model's trained predictors,
//    pruning image patches before the blocks in its locations.
// ToMe inside ViLT (TomeSettings): in block l with r > 0, between the attention residual and the MLP:
// bipartite soft matching on the head-mean keys of that block, r clamped to (N - 1) / 2 as ToMe does
// (one protected token), size-weighted averaging with sizes carried across blocks, and
// (proportionalAttention) log(size) added to every key's attention logit in every later block; the
// rest is transformers' numerics and attention stays fused. joint = false: only the image part
// [image CLS, patches] is matched, the image CLS protected, the text untouched; joint = true: the
// whole text+image sequence is matched, the text [CLS] at position 0 protected (the PuMer
// repository's modality-agnostic baseline, but size-weighted and with proportional attention);
// after the first merge there is no text/image boundary: ViltLayerState::textLength keeps its input
// value, clamped to the sequence length, and records mark their indices as joint. Padding takes
// part in matching with weight 0: a token's key weight is the number of VALID originals inside it.
// Dropping at the embedding (DropSettings): per sample, kept = clamp(roundHalfEven(keepRatio * P), 1, P)
// of its P valid patches, the image CLS always kept, kept patches in raster order; a batch is padded
// to the longest kept list with masked filler tokens (zeros, mask 0, no provenance). Random: a
// uniformly random subset from a SplitMix64 stream seeded by `seed` alone (the same seed gives the
// same subset on every run, device and LibTorch version, independent of the rest of the batch).
// Uniform: the j-th kept patch is floor((j + 0.5) * P / kept) of the sample's valid patches (a
// strided grid when the counts divide: 12x12 at 0.25 keeps columns 2, 6, 10 of every row).
constexpr double kPumerLayerNormEps = 1e-6;

struct ViltForwardOptions {
    bool keepHiddenStates = false;  // embedding output + every layer's output
    bool keepAttentions = false;    // [B, H, L, L] per layer (forces unfused attention)
    const std::atomic<bool>* cancel = nullptr;  // polled between layers; throws Cancelled
    const ReductionPlan* plan = nullptr;        // null (or reducing nothing): the plain transformers forward
    bool timeLayers = false;  // fills ViltEncoding::layerMs (synchronises the device around every block)
    // false: reducers skip the provenance matrices (records then carry no sources or sizes, so no
    // trace can be built from them); what the model computes is unchanged. Benchmarks and batched
    // evaluation turn it off.
    bool recordProvenance = true;
};

// What one reducing step did. layer = block index, or -1 for RandomDrop/UniformDrop at the embedding
// (before block 0: a trace shows those patches as gone at layer 0). DynamicVit: layer = the prune
// location, the block whose attention first sees the pruned tokens.
//
// Record contents per method (all [B, ...], provenance 0/1 in the hidden dtype, columns = the
// embedding's image positions [image CLS, N patches incl. padding] = I0, or its text positions T0):
//  * Pumer: see pumerReduce() (core/reduce/pumer.h).
//  * Tome, joint = false: counts (imageIn/Out, textIn = textOut, mergeRequested = the schedule's r,
//    tokensMerged = r after clamping, tokensPruned = 0); isReduced; imageScore [B, I_in] = cosine
//    similarity of each input image token's best match in the other bipartite set (A = even,
//    B = odd image positions; high = merge candidate; the protected CLS gets its unmasked value);
//    keptIndex undefined; imageMergeSource/Destination [B, r] = input image positions (A sources,
//    B destinations); imageOrigin [B, I_out]; textOrigin identity; imageSource [B, I_out, I0],
//    textSource [B, T, T0] (carried); imageSize/textSize = their row sums (padding originals count).
//  * Tome, joint = true: isJointSequence = true and every index is over the whole current sequence:
//    imageScore [B, L_in], imageMergeSource/Destination [B, r] joint input positions, imageOrigin
//    [B, L_out]; imageSource [B, L_out, I0] and textSource [B, L_out, T0] have ONE ROW PER CURRENT
//    TOKEN (text and image mixed), imageSize/textSize [B, L_out] count each token's image/text
//    originals; textMerge*/textOrigin undefined; counts treat the sequence as one: imageIn/imageOut
//    = L_in/L_out, text counts 0, wholeSequenceMerged = tokensMerged = r after clamping (per-modality
//    counts per sample: count the rows of imageSize/textSize that are > 0).
//  * RandomDrop / UniformDrop (layer -1): counts (imageIn = I0, tokensPruned, tokensKept,
//    imageOut = I_out incl. fillers; maxima over the batch); keptIndex [B, I_out] input image positions
//    kept (CLS first, raster order, -1 for fillers); imageOrigin = keptIndex; imageSource [B, I_out, I0]
//    (filler rows zero); imageSize [B, I_out]; imageScore undefined; text untouched (textSource
//    undefined).
//  * DynamicVit (layer = prune location k, before block k): see dynamicVitPrune(); keptIndex [B, 1 + keep]
//    input image positions (CLS first, patches in keep-score order); imageScore [B, I_in] = the
//    predictor's keep probability (CLS 1); imageSource [B, I_out, I0] carried; text untouched. Only at
//    inference (DynamicVitSettings::training records nothing).
struct ViltLayerReduction {
    int layer = 0;
    ReductionMethod method = ReductionMethod::Pumer;
    ReductionRecord record;
};

// The encoder's view of one image-text pair. Sequence layout: [T text] + [image CLS] + [N patches].
struct ViltEncoding {
    torch::Tensor lastHiddenState;           // [B, L, C] after the final LayerNorm
    torch::Tensor poolerOutput;              // [B, C]
    std::vector<torch::Tensor> hiddenStates; // L+1 x [B, L, C], before the final LayerNorm; [0] = the
                                             // embeddings before any drop, [l + 1] = block l's output
    std::vector<torch::Tensor> attentions;   // layers x [B, H, L, L]
    torch::Tensor fullAttentionMask;         // [B, L] int64
    torch::Tensor imageTokenMask;            // [B, 1 + N] int64, column 0 = image CLS
    torch::Tensor imagePatchIndex;           // [B, N, 2] int64 (row, col) in the patch grid
    int64_t gridHeight = 0, gridWidth = 0;   // patch grid of the padded batch
    int64_t textLength = 0;                  // after the last reduction
    std::vector<ViltLayerReduction> reductions;  // one per step that changed tokens, in order (layer -1 first)
    torch::Tensor finalMask;                 // [B, L'] key weights after the last block (reduction only;
                                             // ToMe: valid originals inside each token)
    std::vector<double> layerMs;             // per block wall time (options.timeLayers), device synchronised
    std::vector<torch::Tensor> keepFractions;  // DynamicVit training: per stage [B], the fraction of each
                                               // sample's valid patches its keep decisions still hold
};

// One encoder block with an optional reducer between its halves; shared by encode() and tests.
struct ViltLayerState {
    torch::Tensor hidden;  // [B, T+I, C]
    torch::Tensor mask;    // [B, T+I] key weights (0/1, text part fractional after PuMer text merges;
                           // ToMe: valid originals inside each token, 0 = masked)
    int64_t textLength = 0;
    torch::Tensor imageSource, textSource;  // provenance carried between reducers (undefined at first;
                                            // ToMe joint: rows over the whole sequence)
    bool hasMerged = false;  // ToMe: a merge happened, proportional attention is on from now
    bool recordProvenance = true;  // carry imageSource / textSource (the trace's bookkeeping)
};
struct ViltLayerStep {
    ViltLayerState state;
    torch::Tensor attention;  // [B, H, N, N] before reduction, when asked for
    std::optional<ReductionRecord> record;
};
// reduceHere == nullptr: this block does not reduce (Reference still uses PuMer's attention numerics).
// The state is taken by value: pass it with std::move so that the layer's input is freed after the
// attention half instead of living through the MLP.
ViltLayerStep runViltLayer(PreNormBlockImpl& block, ViltLayerState state, ReductionMode mode,
                           const PumerConfig* reduceHere, bool keepAttention);
// One block with ToMe (see TomeSettings) merging r tokens between its halves (r <= 0: a plain block,
// with proportional attention if earlier blocks merged). Records only when a merge happened.
ViltLayerStep runViltTomeLayer(PreNormBlockImpl& block, ViltLayerState state, int64_t r,
                               const TomeSettings& tome, bool keepAttention);
// Random / uniform dropping on the embeddings (see DropSettings). hidden [B, T+I0, C], mask [B, T+I0]
// 0/1 with the image part [image CLS, patches] after textLength. Returns the state for block 0 and
// the record (std::nullopt when nothing is dropped).
struct ViltDropResult {
    ViltLayerState state;
    std::optional<ReductionRecord> record;
};
ViltDropResult dropImagePatches(const ViltLayerState& embeddings, const DropSettings& drop);
// DynamicViT training after the first prune location (models/vilt_dynamic_vit.cpp): one plain block
// whose attention weighs keys by state.mask (the keep policy) through the multiplicative masked
// softmax, so that gradients reach the keep decisions.
ViltLayerStep runViltPolicyLayer(PreNormBlockImpl& block, ViltLayerState state, bool keepAttention);

// The plan context of a ViLT model: its encoder depth (Stage::Fusion), its input size (for the
// smaller-resolution method) and its trained DynamicViT locations.
PlanContext viltPlanContext(const ViltConfig& config, int shortestEdge = 384, int sizeDivisor = 32);

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
    // DynamicViT predictors (registered when config.dynamicVit is set), one per prune location.
    int64_t dynamicVitPredictorCount() const { return static_cast<int64_t>(m_dynamicVitPredictors.size()); }
    DynamicVitPredictor dynamicVitPredictor(int64_t stage) const { return m_dynamicVitPredictors.at(static_cast<std::size_t>(stage)); }

private:
    torch::Tensor textEmbeddings(const ViltInputs& inputs);
    // Patch embeddings + interpolated position embeddings, valid patches in raster order.
    void visualEmbeddings(const torch::Tensor& pixelValues, const torch::Tensor& pixelMask, ViltEncoding& encoding,
                          torch::Tensor& embeddings, torch::Tensor& mask);
    torch::Tensor classify(const torch::Tensor& pooled);
    // The encoder loop with options.reduction set (hidden = the embeddings [B, L, C]).
    ViltEncoding encodeReduced(torch::Tensor hidden, ViltEncoding& encoding, const ViltForwardOptions& options);
    // DynamicViT at a prune location (models/vilt_dynamic_vit.cpp): inference prunes state and
    // records at `layer`; training updates the keep decision [B, N0] and the mask, and appends the
    // stage's keep fraction.
    void dynamicVitStage(int stage, int layer, const DynamicVitSettings& settings, int64_t initialPatches,
                         ViltLayerState& state, torch::Tensor& decision, ViltEncoding& encoding);

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
    std::vector<DynamicVitPredictor> m_dynamicVitPredictors;  // dynamicvit.predictors.{i}
};
TORCH_MODULE(Vilt);

}  // namespace tokenscope
