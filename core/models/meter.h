#pragma once

// Core-internal: METER (zdou0830/METER; PuMer's port csarron/PuMer src/pumer/model/meter/) under the
// released Lightning checkpoints' own names: RoBERTa text encoder (`text_transformer.*`), CLIP
// visual transformer (`vit_model.visual.*`), bridges (`cross_modal_{text,image}_transform`,
// `token_type_embeddings`), co-attention fusion (`cross_modal_{text,image}_layers.{j}`), poolers and
// heads (`vqa_classifier`, `nlvr2_classifier`, `snli_classifier`, `itm_score.fc`, `rank_output`).
// References: zdou0830/METER meter/modules/meter_module.py; csarron/PuMer src/pumer/model/meter/modules_meter.py.
//
// Parts: config (config/meter_config.h), parameters (constructor, loadWeights), forward (text
// encoder, image encoder, fusion with a token-reduction hook, poolers, heads).
//
// Forward, per image pass (NLVR2: two passes, the text encoded once):
//  1. text: RobertaEmbeddings (positions cumsum(ids != pad)·(ids != pad) + pad) -> post-LN layers
//     (additive mask) -> cross_modal_text_transform -> + token_type_embeddings[0]            = x0
//  2. image: conv1 (no bias) -> [CLS; patches] + positional_embedding -> ln_pre -> blocks -> ln_post
//     on all tokens -> cross_modal_image_transform -> + token_type_embeddings[1 or 2]         = y0
//  3. fusion layer j (BertCrossLayer, post-LN eps 1e-12):
//     text side  a = LN(x + SelfAttn(x; m_t)); c = LN(a + CrossAttn(a, y; m_i)); [reducer]; x' = FFN(c)
//     image side Sequential: y' = ImageLayer(y_reduced, x'; m_i', m_t')   (PuMer)
//                Parallel:   y' = ImageLayer(y, x; m_i, m_t), then the reducer's image selection
//                            applied to y' (original METER when nothing is reduced)
//  4. cls_feats = [tanh(W_t x[:, 0]), tanh(W_i y[:, 0])] -> head.
//
// Threading: a model is used by one thread at a time. Errors: tokenscope::Error (Cancelled when the
// cancel flag rises between layers).

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "checkpoint/checkpoint.h"
#include "config/meter_config.h"
#include "models/meter_layers.h"
#include "reduce/pumer_meter.h"

