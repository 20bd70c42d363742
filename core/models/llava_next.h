#pragma once

// Core-internal: LLaVA-NeXT (transformers v4.45 LlavaNextForConditionalGeneration) under the
// checkpoint's own names: "vision_tower.vision_model.*" (CLIP), "multi_modal_projector.linear_{1,2}",
// "image_newline", "language_model.{model.*,lm_head}" (LLaMA / Mistral). Checkpoints in the
// newer layout ("model.vision_tower.*", "model.language_model.*", "lm_head") load through
// loadLlavaNextWeights().
//
// Image features: CLIP hidden state vision_feature_layer, CLS dropped, projector, then per image
// base crop's p² features first, the grid crops laid out as one feature map, unpadded back to the
// original aspect (new = int(round(h · cur_w / w, 7)), the same floor((cur - new) / 2) cut on both
// sides), image_newline appended to every row, flattened row-major.
//
// Both prompt conventions are accepted: input ids that already hold one <image> id per feature
// (the processor's expansion, llavaNextImageTokenCount) are filled in order; input ids with one
// <image> id per image (legacy) are expanded inside the model, which left-pads the batch again
// and derives the position ids from the attention mask. Any other count is an Error that names
// both numbers. Not thread-safe; run under torch::NoGradGuard / InferenceMode.
//
// Visual-token methods (HiRED and its baselines, reduce/hired.h) act between the projector and the
// language model: with a VisualTokenSettings other than Full each image contributes only its kept
// tokens, packed as HiRED packs them (no image_newline), so the prompt must then hold one <image>
// per kept token or one per image (legacy); positions stay contiguous either way.

#include <atomic>
#include <functional>
#include <vector>

#include <torch/torch.h>

#include "checkpoint/checkpoint.h"
#include "config/model_config.h"
#include "engine/generation.h"
#include "engine/visual_selection.h"
#include "models/clip_vision.h"
#include "models/llama.h"

namespace tokenscope {

// What encodeImages() returns: the visual tokens every image hands to the language model.
struct EncodedImages {
    torch::Tensor features;                     // [sum N_i, C] packed
    std::vector<int64_t> lengths;               // N_i per image
    torch::Tensor visionFeatures;               // [crops, 1+p², Cv] (keepVisionFeatures)
    std::vector<VisualSelection> records;  // per image (keepRecords)
};

struct ImageEncodeOptions {
    const VisualTokenSettings* reduction = nullptr;  // null or Full: transformers' packing
    bool keepVisionFeatures = false;
    bool keepRecords = false;       // what the method did, per image and partition
    bool keepClsAttention = false;  // the records carry both CLS-attention maps (also for Full)
    const std::atomic<bool>* cancel = nullptr;
};

struct LlavaNextOptions {
    const VisualTokenSettings* reduction = nullptr;  // HiRED or a baseline (null = Full)
    std::vector<VisualSelection>* records = nullptr;  // filled per image when set
    bool keepHiddenStates = false;     // language model hidden states (see LlamaOptions)
    bool keepAttentions = false;       // language model attention probabilities
    bool keepInputsEmbeds = false;
    bool keepImageFeatures = false;    // packed features [sum N_i, C] and their per-image lengths
    bool keepVisionFeatures = false;   // CLIP hidden state vision_feature_layer, CLS included [crops, 1+p², Cv]
    bool lastPositionLogitsOnly = false;
    KvCache* cache = nullptr;
    const std::atomic<bool>* cancel = nullptr;
};

struct LlavaNextOutputs {
    torch::Tensor logits;  // [B, T', V]; T' = T, or the expanded length for legacy input
    std::vector<torch::Tensor> hiddenStates;
    std::vector<torch::Tensor> attentions;
    torch::Tensor inputsEmbeds;        // [B, T', C]
    torch::Tensor imageFeatures;       // [sum N_i, C]
    std::vector<int64_t> featureLengths;
    torch::Tensor visionFeatures;      // [crops, 1+p², Cv]
    torch::Tensor attentionMask;       // [B, T'] 0/1 actually used (int64)
    torch::Tensor positionIds;         // [B, T'] actually used
};

// Greedy decoding. HF generate(do_sample=False) semantics: argmax of the last position's logits;
// a row that produced a stop token emits padTokenId afterwards; stops when every row has stopped
// or after maxNewTokens.
struct GenerateOptions {
    int maxNewTokens = 32;
    std::vector<int64_t> stopTokenIds;  // e.g. {eos}; empty = never stop early
    int64_t padTokenId = 0;
    int64_t argmaxBelow = -1;           // > 0: only ids < argmaxBelow are candidates (llava-hf rows >= 32000 are junk)
    const std::atomic<bool>* cancel = nullptr;
    std::vector<torch::Tensor>* keepScores = nullptr;  // when set: each step's logits [B, V] (fp32, CPU) appended
    KvCache* cache = nullptr;           // caller-owned cache (to measure it); null = a local one
    const VisualTokenSettings* reduction = nullptr;     // see LlavaNextOptions
    std::vector<VisualSelection>* records = nullptr;
    torch::Tensor* inputsEmbeds = nullptr;  // when set: the prefill's inputs_embeds [B, T', C]
    torch::Tensor* attentionMask = nullptr; // and its attention mask [B, T'] (legacy input re-pads)
};

// Called after every decoding step with the step index and the new ids [B] (int64, CPU). Return
// false to stop after this step. Runs on the calling thread.
using TokenCallback = std::function<bool(int step, const torch::Tensor& tokens)>;

class LlavaNextImpl : public torch::nn::Module {
public:
    explicit LlavaNextImpl(const LlavaNextConfig& config);

