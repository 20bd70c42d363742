#include "config/model_config.h"

#include <algorithm>
#include <limits>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "config/id2label.h"
#include "io/json_file.h"

namespace tokenscope {

namespace {

using Json = nlohmann::json;

// Typed access to one JSON object with errors that name the key and the file.
class ConfigReader {
public:
    ConfigReader(const Json& object, std::string where) : m_object(object), m_where(std::move(where)) {}

    bool has(const char* key) const { return m_object.contains(key) && !m_object.at(key).is_null(); }

    int integer(const char* key, int minimum, int maximum) const {
        if (!has(key)) throw Error(m_where + ": key '" + key + "' is missing");
        return checkedInt(key, minimum, maximum);
    }
    int integer(const char* key, int fallback, int minimum, int maximum) const {
        return has(key) ? checkedInt(key, minimum, maximum) : fallback;
    }
    double number(const char* key, double fallback, double minimum, double maximum) const {
        if (!has(key)) return fallback;
        const Json& value = m_object.at(key);
        if (!value.is_number()) throw Error(m_where + ": key '" + key + "' must be a number, not " + value.type_name());
        const double v = value.get<double>();
        if (!(v >= minimum && v <= maximum))
            throw Error(m_where + ": key '" + key + "' = " + value.dump() + " is out of range");
        return v;
    }
    bool boolean(const char* key, bool fallback) const {
        if (!has(key)) return fallback;
        const Json& value = m_object.at(key);
        if (!value.is_boolean()) throw Error(m_where + ": key '" + key + "' must be true or false, not " + value.type_name());
        return value.get<bool>();
    }
    std::string string(const char* key, const std::string& fallback) const {
        if (!has(key)) return fallback;
        const Json& value = m_object.at(key);
        if (!value.is_string()) throw Error(m_where + ": key '" + key + "' must be a string, not " + value.type_name());
        return value.get<std::string>();
    }
    Activation activation(const char* key, Activation fallback) const {
        if (!has(key)) return fallback;
        const std::string name = string(key, "");
        if (name == "gelu") return Activation::Gelu;
        if (name == "gelu_new" || name == "gelu_pytorch_tanh") return Activation::GeluTanh;
        if (name == "quick_gelu") return Activation::QuickGelu;
        if (name == "relu") return Activation::Relu;
        throw Error(m_where + ": key '" + key + "' names the unsupported activation '" + name + "'");
    }
    const std::string& where() const { return m_where; }

private:
    int checkedInt(const char* key, int minimum, int maximum) const {
        const Json& value = m_object.at(key);
        if (!value.is_number_integer())
            throw Error(m_where + ": key '" + key + "' must be an integer, not " + value.type_name() + " " + value.dump());
        const auto v = value.get<int64_t>();
        if (v < minimum || v > maximum)
            throw Error(m_where + ": key '" + key + "' = " + std::to_string(v) + " is outside [" + std::to_string(minimum) +
                        ", " + std::to_string(maximum) + "]");
        return static_cast<int>(v);
    }