namespace tokenscope {

struct MeterInputs {
    torch::Tensor inputIds;       // [B, T] int64 (RoBERTa ids, <s> first, pads = pad_token_id)
    torch::Tensor attentionMask;  // [B, T] 0/1
    torch::Tensor pixelValues;    // [B, 3, S, S] with S = the model's image size
    torch::Tensor pixelValues2;   // [B, 3, S, S] NLVR2's second image (token type 2); else undefined
};

enum class MeterTask { Vqa, Nlvr2, Snli, Itm, Retrieval };
const char* meterTaskName(MeterTask task);  // "vqa", "nlvr2", "snli", "itm", "retrieval"

// Attention numerics inside the fusion layers (the RoBERTa encoder always masks additively).
//  * Multiplicative: PuMer's differentiable_masked_softmax everywhere in the fusion (what PuMer's
//    METER code computes; fractional text masks weight the keys; a padded text key still gets
//    weight 1 from the query at its own index, in cross-attention too).
//  * Additive: transformers / original METER (masked keys get the lowest value; a fractional
//    weight m adds log m).
enum class MeterMasking { Multiplicative, Additive };

enum class MeterReductionMethod { Pumer, Tome, RandomDrop, UniformDrop };

// Token reduction in the fusion (reduce/pumer_meter.h). Pumer: in the listed fusion layers (0-based;
// PuMer's layer_idx / 2; see meterPumerPreset()). Tome: r = tomeSchedule[j] image tokens merged in
// fusion layer j. RandomDrop / UniformDrop: image patches dropped once at the fusion input (record
// fusionLayer -1), keepRatio of them kept.
struct MeterReduction {
    MeterReductionMethod method = MeterReductionMethod::Pumer;
    PumerConfig pumer;
    std::vector<int> fusionLayers;
    std::vector<int64_t> tomeSchedule;
    double keepRatio = 1.0;
    uint64_t seed = 0;
};

struct MeterForwardOptions {
    std::optional<MeterTask> task;                 // unset: the first head present (vqa, nlvr2, snli, retrieval, itm)
    std::optional<MeterStreamOrder> streamOrder;   // unset: config().streamOrder
    // unset: PuMer reduction in Reference mode -> Multiplicative, in Fixed mode -> Additive; otherwise
    // Sequential -> Multiplicative (PuMer's code), Parallel -> Additive (original METER).
    std::optional<MeterMasking> masking;
    std::optional<MeterReduction> reduction;
    bool keepHiddenStates = false;  // encoder states, fusion inputs and every fusion layer's outputs
    bool keepAttentions = false;    // both cross-attention maps of every fusion layer
    bool recordProvenance = true;   // false: reduction records carry no sources / sizes
    bool timeLayers = false;        // MeterPass::fusionLayerMs (device synchronised around each layer)
    const std::atomic<bool>* cancel = nullptr;
};

// What the reducer did in one fusion layer of one pass (fusionLayer -1: drop at the fusion input).
struct MeterLayerReduction {
    int pass = 0;          // 0, or 1 for NLVR2's second image
    int fusionLayer = 0;
    int layerIdx = 0;      // PuMer's numbering, 2 × fusionLayer
    MeterReductionMethod method = MeterReductionMethod::Pumer;
    ReductionRecord record;  // fields: see MeterReducerOutput (reduce/pumer_meter.h)
    bool isPruningDiscarded = false;
    BipartiteMatch imageMatch, textMatch;
    torch::Tensor imageMetric;    // [B, I_in, dh] head-mean cross-attention keys of the image stream
    torch::Tensor textMetric;     // [B, T_in, dh] head-mean self-attention keys of the text
    torch::Tensor imageReduced;   // [B, I_out, C] the image states after the reducer (keepHiddenStates)
    torch::Tensor textMask;       // [B, T_out] key weights after the reducer
};

struct MeterFusionStep {
    torch::Tensor text;         // [B, T', C] after the text-side layer (keepHiddenStates)
    torch::Tensor image;        // [B, I', C] after the image-side layer (keepHiddenStates)
    torch::Tensor textToImage;  // [B, H, T, I] text-side cross-attention, before reduction (keepAttentions or a PuMer layer)
    torch::Tensor imageToText;  // [B, H, I', T'] image-side cross-attention (keepAttentions)
};

struct MeterPass {
    int tokenType = 1;
    // Image encoder (keepHiddenStates): ln_pre output, every block's output, ln_post output; y0.
    torch::Tensor imageLnPre;
    std::vector<torch::Tensor> imageBlocks;
    torch::Tensor imageOut;
    torch::Tensor imageFusionInput;  // y0 [B, I0, C]
    std::vector<MeterFusionStep> fusion;
    std::vector<MeterLayerReduction> reductions;  // in order
    torch::Tensor text, image;           // final fusion states [B, T', C], [B, I', C]
    torch::Tensor textMask, imageMask;   // final key weights
    torch::Tensor clsFeats;              // [B, 2C]
    std::vector<double> fusionLayerMs;
};

struct MeterOutputs {
    MeterTask task = MeterTask::Vqa;
    MeterStreamOrder streamOrder = MeterStreamOrder::Parallel;
    MeterMasking masking = MeterMasking::Additive;
    // Text encoder (keepHiddenStates): embeddings, every layer's output; x0.
    torch::Tensor textEmbeddings;
    std::vector<torch::Tensor> textLayers;
    torch::Tensor textFusionInput;
    std::vector<MeterPass> passes;
    torch::Tensor clsFeats;  // [B, 2C]; NLVR2 [B, 4C]
    torch::Tensor logits;    // VQA [B, labels], NLVR2 [B, 2], SNLI [B, 3], ITM [B, 2], retrieval [B, 1]
};

class MeterImpl : public torch::nn::Module {
public:
    explicit MeterImpl(const MeterConfig& config);

