#include "config/model_config.h"

#include <limits>

#include <nlohmann/json.hpp>

#include "common/error.h"
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

void requireDivisible(int value, int divisor, const std::string& what, const std::string& where) {
    if (divisor <= 0 || value % divisor != 0)
        throw Error(where + ": " + what + " (" + std::to_string(value) + " / " + std::to_string(divisor) + ")");
}

std::vector<std::string> parseId2Label(const Json& config, const std::string& where) {
    std::vector<std::string> labels;
    if (!config.contains("id2label")) return labels;
    const Json& map = config.at("id2label");
    if (!map.is_object()) throw Error(where + ": key 'id2label' must be an object");
    labels.resize(map.size());
    std::vector<bool> seen(map.size(), false);
    for (const auto& [key, value] : map.items()) {
        std::size_t index = 0;
        std::size_t used = 0;
        try {
            index = std::stoul(key, &used);
        } catch (const std::exception&) {
            used = 0;
        }
        if (used != key.size() || index >= labels.size() || seen[index])
            throw Error(where + ": key 'id2label' has the entry \"" + key + "\", but ids must be 0.." +
                        std::to_string(labels.size() - 1) + ", each once");
        if (!value.is_string()) throw Error(where + ": id2label[\"" + key + "\"] must be a string");
        labels[index] = value.get<std::string>();
        seen[index] = true;
    }
    return labels;
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
    } else {
        throw Error(fileName + ": model_type '" + modelType + "' is not supported (supported: vilt, clip_vision_model, clip)");
    }
    return result;
}

ModelConfig loadModelConfig(const std::string& path) {
    return parseModelConfig(readTextFile(path, "the model config"), path);
}

std::vector<std::string> builtinModelNames() {
    return {"vilt-b32", "vilt-b32-nlvr2", "vilt-b32-retrieval", "clip-vit-l-336", "clip-vit-b-32"};
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
    } else if (name == "clip-vit-l-336" || name == "clip-vit-b-32") {
        config.family = ModelFamily::ClipVision;
        config.architecture = "CLIPVisionModel";
        ClipVisionConfig& c = config.clipVision;
        if (name == "clip-vit-l-336") {
            c.hiddenSize = 1024;
            c.intermediateSize = 4096;
            c.numHiddenLayers = 24;
            c.numAttentionHeads = 16;
            c.imageSize = 336;
            c.patchSize = 14;
        }
        return config;
    }
    std::string known;
    for (const auto& n : builtinModelNames()) known += (known.empty() ? "" : ", ") + n;
    throw Error("unknown architecture '" + name + "' (known: " + known + ")");
}

}  // namespace tokenscope