    const Json& m_object;
    std::string m_where;
};

constexpr int kMaxDim = 1 << 20;

// CLIP ViT-L/14 at 336 px: LLaVA-NeXT's vision tower and the `clip-vit-l-336` architecture.
ClipVisionConfig clipVitL336() {
    ClipVisionConfig c;
    c.hiddenSize = 1024;
    c.intermediateSize = 4096;
    c.numHiddenLayers = 24;
    c.numAttentionHeads = 16;
    c.imageSize = 336;
    c.patchSize = 14;
    return c;
}

void requireDivisible(int value, int divisor, const std::string& what, const std::string& where) {
    if (divisor <= 0 || value % divisor != 0)
        throw Error(where + ": " + what + " (" + std::to_string(value) + " / " + std::to_string(divisor) + ")");
}

// "dynamicvit_config": {"prune_locations": [3, 6, 9], "keep_ratio": 0.7}.
DynamicVitConfig parseDynamicVit(const Json& object, int layers, const std::string& where) {
    const std::string at = where + ": key 'dynamicvit_config'";
    if (!object.is_object()) throw Error(at + " must be an object");
    DynamicVitConfig c;
    const Json* locations = object.contains("prune_locations") ? &object.at("prune_locations") : nullptr;
    if (!locations || !locations->is_array() || locations->empty())
        throw Error(at + " needs 'prune_locations', a non-empty list of block indices");
    for (const auto& value : *locations) {
        if (!value.is_number_integer()) throw Error(at + ": 'prune_locations' must hold integers, not " + value.dump());
        const auto l = value.get<int64_t>();
        if (l < 1 || l >= layers || (!c.pruneLocations.empty() && l <= c.pruneLocations.back()))
            throw Error(at + ": 'prune_locations' must increase strictly within 1.." + std::to_string(layers - 1) +
                        ", not " + locations->dump());
        c.pruneLocations.push_back(static_cast<int>(l));
    }
    c.keepRatio = ConfigReader(object, at).number("keep_ratio", c.keepRatio, 0.0, 1.0);
    if (!(c.keepRatio > 0.0)) throw Error(at + ": 'keep_ratio' must be above 0");
    return c;
}

ViltConfig parseVilt(const Json& config, const std::string& architecture, const std::string& where) {
    ConfigReader r(config, where);
    ViltConfig c;
    c.hiddenSize = r.integer("hidden_size", 1, kMaxDim);
    c.numHiddenLayers = r.integer("num_hidden_layers", 1, 1000);
    c.numAttentionHeads = r.integer("num_attention_heads", 1, kMaxDim);
    c.intermediateSize = r.integer("intermediate_size", 1, kMaxDim * 4);
    c.vocabSize = r.integer("vocab_size", c.vocabSize, 1, 10'000'000);
    c.typeVocabSize = r.integer("type_vocab_size", c.typeVocabSize, 1, 1000);
    c.modalityTypeVocabSize = r.integer("modality_type_vocab_size", c.modalityTypeVocabSize, 2, 1000);
    c.maxPositionEmbeddings = r.integer("max_position_embeddings", c.maxPositionEmbeddings, 2, 1'000'000);
    c.imageSize = r.integer("image_size", c.imageSize, 1, 100'000);
    c.patchSize = r.integer("patch_size", c.patchSize, 1, 10'000);
    c.numChannels = r.integer("num_channels", c.numChannels, 1, 4);
    c.layerNormEps = r.number("layer_norm_eps", c.layerNormEps, 0.0, 1.0);
    c.qkvBias = r.boolean("qkv_bias", c.qkvBias);
    c.maxImageLength = r.integer("max_image_length", c.maxImageLength, -1, 1'000'000);
    c.numImages = r.integer("num_images", c.numImages, -1, 1000);
    c.hiddenAct = r.activation("hidden_act", c.hiddenAct);
    requireDivisible(c.hiddenSize, c.numAttentionHeads, "hidden_size must be a multiple of num_attention_heads", where);
    requireDivisible(c.imageSize, c.patchSize, "image_size must be a multiple of patch_size", where);

    if (architecture == "ViltForQuestionAnswering") {
        c.head = ViltHead::QuestionAnswering;
    } else if (architecture == "ViltForImagesAndTextClassification") {
        c.head = ViltHead::ImagesAndTextClassification;
        if (c.numImages < 1) throw Error(where + ": key 'num_images' must be at least 1 for " + architecture);
        if (c.modalityTypeVocabSize < c.numImages + 1)
            throw Error(where + ": key 'modality_type_vocab_size' must be at least num_images + 1 for " + architecture);
    } else if (architecture == "ViltForImageAndTextRetrieval") {
        c.head = ViltHead::ImageAndTextRetrieval;
    } else if (architecture == "ViltModel" || architecture.empty()) {
        c.head = ViltHead::None;
    } else {
        throw Error(where + ": key 'architectures' names '" + architecture +
                    "'; supported ViLT heads are ViltForQuestionAnswering, ViltForImagesAndTextClassification, "
                    "ViltForImageAndTextRetrieval and ViltModel");
    }
    c.id2label = parseId2Label(config, where);
    if (c.head == ViltHead::QuestionAnswering || c.head == ViltHead::ImagesAndTextClassification) {
        if (c.id2label.empty()) throw Error(where + ": key 'id2label' is missing (needed by " + architecture + ")");
    }
    if (r.has("dynamicvit_config")) {
        if (c.hiddenSize < 4) throw Error(where + ": DynamicViT predictors need hidden_size >= 4");
        c.dynamicVit = parseDynamicVit(config.at("dynamicvit_config"), c.numHiddenLayers, where);
    }
    return c;
}

ClipVisionConfig parseClipVision(const Json& config, const std::string& where) {
    ConfigReader r(config, where);
    ClipVisionConfig c;
    c.hiddenSize = r.integer("hidden_size", c.hiddenSize, 1, kMaxDim);
    c.intermediateSize = r.integer("intermediate_size", c.intermediateSize, 1, kMaxDim * 4);
    c.numHiddenLayers = r.integer("num_hidden_layers", c.numHiddenLayers, 1, 1000);
    c.numAttentionHeads = r.integer("num_attention_heads", c.numAttentionHeads, 1, kMaxDim);
    c.numChannels = r.integer("num_channels", c.numChannels, 1, 4);
    c.imageSize = r.integer("image_size", c.imageSize, 1, 100'000);
    c.patchSize = r.integer("patch_size", c.patchSize, 1, 10'000);
    c.layerNormEps = r.number("layer_norm_eps", c.layerNormEps, 0.0, 1.0);
    c.hiddenAct = r.activation("hidden_act", c.hiddenAct);
    requireDivisible(c.hiddenSize, c.numAttentionHeads, "hidden_size must be a multiple of num_attention_heads", where);
    requireDivisible(c.imageSize, c.patchSize, "image_size must be a multiple of patch_size", where);
    return c;
}

LlamaConfig parseLlama(const Json& config, const std::string& where) {
    ConfigReader r(config, where);
    LlamaConfig c;
    c.modelType = r.string("model_type", "llama");
    const bool mistral = c.modelType == "mistral";
    if (!mistral && c.modelType != "llama")
        throw Error(where + ": key 'model_type' = '" + c.modelType + "' is not supported (supported: llama, mistral)");
    if (mistral) {
        c.intermediateSize = 14336;
        c.numKeyValueHeads = 8;
        c.maxPositionEmbeddings = 4096 * 32;
        c.slidingWindow = 4096;  // MistralConfig's default when the key is absent; null means none
    }
    c.vocabSize = r.integer("vocab_size", c.vocabSize, 1, 10'000'000);
    c.hiddenSize = r.integer("hidden_size", c.hiddenSize, 1, kMaxDim);
    c.intermediateSize = r.integer("intermediate_size", c.intermediateSize, 1, kMaxDim * 4);
    c.numHiddenLayers = r.integer("num_hidden_layers", c.numHiddenLayers, 1, 1000);
    c.numAttentionHeads = r.integer("num_attention_heads", c.numAttentionHeads, 1, kMaxDim);
    c.numKeyValueHeads = r.integer("num_key_value_heads", mistral ? c.numKeyValueHeads : c.numAttentionHeads, 1, kMaxDim);
    requireDivisible(c.hiddenSize, c.numAttentionHeads, "hidden_size must be a multiple of num_attention_heads", where);
    c.headDim = r.integer("head_dim", c.hiddenSize / c.numAttentionHeads, 1, kMaxDim);
    requireDivisible(c.numAttentionHeads, c.numKeyValueHeads,
                     "num_attention_heads must be a multiple of num_key_value_heads", where);
    if (c.headDim % 2 != 0) throw Error(where + ": key 'head_dim' must be even for rotary embeddings");
    c.maxPositionEmbeddings = r.integer("max_position_embeddings", c.maxPositionEmbeddings, 1, 100'000'000);
    c.rmsNormEps = r.number("rms_norm_eps", c.rmsNormEps, 0.0, 1.0);
    c.ropeTheta = r.number("rope_theta", c.ropeTheta, 1.0, 1e12);
    if (r.has("rope_scaling"))
        throw Error(where + ": key 'rope_scaling' is set; only the default rotary embedding is supported");
    if (config.contains("sliding_window")) c.slidingWindow = r.integer("sliding_window", 0, 0, 100'000'000);
    c.attentionBias = r.boolean("attention_bias", c.attentionBias);
    c.mlpBias = r.boolean("mlp_bias", c.mlpBias);
    c.tieWordEmbeddings = r.boolean("tie_word_embeddings", c.tieWordEmbeddings);
    c.padTokenId = r.integer("pad_token_id", c.padTokenId, -1, 10'000'000);
    c.bosTokenId = r.integer("bos_token_id", c.bosTokenId, -1, 10'000'000);
    c.eosTokenId = r.integer("eos_token_id", c.eosTokenId, -1, 10'000'000);
    const std::string act = r.string("hidden_act", "silu");
    if (act != "silu") throw Error(where + ": key 'hidden_act' names the unsupported activation '" + act + "' (supported: silu)");
    return c;
}

LlavaNextConfig parseLlavaNext(const Json& config, const std::string& where) {
    ConfigReader r(config, where);
    LlavaNextConfig c;
    // HF's LlavaNextConfig default vision tower is CLIP ViT-L/14 at 336 px.
    c.vision = clipVitL336();
    if (config.contains("vision_config") && !config.at("vision_config").is_null()) {
        const Json& vision = config.at("vision_config");
        if (!vision.is_object()) throw Error(where + ": key 'vision_config' must be an object");
        const std::string type = ConfigReader(vision, where).string("model_type", "clip_vision_model");
        if (type != "clip_vision_model")
            throw Error(where + ": key 'vision_config.model_type' = '" + type + "' is not supported (supported: clip_vision_model)");
        Json merged = vision;
        for (const auto& [key, value] : std::initializer_list<std::pair<const char*, int>>{
                 {"hidden_size", 1024}, {"intermediate_size", 4096}, {"num_hidden_layers", 24},
                 {"num_attention_heads", 16}, {"image_size", 336}, {"patch_size", 14}}) {
            if (!merged.contains(key)) merged[key] = value;
        }
        c.vision = parseClipVision(merged, where + " (vision_config)");
    }
    if (config.contains("text_config") && !config.at("text_config").is_null()) {
        if (!config.at("text_config").is_object()) throw Error(where + ": key 'text_config' must be an object");
        c.text = parseLlama(config.at("text_config"), where + " (text_config)");
    }
    if (!config.contains("image_grid_pinpoints") || config.at("image_grid_pinpoints").is_null()) {
        c.imageGridPinpoints = {{336, 672}, {672, 336}, {672, 672}, {1008, 336}, {336, 1008}};
    } else {
        const Json& pins = config.at("image_grid_pinpoints");
        if (!pins.is_array() || pins.empty())
            throw Error(where + ": key 'image_grid_pinpoints' must be a non-empty list of [height, width] pairs");
        for (const Json& pin : pins) {
            if (!pin.is_array() || pin.size() != 2 || !pin.at(0).is_number_integer() || !pin.at(1).is_number_integer() ||
                pin.at(0).get<int64_t>() <= 0 || pin.at(1).get<int64_t>() <= 0 || pin.at(0).get<int64_t>() > 100'000 ||
                pin.at(1).get<int64_t>() > 100'000)
                throw Error(where + ": key 'image_grid_pinpoints' has the entry " + pin.dump() +
                            "; each must be [height, width] with positive integers");
            const int h = pin.at(0).get<int>(), w = pin.at(1).get<int>();
            if (h % c.vision.imageSize != 0 || w % c.vision.imageSize != 0)
                throw Error(where + ": key 'image_grid_pinpoints' has the entry " + pin.dump() +
                            ", not a multiple of vision_config.image_size " + std::to_string(c.vision.imageSize));
            c.imageGridPinpoints.emplace_back(h, w);
        }
    }
    c.imageTokenIndex = r.integer("image_token_index", c.imageTokenIndex, 0, 10'000'000);
    const int layers = c.vision.numHiddenLayers;
    c.visionFeatureLayer = r.integer("vision_feature_layer", c.visionFeatureLayer, -(layers + 1), layers);
    c.visionFeatureSelectStrategy = r.string("vision_feature_select_strategy", c.visionFeatureSelectStrategy);
    if (c.visionFeatureSelectStrategy != "default" && c.visionFeatureSelectStrategy != "full")
        throw Error(where + ": key 'vision_feature_select_strategy' = '" + c.visionFeatureSelectStrategy +
                    "' (supported: default, full)");
    c.projectorHiddenAct = r.activation("projector_hidden_act", c.projectorHiddenAct);
    c.projectorBias = r.boolean("multimodal_projector_bias", c.projectorBias);
    c.imageSeqLength = r.integer("image_seq_length", c.imageSeqLength, 1, 100'000'000);
    // The top-level tie_word_embeddings is not read: HF ties through the text model's own config.
    return c;
}

}  // namespace

ModelConfig parseModelConfig(const std::string& jsonText, const std::string& fileName) {
    const Json config = parseJsonText(jsonText, fileName);
    if (!config.is_object()) throw Error(fileName + ": not a JSON object");
    ConfigReader r(config, fileName);
    const std::string modelType = r.string("model_type", "");
    if (modelType.empty()) throw Error(fileName + ": key 'model_type' is missing");

    ModelConfig result;
    result.sourceName = fileName;
    if (config.contains("architectures")) {
        const Json& archs = config.at("architectures");
        if (!archs.is_array() || archs.empty() || !archs.at(0).is_string())
            throw Error(fileName + ": key 'architectures' must be a non-empty list of strings");
        result.architecture = archs.at(0).get<std::string>();
    }
    if (modelType == "vilt") {
        result.family = ModelFamily::Vilt;
        result.vilt = parseVilt(config, result.architecture, fileName);
        if (result.architecture.empty()) result.architecture = "ViltModel";
    } else if (modelType == "clip_vision_model") {
        result.family = ModelFamily::ClipVision;
        result.clipVision = parseClipVision(config, fileName);
        result.architecture = "CLIPVisionModel";
    } else if (modelType == "clip") {
        if (!config.contains("vision_config") || !config.at("vision_config").is_object())
            throw Error(fileName + ": key 'vision_config' is missing");
        result.family = ModelFamily::ClipVision;
        result.clipVision = parseClipVision(config.at("vision_config"), fileName + " (vision_config)");
        result.architecture = "CLIPVisionModel";
    } else if (modelType == "llava_next") {
        result.family = ModelFamily::LlavaNext;
        result.llavaNext = parseLlavaNext(config, fileName);
        if (result.architecture.empty()) result.architecture = "LlavaNextForConditionalGeneration";
    } else {
        throw Error(fileName + ": model_type '" + modelType +
                    "' is not supported (supported: vilt, clip_vision_model, clip, llava_next)");
    }
    return result;
}

ModelConfig loadModelConfig(const std::string& path) {
    return parseModelConfig(readTextFile(path, "the model config"), path);
}

std::vector<std::string> builtinModelNames() {
    std::vector<std::string> names{"vilt-b32", "vilt-b32-nlvr2", "vilt-b32-retrieval", "clip-vit-l-336", "clip-vit-b-32"};
    for (const auto& meter : builtinMeterNames()) names.push_back(meter);
    return names;
}

ModelConfig builtinModelConfig(const std::string& name) {
    ModelConfig config;
    config.sourceName = "--arch " + name;
    if (name.rfind("vilt-b32", 0) == 0) {
        config.family = ModelFamily::Vilt;
        ViltConfig& v = config.vilt;
        if (name == "vilt-b32") {
            config.architecture = "ViltForQuestionAnswering";
            v.head = ViltHead::QuestionAnswering;
            for (int i = 0; i < 3129; ++i) v.id2label.push_back("answer_" + std::to_string(i));
            return config;
        }
        if (name == "vilt-b32-nlvr2") {
            config.architecture = "ViltForImagesAndTextClassification";
            v.head = ViltHead::ImagesAndTextClassification;
            v.numImages = 2;
            v.modalityTypeVocabSize = 3;
            v.id2label = {"False", "True"};
            return config;
        }
        if (name == "vilt-b32-retrieval") {
            config.architecture = "ViltForImageAndTextRetrieval";
            v.head = ViltHead::ImageAndTextRetrieval;
            return config;
        }
    } else if (name.rfind("meter-", 0) == 0) {
        const auto meterNames = builtinMeterNames();
        if (std::find(meterNames.begin(), meterNames.end(), name) != meterNames.end()) {
            config.family = ModelFamily::Meter;
            config.meter = builtinMeterConfig(name);
            config.architecture = config.meter.heads.vqa ? "MeterForQuestionAnswering"
                                  : config.meter.heads.nlvr2 ? "MeterForVisualReasoning"
                                                             : "MeterForVisualEntailment";
            return config;
        }
    } else if (name == "clip-vit-l-336" || name == "clip-vit-b-32") {
        config.family = ModelFamily::ClipVision;
        config.architecture = "CLIPVisionModel";
        if (name == "clip-vit-l-336") config.clipVision = clipVitL336();
        return config;
    }
    std::string known;
    for (const auto& n : builtinModelNames()) known += (known.empty() ? "" : ", ") + n;
    throw Error("unknown architecture '" + name + "' (known: " + known + ")");
}

}  // namespace tokenscope
