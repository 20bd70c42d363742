#include "config/meter_config_json.h"

#include "common/error.h"

namespace tokenscope {

nlohmann::json meterConfigJson(const MeterConfig& config, const std::vector<std::string>& id2label) {
    using Json = nlohmann::json;
    if (config.hiddenSize <= 0 || config.intermediateSize % config.hiddenSize != 0)
        throw Error("METER config: the fusion FFN width " + std::to_string(config.intermediateSize) +
                    " is not a multiple of the hidden size " + std::to_string(config.hiddenSize));
    const MeterTextConfig& t = config.text;
    Json j;
    j["model_type"] = "meter";
    j["tokenizer"] = config.tokenizer;
    j["text_config"] = {{"model_type", "roberta"},
                        {"vocab_size", t.vocabSize},
                        {"hidden_size", t.hiddenSize},
                        {"num_hidden_layers", t.numHiddenLayers},
                        {"num_attention_heads", t.numAttentionHeads},
                        {"intermediate_size", t.intermediateSize},
                        {"max_position_embeddings", t.maxPositionEmbeddings},
                        {"type_vocab_size", t.typeVocabSize},
                        {"pad_token_id", t.padTokenId},
                        {"layer_norm_eps", t.layerNormEps}};
    // CLIP by its shape (not a name), in METER's counting: vit_layers = the residual blocks + 1.
    j["vit"] = "custom";
    j["vit_width"] = config.vision.width;
    j["vit_layers"] = config.vision.blocks + 1;
    j["vit_heads"] = config.vision.heads;
    j["patch_size"] = config.vision.patchSize;
    j["image_size"] = config.vision.imageSize;
    j["hidden_size"] = config.hiddenSize;
    j["num_heads"] = config.numHeads;
    j["num_top_layer"] = config.numTopLayer;
    j["mlp_ratio"] = config.intermediateSize / config.hiddenSize;
    j["max_text_len"] = config.maxTextLen;
    const MeterHeads& h = config.heads;
    j["loss_names"] = {{"vqa", h.vqa ? 1 : 0}, {"nlvr2", h.nlvr2 ? 1 : 0}, {"snli", h.snli ? 1 : 0},
                       {"irtr", h.retrieval ? 1 : 0}, {"itm", h.itm ? 1 : 0}};
    j["vqav2_label_size"] = h.vqaLabels;
    j["token_types"] = config.tokenTypes;
    j["stream_order"] = meterStreamOrderName(config.streamOrder);
    if (config.trainedReduction) {
        Json layers = Json::array();
        for (int layer : config.trainedReduction->fusionLayers) layers.push_back(2 * layer);  // PuMer's layer_idx
        j["reduce_layers"] = layers;
        j["prune_r"] = config.trainedReduction->pruneRatio;
        j["merge_r"] = config.trainedReduction->mergeRatio;
        j["merge_text"] = config.trainedReduction->textMergeRatio;
    }
    if (!id2label.empty()) {
        Json labels = Json::object();
        for (std::size_t i = 0; i < id2label.size(); ++i) labels[std::to_string(i)] = id2label[i];
        j["id2label"] = labels;
    }
    return j;
}

}  // namespace tokenscope
