#include "config/meter_config.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <sstream>

#include <nlohmann/json.hpp>

#include "common/error.h"

namespace tokenscope {

namespace {

using Json = nlohmann::json;

std::string shapeText(const std::vector<int64_t>& shape) {
    std::string text = "[";
    for (std::size_t i = 0; i < shape.size(); ++i) text += (i ? ", " : "") + std::to_string(shape[i]);
    return text + "]";
}

// Typed access to the hyper-parameter dict; errors name the key and where.
class Reader {
public:
    Reader(const Json& object, std::string where) : m_object(object), m_where(std::move(where)) {}

    bool has(const char* key) const { return m_object.contains(key) && !m_object.at(key).is_null(); }
    const Json& at(const char* key) const { return m_object.at(key); }

    int integer(const char* key, int fallback, int minimum, int maximum) const {
        if (!has(key)) return fallback;
        const Json& value = m_object.at(key);
        // Sacred stores some ints as floats (e.g. 4.0); accept integral floats.
        int64_t v = 0;
        if (value.is_number_integer()) {
            v = value.get<int64_t>();
        } else if (value.is_number_float() && std::floor(value.get<double>()) == value.get<double>()) {
            v = static_cast<int64_t>(value.get<double>());
        } else {
            throw Error(m_where + ": key '" + key + "' must be an integer, not " + value.dump());
        }
        if (v < minimum || v > maximum)
            throw Error(m_where + ": key '" + key + "' = " + std::to_string(v) + " is outside [" + std::to_string(minimum) +
                        ", " + std::to_string(maximum) + "]");
        return static_cast<int>(v);
    }
    double number(const char* key, double fallback, double minimum, double maximum) const {
        if (!has(key)) return fallback;
        const Json& value = m_object.at(key);
        if (!value.is_number()) throw Error(m_where + ": key '" + key + "' must be a number, not " + value.dump());
        const double v = value.get<double>();
        if (!(v >= minimum && v <= maximum)) throw Error(m_where + ": key '" + key + "' = " + value.dump() + " is out of range");
        return v;
    }
    std::string string(const char* key, const std::string& fallback) const {
        if (!has(key)) return fallback;
        const Json& value = m_object.at(key);
        if (!value.is_string()) throw Error(m_where + ": key '" + key + "' must be a string, not " + value.dump());
        return value.get<std::string>();
    }

private:
    const Json& m_object;
    std::string m_where;
};

constexpr int kMaxDim = 1 << 20;

int defaultHeads(int width) { return width >= 64 && width % 64 == 0 ? width / 64 : 1; }

void requireDivisible(int value, int divisor, const std::string& what, const std::string& where) {
    if (divisor <= 0 || value % divisor != 0)
        throw Error(where + ": " + what + " (" + std::to_string(value) + " / " + std::to_string(divisor) + ")");
}

MeterTextConfig parseTextConfig(const Json& object, const std::string& where) {
    if (!object.is_object()) throw Error(where + ": key 'text_config' must be an object");
    const Reader r(object, where + " (text_config)");
    const std::string type = r.string("model_type", "roberta");
    if (type != "roberta")
        throw Error(where + ": key 'text_config.model_type' = '" + type + "'; only RoBERTa text encoders are supported");
    const std::string act = r.string("hidden_act", "gelu");
    if (act != "gelu") throw Error(where + ": key 'text_config.hidden_act' = '" + act + "'; only gelu is supported");
    MeterTextConfig c;
    c.vocabSize = r.integer("vocab_size", c.vocabSize, 1, 10'000'000);
    c.hiddenSize = r.integer("hidden_size", c.hiddenSize, 1, kMaxDim);
    c.numHiddenLayers = r.integer("num_hidden_layers", c.numHiddenLayers, 1, 1000);
    c.numAttentionHeads = r.integer("num_attention_heads", c.numAttentionHeads, 1, kMaxDim);
    c.intermediateSize = r.integer("intermediate_size", c.intermediateSize, 1, 4 * kMaxDim);
    c.maxPositionEmbeddings = r.integer("max_position_embeddings", c.maxPositionEmbeddings, 3, 10'000'000);
    c.typeVocabSize = r.integer("type_vocab_size", c.typeVocabSize, 1, 1000);
    c.padTokenId = r.integer("pad_token_id", c.padTokenId, 0, 10'000'000);
    c.layerNormEps = r.number("layer_norm_eps", c.layerNormEps, 0.0, 1.0);
    requireDivisible(c.hiddenSize, c.numAttentionHeads, "text_config.hidden_size must be a multiple of num_attention_heads", where);
    return c;
}

// The text encoder METER builds from `tokenizer` (RobertaModel.from_pretrained(tokenizer)).
MeterTextConfig textConfigForTokenizer(const std::string& tokenizer, const std::string& where) {
    MeterTextConfig c;
    const auto slash = tokenizer.find_last_of('/');
    const std::string base = slash == std::string::npos ? tokenizer : tokenizer.substr(slash + 1);
    if (base == "roberta-base") return c;
    if (base == "roberta-large") {
        c.hiddenSize = 1024;
        c.numHiddenLayers = 24;
        c.numAttentionHeads = 16;
        c.intermediateSize = 4096;
        return c;
    }
    if (base.rfind("bert", 0) == 0)
        throw Error(where + ": key 'tokenizer' = '" + tokenizer + "': METER with a BERT text encoder is not supported (RoBERTa only)");
    throw Error(where + ": key 'text_config' is missing and key 'tokenizer' = '" + tokenizer +
                "' names no known RoBERTa (roberta-base, roberta-large)");
}

// CLIP names METER's clip_model.py knows: (width, layers, heads, patch).
bool clipByName(const std::string& name, MeterVisionConfig& c) {
    struct Known {
        const char* name;
        int width, layers, heads, patch;
    };
    static const Known known[] = {{"ViT-B/32", 768, 12, 12, 32},
                                  {"ViT-B/16", 768, 12, 12, 16},
                                  {"ViT-L/14", 1024, 24, 16, 14},
                                  {"ViT-L/14@336px", 1024, 24, 16, 14}};
    for (const auto& k : known) {
        if (name == k.name) {
            c.width = k.width;
            c.blocks = k.layers - 1;
            c.heads = k.heads;
            c.patchSize = k.patch;
            return true;
        }
    }
    return false;
}

bool lossPositive(const Json& losses, const char* key) {
    return losses.contains(key) && losses.at(key).is_number() && losses.at(key).get<double>() > 0.0;
}

const std::vector<int64_t>& requireTensor(const TensorShapes& shapes, const std::string& name, std::size_t rank,
                                          const std::string& where) {
    const auto found = shapes.find(name);
    if (found == shapes.end()) throw Error(where + ": tensor '" + name + "' is missing (is this a METER checkpoint?)");
    if (found->second.size() != rank)
        throw Error(where + ": tensor '" + name + "' has shape " + shapeText(found->second) + ", expected " +
                    std::to_string(rank) + " dimensions");
    for (const auto d : found->second) {
        if (d <= 0 || d > 100'000'000)
            throw Error(where + ": tensor '" + name + "' has the shape " + shapeText(found->second));
    }
    return found->second;
}

// Number of indexed children `prefix{i}.` (max index + 1; 0 when none).
int countIndexed(const TensorShapes& shapes, const std::string& prefix) {
    int count = 0;
    for (auto it = shapes.lower_bound(prefix); it != shapes.end() && it->first.compare(0, prefix.size(), prefix) == 0; ++it) {
        const auto rest = it->first.substr(prefix.size());
        const auto dot = rest.find('.');
        if (dot == 0 || dot == std::string::npos) continue;
        const auto digits = rest.substr(0, dot);
        if (digits.find_first_not_of("0123456789") != std::string::npos || digits.size() > 6) continue;
        count = std::max(count, std::atoi(digits.c_str()) + 1);
    }
    return count;
}

bool hasPrefix(const TensorShapes& shapes, const std::string& prefix) {
    const auto it = shapes.lower_bound(prefix);
    return it != shapes.end() && it->first.compare(0, prefix.size(), prefix) == 0;
}

int asInt(int64_t v) { return static_cast<int>(v); }

}  // namespace

const char* meterStreamOrderName(MeterStreamOrder order) {
    return order == MeterStreamOrder::Sequential ? "sequential" : "parallel";
}

MeterConfig parseMeterHyperParameters(const Json& config, const std::string& where) {
    if (!config.is_object()) throw Error(where + ": hyper_parameters.config must be an object");
    const Reader r(config, where);
    MeterConfig c;

    c.tokenizer = r.string("tokenizer", c.tokenizer);
    c.text = r.has("text_config") ? parseTextConfig(config.at("text_config"), where) : textConfigForTokenizer(c.tokenizer, where);
    if (r.has("vocab_size")) {
        const int vocab = r.integer("vocab_size", 0, 1, 10'000'000);
        if (r.has("text_config") && vocab != c.text.vocabSize)
            throw Error(where + ": key 'vocab_size' = " + std::to_string(vocab) + " but text_config.vocab_size = " +
                        std::to_string(c.text.vocabSize));
        c.text.vocabSize = vocab;
    }

    // CLIP: the `vit` name, overridden by vit_width / vit_layers / vit_heads and patch_size.
    const std::string vit = r.string("vit", "ViT-B/32");
    const bool knownVit = clipByName(vit, c.vision);
    if (!knownVit && !(r.has("vit_width") && r.has("vit_layers")))
        throw Error(where + ": key 'vit' = '" + vit +
                    "' is not a supported CLIP (ViT-B/32, ViT-B/16, ViT-L/14, ViT-L/14@336px) and vit_width / vit_layers "
                    "are not given");
    c.vision.width = r.integer("vit_width", c.vision.width, 1, kMaxDim);
    c.vision.blocks = r.integer("vit_layers", c.vision.blocks + 1, 2, 1000) - 1;
    c.vision.heads = r.integer("vit_heads", knownVit ? c.vision.heads : defaultHeads(c.vision.width), 1, kMaxDim);
    const char* patchKey = r.has("patch_size") ? "patch_size" : "vit_patch_size";
    c.vision.patchSize = r.integer(patchKey, c.vision.patchSize, 1, 10'000);
    c.vision.imageSize = r.integer("image_size", 224, 1, 100'000);
    requireDivisible(c.vision.imageSize, c.vision.patchSize, "image_size must be a multiple of the patch size", where);
    requireDivisible(c.vision.width, c.vision.heads, "the CLIP width must be a multiple of its heads", where);
    if (r.has("input_image_embed_size") && r.integer("input_image_embed_size", 0, 1, kMaxDim) != c.vision.width)
        throw Error(where + ": key 'input_image_embed_size' = " + r.at("input_image_embed_size").dump() +
                    " but the CLIP width is " + std::to_string(c.vision.width));
    if (r.has("input_text_embed_size") && r.integer("input_text_embed_size", 0, 1, kMaxDim) != c.text.hiddenSize)
        throw Error(where + ": key 'input_text_embed_size' = " + r.at("input_text_embed_size").dump() +
                    " but the text encoder's hidden size is " + std::to_string(c.text.hiddenSize));

    c.hiddenSize = r.integer("hidden_size", c.hiddenSize, 1, kMaxDim);
    c.numHeads = r.integer("num_heads", c.numHeads, 1, kMaxDim);
    c.numTopLayer = r.integer("num_top_layer", c.numTopLayer, 1, 1000);
    c.intermediateSize = c.hiddenSize * r.integer("mlp_ratio", 4, 1, 64);
    c.maxTextLen = r.integer("max_text_len", 40, 1, 100'000);
    requireDivisible(c.hiddenSize, c.numHeads, "hidden_size must be a multiple of num_heads", where);
    if (c.maxTextLen + c.text.padTokenId + 1 > c.text.maxPositionEmbeddings)
        throw Error(where + ": key 'max_text_len' = " + std::to_string(c.maxTextLen) +
                    " does not fit the text encoder's " + std::to_string(c.text.maxPositionEmbeddings) + " positions");

    if (r.has("loss_names")) {
        const Json& losses = config.at("loss_names");
        if (!losses.is_object()) throw Error(where + ": key 'loss_names' must be an object");
        c.heads.vqa = lossPositive(losses, "vqa");
        c.heads.nlvr2 = lossPositive(losses, "nlvr2");
        c.heads.snli = lossPositive(losses, "snli");
        c.heads.retrieval = lossPositive(losses, "irtr");
        c.heads.itm = lossPositive(losses, "itm") || c.heads.retrieval;
    }
    const char* labelKey = r.has("vqav2_label_size") ? "vqav2_label_size" : "vqa_label_size";
    c.heads.vqaLabels = r.integer(labelKey, c.heads.vqaLabels, 1, 10'000'000);
    c.tokenTypes = r.integer("token_types", c.heads.nlvr2 ? 3 : 2, 2, 1000);
    if (c.heads.nlvr2 && c.tokenTypes < 3)
        throw Error(where + ": key 'token_types' = " + std::to_string(c.tokenTypes) + " but NLVR2 needs 3");

    bool pumerKeys = false;
    for (const char* key : {"token_types", "vit_patch_size", "vqa_label_size", "reduce_layers", "prune_r", "merge_r", "merge_text"})
        pumerKeys = pumerKeys || config.contains(key);
    c.streamOrder = pumerKeys ? MeterStreamOrder::Sequential : MeterStreamOrder::Parallel;
    if (r.has("stream_order")) {
        const std::string order = r.string("stream_order", "");
        if (order == "sequential") {
            c.streamOrder = MeterStreamOrder::Sequential;
        } else if (order == "parallel") {
            c.streamOrder = MeterStreamOrder::Parallel;
        } else {
            throw Error(where + ": key 'stream_order' = '" + order + "' (expected sequential or parallel)");
        }
    }

    if (r.has("reduce_layers")) {
        const Json& layers = config.at("reduce_layers");
        if (!layers.is_array()) throw Error(where + ": key 'reduce_layers' must be a list of layer indices");
        MeterTrainedReduction t;
        for (const auto& v : layers) {
            if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() % 2 != 0 ||
                v.get<int64_t>() / 2 >= c.numTopLayer)
                throw Error(where + ": key 'reduce_layers' holds " + v.dump() + "; PuMer's METER layer_idx is 2 x fusion layer, 0.." +
                            std::to_string(2 * (c.numTopLayer - 1)));
            t.fusionLayers.push_back(static_cast<int>(v.get<int64_t>() / 2));
        }
        t.pruneRatio = r.number("prune_r", 0.0, 0.0, 1.0);
        t.mergeRatio = r.number("merge_r", 0.0, 0.0, 1.0);
        t.textMergeRatio = r.number("merge_text", 0.0, 0.0, 1.0);
        if (!t.fusionLayers.empty()) c.trainedReduction = t;
    }
    return c;
}

MeterConfig inferMeterConfig(const TensorShapes& shapes, const std::string& where) {
    MeterConfig c;
    // Text encoder.
    const auto& words = requireTensor(shapes, "text_transformer.embeddings.word_embeddings.weight", 2, where);
    const auto& positions = requireTensor(shapes, "text_transformer.embeddings.position_embeddings.weight", 2, where);
    const auto& textTypes = requireTensor(shapes, "text_transformer.embeddings.token_type_embeddings.weight", 2, where);
    c.text.vocabSize = asInt(words[0]);
    c.text.hiddenSize = asInt(words[1]);
    c.text.maxPositionEmbeddings = asInt(positions[0]);
    c.text.typeVocabSize = asInt(textTypes[0]);
    c.text.numHiddenLayers = countIndexed(shapes, "text_transformer.encoder.layer.");
    if (c.text.numHiddenLayers == 0) throw Error(where + ": no tensor 'text_transformer.encoder.layer.0.*' (is this a METER checkpoint?)");
    c.text.intermediateSize =
        asInt(requireTensor(shapes, "text_transformer.encoder.layer.0.intermediate.dense.weight", 2, where)[0]);
    c.text.numAttentionHeads = defaultHeads(c.text.hiddenSize);
    if (c.text.maxPositionEmbeddings < c.text.padTokenId + 2)
        throw Error(where + ": tensor 'text_transformer.embeddings.position_embeddings.weight' has too few rows");

    // CLIP.
    const auto& conv = requireTensor(shapes, "vit_model.visual.conv1.weight", 4, where);
    if (conv[1] != 3 || conv[2] != conv[3])
        throw Error(where + ": tensor 'vit_model.visual.conv1.weight' has shape " + shapeText(conv) + ", expected [width, 3, p, p]");
    c.vision.width = asInt(conv[0]);
    c.vision.patchSize = asInt(conv[2]);
    const auto& table = requireTensor(shapes, "vit_model.visual.positional_embedding", 2, where);
    const auto grid = static_cast<int64_t>(std::llround(std::sqrt(static_cast<double>(table[0] - 1))));
    if (table[0] < 2 || grid * grid + 1 != table[0])
        throw Error(where + ": tensor 'vit_model.visual.positional_embedding' has " + std::to_string(table[0]) +
                    " rows, not a square grid + 1");
    c.vision.imageSize = asInt(grid) * c.vision.patchSize;
    c.vision.blocks = countIndexed(shapes, "vit_model.visual.transformer.resblocks.");
    if (c.vision.blocks == 0) throw Error(where + ": no tensor 'vit_model.visual.transformer.resblocks.0.*'");
    c.vision.heads = defaultHeads(c.vision.width);

    // Fusion.
    const auto& textBridge = requireTensor(shapes, "cross_modal_text_transform.weight", 2, where);
    c.hiddenSize = asInt(textBridge[0]);
    c.numHeads = defaultHeads(c.hiddenSize);
    c.numTopLayer = countIndexed(shapes, "cross_modal_text_layers.");
    const int imageLayers = countIndexed(shapes, "cross_modal_image_layers.");
    if (c.numTopLayer == 0) throw Error(where + ": no tensor 'cross_modal_text_layers.0.*'");
    if (imageLayers != c.numTopLayer)
        throw Error(where + ": " + std::to_string(c.numTopLayer) + " cross_modal_text_layers but " + std::to_string(imageLayers) +
                    " cross_modal_image_layers");
    c.intermediateSize = asInt(requireTensor(shapes, "cross_modal_text_layers.0.intermediate.dense.weight", 2, where)[0]);
    c.tokenTypes = asInt(requireTensor(shapes, "token_type_embeddings.weight", 2, where)[0]);

    // Heads.
    c.heads.vqa = hasPrefix(shapes, "vqa_classifier.");
    if (c.heads.vqa) c.heads.vqaLabels = asInt(requireTensor(shapes, "vqa_classifier.3.weight", 2, where)[0]);
    c.heads.nlvr2 = hasPrefix(shapes, "nlvr2_classifier.");
    c.heads.snli = hasPrefix(shapes, "snli_classifier.");
    c.heads.itm = hasPrefix(shapes, "itm_score.");
    c.heads.retrieval = hasPrefix(shapes, "rank_output.");
    c.maxTextLen = std::min(c.heads.retrieval ? 40 : 50, c.text.maxPositionEmbeddings - c.text.padTokenId - 1);
    return c;
}

TensorShapes meterExpectedShapes(const MeterConfig& c) {
    TensorShapes s;
    const int64_t th = c.text.hiddenSize, ti = c.text.intermediateSize;
    const auto norm = [&](const std::string& name, int64_t width) {
        s[name + ".weight"] = {width};
        s[name + ".bias"] = {width};
    };
    const auto linear = [&](const std::string& name, int64_t out, int64_t in) {
        s[name + ".weight"] = {out, in};
        s[name + ".bias"] = {out};
    };
    const auto bertAttention = [&](const std::string& name, int64_t width) {
        for (const char* part : {"query", "key", "value"}) linear(name + ".self." + part, width, width);
        linear(name + ".output.dense", width, width);
        norm(name + ".output.LayerNorm", width);
    };
    const auto bertFeedForward = [&](const std::string& name, int64_t width, int64_t inner) {
        linear(name + ".intermediate.dense", inner, width);
        linear(name + ".output.dense", width, inner);
        norm(name + ".output.LayerNorm", width);
    };

    const std::string te = "text_transformer.embeddings.";
    s[te + "word_embeddings.weight"] = {c.text.vocabSize, th};
    s[te + "position_embeddings.weight"] = {c.text.maxPositionEmbeddings, th};
    s[te + "token_type_embeddings.weight"] = {c.text.typeVocabSize, th};
    norm(te + "LayerNorm", th);
    for (int i = 0; i < c.text.numHiddenLayers; ++i) {
        const std::string layer = "text_transformer.encoder.layer." + std::to_string(i);
        bertAttention(layer + ".attention", th);
        bertFeedForward(layer, th, ti);
    }

    const int64_t w = c.vision.width, p = c.vision.patchSize, g = c.vision.imageSize / c.vision.patchSize;
    const std::string v = "vit_model.visual.";
    s[v + "conv1.weight"] = {w, 3, p, p};
    s[v + "class_embedding"] = {w};
    s[v + "positional_embedding"] = {g * g + 1, w};
    norm(v + "ln_pre", w);
    norm(v + "ln_post", w);
    for (int i = 0; i < c.vision.blocks; ++i) {
        const std::string block = v + "transformer.resblocks." + std::to_string(i);
        s[block + ".attn.in_proj_weight"] = {3 * w, w};
        s[block + ".attn.in_proj_bias"] = {3 * w};
        linear(block + ".attn.out_proj", w, w);
        norm(block + ".ln_1", w);
        norm(block + ".ln_2", w);
        linear(block + ".mlp.c_fc", 4 * w, w);
        linear(block + ".mlp.c_proj", w, 4 * w);
    }

    const int64_t h = c.hiddenSize;
    linear("cross_modal_text_transform", h, th);
    linear("cross_modal_image_transform", h, w);
    s["token_type_embeddings.weight"] = {c.tokenTypes, h};
    for (const char* side : {"text", "image"}) {
        for (int j = 0; j < c.numTopLayer; ++j) {
            const std::string layer = std::string("cross_modal_") + side + "_layers." + std::to_string(j);
            bertAttention(layer + ".attention", h);
            bertAttention(layer + ".crossattention", h);
            bertFeedForward(layer, h, c.intermediateSize);
        }
        linear(std::string("cross_modal_") + side + "_pooler.dense", h, h);
    }

    const auto classifier = [&](const std::string& name, int64_t in, int64_t labels) {
        linear(name + ".0", 2 * h, in);
        norm(name + ".1", 2 * h);
        linear(name + ".3", labels, 2 * h);
    };
    if (c.heads.vqa) classifier("vqa_classifier", 2 * h, c.heads.vqaLabels);
    if (c.heads.nlvr2) classifier("nlvr2_classifier", 4 * h, 2);
    if (c.heads.snli) classifier("snli_classifier", 2 * h, 3);
    if (c.heads.itm) linear("itm_score.fc", 2, 2 * h);
    if (c.heads.retrieval) linear("rank_output", 1, 2 * h);
    return s;
}

void checkMeterShapes(const MeterConfig& config, const TensorShapes& shapes, const std::string& where) {
    for (const auto& [name, shape] : meterExpectedShapes(config)) {
        const auto found = shapes.find(name);
        if (found == shapes.end()) throw Error(where + ": tensor '" + name + "' is missing (expected " + shapeText(shape) + ")");
        if (found->second != shape)
            throw Error(where + ": tensor '" + name + "' has shape " + shapeText(found->second) + ", expected " + shapeText(shape));
    }
}

std::vector<std::string> meterConfigDifferences(const MeterConfig& a, const MeterConfig& b, bool shapeOnly) {
    std::vector<std::string> out;
    const auto cmp = [&](const char* name, auto x, auto y) {
        if (x != y) {
            std::ostringstream line;
            line << name << ": " << x << " vs " << y;
            out.push_back(line.str());
        }
    };
    cmp("text.vocab_size", a.text.vocabSize, b.text.vocabSize);
    cmp("text.hidden_size", a.text.hiddenSize, b.text.hiddenSize);
    cmp("text.num_hidden_layers", a.text.numHiddenLayers, b.text.numHiddenLayers);
    cmp("text.intermediate_size", a.text.intermediateSize, b.text.intermediateSize);
    cmp("text.max_position_embeddings", a.text.maxPositionEmbeddings, b.text.maxPositionEmbeddings);
    cmp("text.type_vocab_size", a.text.typeVocabSize, b.text.typeVocabSize);
    cmp("vision.width", a.vision.width, b.vision.width);
    cmp("vision.blocks", a.vision.blocks, b.vision.blocks);
    cmp("vision.patch_size", a.vision.patchSize, b.vision.patchSize);
    cmp("vision.image_size", a.vision.imageSize, b.vision.imageSize);
    cmp("hidden_size", a.hiddenSize, b.hiddenSize);
    cmp("num_top_layer", a.numTopLayer, b.numTopLayer);
    cmp("intermediate_size", a.intermediateSize, b.intermediateSize);
    cmp("token_types", a.tokenTypes, b.tokenTypes);
    cmp("heads.vqa", a.heads.vqa, b.heads.vqa);
    cmp("heads.nlvr2", a.heads.nlvr2, b.heads.nlvr2);
    cmp("heads.snli", a.heads.snli, b.heads.snli);
    cmp("heads.itm", a.heads.itm, b.heads.itm);
    cmp("heads.retrieval", a.heads.retrieval, b.heads.retrieval);
    if (a.heads.vqa || b.heads.vqa) cmp("heads.vqa_labels", a.heads.vqaLabels, b.heads.vqaLabels);
    if (shapeOnly) return out;
    cmp("text.num_attention_heads", a.text.numAttentionHeads, b.text.numAttentionHeads);
    cmp("text.pad_token_id", a.text.padTokenId, b.text.padTokenId);
    cmp("text.layer_norm_eps", a.text.layerNormEps, b.text.layerNormEps);
    cmp("vision.heads", a.vision.heads, b.vision.heads);
    cmp("vision.layer_norm_eps", a.vision.layerNormEps, b.vision.layerNormEps);
    cmp("num_heads", a.numHeads, b.numHeads);
    cmp("max_text_len", a.maxTextLen, b.maxTextLen);
    cmp("fusion_layer_norm_eps", a.fusionLayerNormEps, b.fusionLayerNormEps);
    cmp("head_layer_norm_eps", a.headLayerNormEps, b.headLayerNormEps);
    cmp("stream_order", std::string(meterStreamOrderName(a.streamOrder)), std::string(meterStreamOrderName(b.streamOrder)));
    cmp("tokenizer", a.tokenizer, b.tokenizer);
    cmp("trained_reduction", a.trainedReduction.has_value(), b.trainedReduction.has_value());
    return out;
}

MeterConfig meterConfigFromCheckpoint(const Json& hyperParameters, const TensorShapes& shapes, const std::string& where) {
    const MeterConfig inferred = inferMeterConfig(shapes, where);
    if (!hyperParameters.is_object()) {
        checkMeterShapes(inferred, shapes, where);
        return inferred;
    }
    MeterConfig config = parseMeterHyperParameters(hyperParameters, where + " (hyper_parameters.config)");
    // Heads: the ones the config lists must exist; the checkpoint may carry more (they are loaded).
    const std::pair<const char*, std::pair<bool, bool>> heads[] = {
        {"vqa_classifier (loss_names.vqa)", {config.heads.vqa, inferred.heads.vqa}},
        {"nlvr2_classifier (loss_names.nlvr2)", {config.heads.nlvr2, inferred.heads.nlvr2}},
        {"snli_classifier (loss_names.snli)", {config.heads.snli, inferred.heads.snli}},
        {"itm_score (loss_names.itm)", {config.heads.itm, inferred.heads.itm}},
        {"rank_output (loss_names.irtr)", {config.heads.retrieval, inferred.heads.retrieval}}};
    for (const auto& [name, present] : heads) {
        if (present.first && !present.second)
            throw Error(where + ": hyper_parameters.config asks for the head " + name + " but the checkpoint has no such tensors");
    }
    const int labels = config.heads.vqaLabels;
    config.heads = inferred.heads;
    if (config.heads.vqa && labels != inferred.heads.vqaLabels)
        throw Error(where + ": hyper_parameters.config says vqav2_label_size = " + std::to_string(labels) +
                    " but tensor 'vqa_classifier.3.weight' has " + std::to_string(inferred.heads.vqaLabels) + " rows");
    const auto differences = meterConfigDifferences(config, inferred, /*shapeOnly=*/true);
    if (!differences.empty())
        throw Error(where + ": hyper_parameters.config disagrees with the tensor shapes: " + differences.front() +
                    " (config vs tensors)");
    checkMeterShapes(config, shapes, where);
    return config;
}

std::vector<std::string> builtinMeterNames() { return {"meter-b16", "meter-b16-nlvr2", "meter-b16-snli", "meter-tiny"}; }

MeterConfig builtinMeterConfig(const std::string& name) {
    MeterConfig c;  // defaults: RoBERTa-base, CLIP ViT-B/16 (11 blocks), 6 fusion layers at 768
    c.maxTextLen = 50;
    if (name == "meter-b16") {
        c.vision.imageSize = 384;
        c.heads.vqa = true;
        return c;
    }
    if (name == "meter-b16-nlvr2") {
        c.vision.imageSize = 288;
        c.heads.nlvr2 = true;
        c.tokenTypes = 3;
        return c;
    }
    if (name == "meter-b16-snli") {
        c.vision.imageSize = 384;
        c.heads.snli = true;
        return c;
    }
    if (name == "meter-tiny") {
        c.text.vocabSize = 381;
        c.text.hiddenSize = 32;
        c.text.numHiddenLayers = 2;
        c.text.numAttentionHeads = 4;
        c.text.intermediateSize = 128;
        c.text.maxPositionEmbeddings = 14;
        c.vision.width = 32;
        c.vision.blocks = 2;
        c.vision.heads = 4;
        c.vision.imageSize = 64;
        c.hiddenSize = 32;
        c.numHeads = 4;
        c.numTopLayer = 2;
        c.intermediateSize = 128;
        c.tokenTypes = 3;
        c.maxTextLen = 12;
        c.tokenizer = "roberta_tiny";
        c.heads.vqa = true;
        c.heads.vqaLabels = 10;
        c.heads.nlvr2 = true;
        return c;
    }
    std::string known;
    for (const auto& n : builtinMeterNames()) known += (known.empty() ? "" : ", ") + n;
    throw Error("unknown METER architecture '" + name + "' (known: " + known + ")");
}

}  // namespace tokenscope