    MeterOutputs forward(const MeterInputs& inputs, const MeterForwardOptions& options = {});

    // The pieces of forward, for callers that cache (e.g. retrieval: one text, many images).
    // ids/mask [B, T] -> x0 [B, T, C] (text encoder, bridge, token type 0).
    torch::Tensor encodeText(const torch::Tensor& inputIds, const torch::Tensor& attentionMask, MeterOutputs* keep = nullptr);
    // pixels [B, 3, S, S] -> y0 [B, 1 + g², C] with token type `tokenType`.
    torch::Tensor encodeImage(const torch::Tensor& pixelValues, int tokenType, MeterPass* keep = nullptr);
    // The fusion of one pass from x0 / y0 (fills pass.text .. pass.clsFeats, fusion, reductions).
    void fuse(const torch::Tensor& x0, const torch::Tensor& textMask, const torch::Tensor& y0, MeterStreamOrder order,
              MeterMasking masking, const MeterForwardOptions& options, int passIndex, MeterPass& pass);
    // cls_feats [B, 2C] (NLVR2 [B, 4C]) -> logits of the task's head. Throws Error when the head is absent.
    torch::Tensor classify(MeterTask task, const torch::Tensor& clsFeats);
    bool hasHead(MeterTask task) const;
    MeterTask defaultTask() const;  // throws Error when the model has no head

    // Copies the checkpoint's tensors (shapes must match this config; see meterConfigFromCheckpoint)
    // and reports the unexpected ones, leaving out what METER checkpoints carry but no forward uses
    // (text_transformer.embeddings.position_ids, text_transformer.pooler.*, CLIP text leftovers
    // vit_model.* outside vit_model.visual.*, mlm_score.*). Remembers the positional embedding as loaded.
    StateDictReport loadWeights(const Checkpoint& checkpoint, const StateDictOptions& options = {});
    // Random weights (initialiseRandomWeights, CLIP LayerNorms 1 / 0); deterministic in seed.
    void initialiseRandom(uint64_t seed);
    // Runs at another image size: the positional embedding is resampled from the loaded (or initial)
    // table with adaptPositionEncoding. imageSize must be a multiple of the patch size.
    void setImageSize(int imageSize);

    const MeterConfig& config() const { return m_config; }

private:
    MeterConfig m_config;
    // Text encoder.
    torch::nn::Embedding m_wordEmbeddings{nullptr}, m_positionEmbeddings{nullptr}, m_textTypeEmbeddings{nullptr};
    torch::nn::LayerNorm m_embeddingNorm{nullptr};
    std::vector<BertLayer> m_textLayers;
    // Image encoder.
    torch::nn::Conv2d m_conv{nullptr};
    torch::Tensor m_classEmbedding, m_positionalEmbedding;
    torch::Tensor m_loadedPositionalEmbedding;  // the table as loaded, the source of setImageSize()
    torch::nn::LayerNorm m_lnPre{nullptr}, m_lnPost{nullptr};
    std::vector<ClipResidualBlock> m_blocks;
    // Bridges, fusion, poolers.
    torch::nn::Linear m_textTransform{nullptr}, m_imageTransform{nullptr};
    torch::nn::Embedding m_tokenTypes{nullptr};
    std::vector<BertLayer> m_fusionText, m_fusionImage;
    torch::nn::Linear m_textPooler{nullptr}, m_imagePooler{nullptr};
    // Heads.
    struct Classifier {
        torch::nn::Linear in{nullptr}, out{nullptr};
        torch::nn::LayerNorm norm{nullptr};
    };
    Classifier m_vqa, m_nlvr2, m_snli;
    torch::nn::Linear m_itm{nullptr}, m_rank{nullptr};
};
TORCH_MODULE(Meter);

// The checkpoint's METER config: hyperParameterConfig() when the file has one, else the shapes
// (meterConfigFromCheckpoint). `where` in errors = the first file's name.
MeterConfig meterConfigOf(const Checkpoint& checkpoint);
// The checkpoint's tensor shapes, from the headers.
TensorShapes checkpointShapes(const Checkpoint& checkpoint);

}  // namespace tokenscope
