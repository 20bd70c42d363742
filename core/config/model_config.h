#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "config/meter_config.h"

namespace tokenscope {

enum class ModelFamily { Vilt, ClipVision, LlavaNext, Meter };

// Which ViLT head a checkpoint carries (from config.json "architectures").
enum class ViltHead { None, QuestionAnswering, ImagesAndTextClassification, ImageAndTextRetrieval };

enum class Activation { Gelu, GeluTanh, QuickGelu, Relu };

// DynamicViT predictors trained for a ViLT checkpoint (config.json "dynamicvit_config"; predictors as in
// raoyongming/DynamicViT models/dyvit.py): one predictor per prune location; location k = the block that
// first sees the pruned tokens (the predictor reads block k-1's output). keepRatio = the ρ it was trained for.
struct DynamicVitConfig {
    std::vector<int> pruneLocations;  // strictly increasing, in [1, num_hidden_layers - 1]
    double keepRatio = 0.7;
};

// transformers' ViltConfig, the keys that shape the network. Defaults are HF's.
struct ViltConfig {
    int hiddenSize = 768;
    int numHiddenLayers = 12;
    int numAttentionHeads = 12;
    int intermediateSize = 3072;
    int vocabSize = 30522;
    int typeVocabSize = 2;
    int modalityTypeVocabSize = 2;
    int maxPositionEmbeddings = 40;
    int imageSize = 384;
    int patchSize = 32;
    int numChannels = 3;
    double layerNormEps = 1e-12;
    bool qkvBias = true;
    int maxImageLength = -1;
    int numImages = -1;
    Activation hiddenAct = Activation::Gelu;
    ViltHead head = ViltHead::None;
    std::vector<std::string> id2label;  // index = label id; empty for heads without labels
    std::optional<DynamicVitConfig> dynamicVit;  // set: the checkpoint carries DynamicViT predictors
};

// transformers' CLIPVisionConfig (standalone, or the "vision_config" of a CLIP/LLaVA config).
struct ClipVisionConfig {
    int hiddenSize = 768;
    int intermediateSize = 3072;
    int numHiddenLayers = 12;
    int numAttentionHeads = 12;
    int numChannels = 3;
    int imageSize = 224;
    int patchSize = 32;
    double layerNormEps = 1e-5;
    Activation hiddenAct = Activation::QuickGelu;
};

// transformers' LlamaConfig / MistralConfig (the "text_config" of a LLaVA-NeXT config). Defaults
// are HF's for the model_type; head_dim defaults to hidden_size / num_attention_heads.
struct LlamaConfig {
    std::string modelType = "llama";  // "llama" or "mistral"
    int vocabSize = 32000;
    int hiddenSize = 4096;
    int intermediateSize = 11008;
    int numHiddenLayers = 32;
    int numAttentionHeads = 32;
    int numKeyValueHeads = 32;  // < numAttentionHeads: grouped (1: multi-query) KV heads
    int headDim = 128;
    int maxPositionEmbeddings = 2048;
    double rmsNormEps = 1e-6;
    double ropeTheta = 10000.0;
    int slidingWindow = 0;  // 0 = none (Mistral v0.2 sets null); keys at distance >= window are masked
    bool attentionBias = false;
    bool mlpBias = false;
    bool tieWordEmbeddings = false;  // lm_head shares embed_tokens.weight (no lm_head tensor stored)
    int padTokenId = -1;
    int bosTokenId = 1;
    int eosTokenId = 2;
};

// transformers' LlavaNextConfig (v4.45 keys). Pinpoints are (height, width) pairs.
struct LlavaNextConfig {
    ClipVisionConfig vision;  // HF's LLaVA default: CLIP ViT-L/14-336
    LlamaConfig text;
    std::vector<std::pair<int, int>> imageGridPinpoints;
    int imageTokenIndex = 32000;
    int visionFeatureLayer = -2;                         // index into the CLIP hidden states (0 = embeddings)
    std::string visionFeatureSelectStrategy = "default";  // "default" drops CLS, "full" keeps it
    Activation projectorHiddenAct = Activation::Gelu;
    bool projectorBias = true;    // multimodal_projector_bias
    int imageSeqLength = 576;
};

struct ModelConfig {
    ModelFamily family = ModelFamily::Vilt;
    std::string architecture;  // e.g. "ViltForQuestionAnswering", "CLIPVisionModel"
    std::string sourceName;    // file the config came from, or "--arch NAME"
    ViltConfig vilt;
    ClipVisionConfig clipVision;
    LlavaNextConfig llavaNext;
    MeterConfig meter;  // family Meter (config/meter_config.h)
};

// Parses config.json text. A missing required key, a value of the wrong type or out of range, or
// an unsupported model_type is an Error that names the key and fileName. Throws Error.
ModelConfig parseModelConfig(const std::string& jsonText, const std::string& fileName);
// Reads and parses a config.json file. Throws Error.
ModelConfig loadModelConfig(const std::string& path);

// Built-in architectures for random-weight models: "vilt-b32" (VQA head, 3129 answers),
// "vilt-b32-nlvr2", "vilt-b32-retrieval", "clip-vit-l-336", "clip-vit-b-32". Throws Error for an
// unknown name, listing the known ones.
ModelConfig builtinModelConfig(const std::string& name);
std::vector<std::string> builtinModelNames();

}  // namespace tokenscope
