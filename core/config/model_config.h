#pragma once

#include <string>
#include <vector>

namespace tokenscope {

enum class ModelFamily { Vilt, ClipVision };

// Which ViLT head a checkpoint carries (from config.json "architectures").
enum class ViltHead { None, QuestionAnswering, ImagesAndTextClassification, ImageAndTextRetrieval };

enum class Activation { Gelu, GeluTanh, QuickGelu, Relu };

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

struct ModelConfig {
    ModelFamily family = ModelFamily::Vilt;
    std::string architecture;  // e.g. "ViltForQuestionAnswering", "CLIPVisionModel"
    std::string sourceName;    // file the config came from, or "--arch NAME"
    ViltConfig vilt;
    ClipVisionConfig clipVision;
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