    // inputIds [B, T] int64; attentionMask [B, T] 0/1 (undefined = all ones); positionIds [B, T]
    // (undefined = cumsum(mask) - 1, 1 at padding: what generate uses); pixelValues
    // [images, max crops, 3, S, S] or [sum crops, 3, S, S] (undefined = text only); imageSizes
    // [images, 2] original (height, width). Throws Error / Cancelled.
    LlavaNextOutputs forward(const torch::Tensor& inputIds, const torch::Tensor& attentionMask,
                             const torch::Tensor& positionIds, const torch::Tensor& pixelValues,
                             const torch::Tensor& imageSizes, const LlavaNextOptions& options = {});

    // forward() on images already encoded (encodeImages); images null = text only.
    LlavaNextOutputs forwardEncoded(const torch::Tensor& inputIds, const torch::Tensor& attentionMask,
                                    const torch::Tensor& positionIds, const EncodedImages* images,
                                    const LlavaNextOptions& options = {});

    // Prefill with the KV cache, then one token per step. Returns the new ids [B, N] (int64, CPU),
    // N <= maxNewTokens. Left padding is supported (the positions come from the mask).
    torch::Tensor generate(const torch::Tensor& inputIds, const torch::Tensor& attentionMask,
                           const torch::Tensor& pixelValues, const torch::Tensor& imageSizes,
                           const GenerateOptions& options, const TokenCallback& onToken = {});
    // generate() on images already encoded (options.reduction / records are then ignored).
    torch::Tensor generateEncoded(const torch::Tensor& inputIds, const torch::Tensor& attentionMask,
                                  const EncodedImages* images, const GenerateOptions& options,
                                  const TokenCallback& onToken = {});

    // Vision tower + projector + the visual-token method + packing for images [images, ...] as
    // in forward. imageSizes [images, 2] (height, width). Throws Error / Cancelled.
    EncodedImages encodeImages(const torch::Tensor& pixelValues, const torch::Tensor& imageSizes,
                               const ImageEncodeOptions& options = {});
    // The same, unreduced: packed [sum N_i, C]; lengths N_i; the selected CLIP layer when
    // visionFeatures is set.
    torch::Tensor imageFeatures(const torch::Tensor& pixelValues, const torch::Tensor& imageSizes,
                                std::vector<int64_t>* lengths, torch::Tensor* visionFeatures = nullptr,
                                const std::atomic<bool>* cancel = nullptr);

    const LlavaNextConfig& config() const { return m_config; }
    Llama& languageModel() { return m_languageModel; }

private:
    LlavaNextConfig m_config;
    ClipVision m_visionTower{nullptr};
    torch::nn::Linear m_projectorIn{nullptr}, m_projectorOut{nullptr};
    torch::Tensor m_imageNewline;
    Llama m_languageModel{nullptr};
};
TORCH_MODULE(LlavaNext);

// Crops per image (base + grid) that the model reads for an original (height, width).
int llavaNextCropCount(const LlavaNextConfig& config, int height, int width);
// Packed feature count for an original (height, width), the model's float rule (see above).
int64_t llavaNextFeatureCount(const LlavaNextConfig& config, int height, int width);

// Loads either the Hub layout (names as registered) or the transformers >= 4.52 layout
// ("model.vision_tower.", "model.multi_modal_projector.", "model.image_newline",
// "model.language_model." for "language_model.model.", "lm_head." for "language_model.lm_head.").
StateDictReport loadLlavaNextWeights(LlavaNextImpl& model, const Checkpoint& checkpoint,
                                     const LoadProgress& progress = {}, const std::atomic<bool>* cancel = nullptr);

}  // namespace tokenscope
