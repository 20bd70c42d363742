#pragma once

// METER (Dou et al., "An Empirical Study of Training End-to-End Vision-and-Language Transformers",
// CVPR 2022; zdou0830/METER, and PuMer's port csarron/PuMer src/pumer/model/meter/): the shape of
// the network, read from a Lightning checkpoint's hyper_parameters["config"] or inferred from the
// tensor shapes, and the built-in random-weight architectures. Reference: zdou0830/METER meter/config.py and
// meter/modules/meter_module.py.
//
// Torch-free (tokenscope_base). Every function throws tokenscope::Error with a one-line message
// that names the file (the `where` argument) and the key or tensor at fault.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace tokenscope {

// How the two streams of a fusion layer are updated.
//  * Parallel: x', y' = TextLayer(x, y), ImageLayer(y, x) from the same old states (zdou0830/METER
//    meter_module.py `infer`): what the released METER checkpoints expect.
//  * Sequential: x' = TextLayer(x, y), then y' = ImageLayer(y, x') sees the updated (possibly
//    merged) text (PuMer modeling_meter.py MeterModel.forward): what PuMer checkpoints expect.
enum class MeterStreamOrder { Sequential, Parallel };

// RoBERTa text encoder (transformers RobertaConfig). Defaults = roberta-base.
struct MeterTextConfig {
    int vocabSize = 50265;
    int hiddenSize = 768;
    int numHiddenLayers = 12;
    int numAttentionHeads = 12;
    int intermediateSize = 3072;
    int maxPositionEmbeddings = 514;
    int typeVocabSize = 1;
    int padTokenId = 1;
    double layerNormEps = 1e-5;
};

// CLIP visual transformer under OpenAI's names. `blocks` = the residual blocks the checkpoint holds:
// METER's Transformer builds layers - 1 of them (ViT-B/16: 12 layers -> 11 blocks).
struct MeterVisionConfig {
    int width = 768;
    int blocks = 11;
    int heads = 12;
    int patchSize = 16;
    int imageSize = 288;  // resolution of the positional embedding: (imageSize / patchSize)^2 + 1 rows
    double layerNormEps = 1e-5;
};

// Task heads present in the checkpoint (METER's loss_names > 0 create them).
struct MeterHeads {
    bool vqa = false;        // vqa_classifier: 2H -> 2H -> LN -> GELU -> vqaLabels
    bool nlvr2 = false;      // nlvr2_classifier: 4H -> 2H -> LN -> GELU -> 2 (two images, token type 2)
    bool snli = false;       // snli_classifier: 2H -> 2H -> LN -> GELU -> 3
    bool itm = false;        // itm_score.fc: 2H -> 2
    bool retrieval = false;  // rank_output: 2H -> 1 (irtr)
    int vqaLabels = 3129;
    bool any() const { return vqa || nlvr2 || snli || itm || retrieval; }
};

// PuMer's own reduction settings when the config carries them (PuMer MeterConfig keys
// reduce_layers / prune_r / merge_r / merge_text). fusionLayers = reduce_layers / 2 (PuMer's
// layer_idx advances by 2 per fusion layer).
struct MeterTrainedReduction {
    std::vector<int> fusionLayers;
    double pruneRatio = 0.0;
    double mergeRatio = 0.0;
    double textMergeRatio = 0.0;
};

struct MeterConfig {
    MeterTextConfig text;
    MeterVisionConfig vision;
    int hiddenSize = 768;         // fusion width (cross_modal_*), METER's hidden_size
    int numHeads = 12;            // fusion attention heads
    int numTopLayer = 6;          // fusion layers (each a text-side and an image-side BertCrossLayer)
    int intermediateSize = 3072;  // fusion FFN = hidden_size * mlp_ratio
    int tokenTypes = 2;           // token_type_embeddings rows: 0 text, 1 image, 2 NLVR2's second image
    int maxTextLen = 50;          // tokenizer truncation / padding length (not a tensor shape)
    double fusionLayerNormEps = 1e-12;  // RobertaConfig's inherited BertConfig default (METER meter_module.py)
    double headLayerNormEps = 1e-5;     // plain nn.LayerNorm in the classifiers
    MeterHeads heads;
    MeterStreamOrder streamOrder = MeterStreamOrder::Parallel;
    std::string tokenizer = "roberta-base";
    std::optional<MeterTrainedReduction> trainedReduction;

    int imageTokens() const { return (vision.imageSize / vision.patchSize) * (vision.imageSize / vision.patchSize) + 1; }
};

// Checkpoint tensor name -> shape (from the headers alone; see Checkpoint::info).
using TensorShapes = std::map<std::string, std::vector<int64_t>>;

// From a Lightning checkpoint's hyper_parameters["config"]: METER's sacred keys (hidden_size,
// num_heads, num_top_layer, mlp_ratio, image_size, patch_size, vit, input_text_embed_size,
// input_image_embed_size, max_text_len, vocab_size, tokenizer, vqav2_label_size, loss_names) and
// PuMer's MeterConfig spellings (vit_patch_size, vqa_label_size, token_types, reduce_layers,
// prune_r, merge_r, merge_text), plus the fixture's explicit text_config (a RobertaConfig dict) and
// vit_width / vit_layers / vit_heads. Without text_config the text encoder is the named tokenizer's
// (roberta-base, roberta-large). `num_layers` is ignored (METER does not use it for the text
// encoder). Stream order: the key "stream_order" ("sequential" / "parallel") when present, else
// Sequential when any PuMer-only key is present (token_types, vit_patch_size, vqa_label_size,
// reduce_layers, prune_r, merge_r, merge_text), else Parallel. Heads come from loss_names (vqa,
// nlvr2, snli, itm, irtr -> itm + retrieval); without loss_names none are set.
MeterConfig parseMeterHyperParameters(const nlohmann::json& config, const std::string& where);

// From the shapes alone: widths, layer counts, patch size and image size (from the positional
// embedding), vocabulary, token types, the heads present and the VQA label count. Not inferable,
// so defaulted: heads = width / 64 (1 below 64 or when not a multiple), eps values,
// streamOrder = Parallel, maxTextLen = 40 with a retrieval head else 50 (capped at
// max_position_embeddings - 2). A missing tensor, a shape of the wrong rank or a non-square patch
// grid is an Error naming the tensor and `where`.
MeterConfig inferMeterConfig(const TensorShapes& shapes, const std::string& where);

// Every tensor a METER model of `config` loads, with its shape (heads by config.heads).
TensorShapes meterExpectedShapes(const MeterConfig& config);

// Checks shapes against config: the first missing tensor or the first tensor whose shape differs
// is an Error "where: tensor 'NAME' ...". Extra tensors are fine (the caller reports them).
void checkMeterShapes(const MeterConfig& config, const TensorShapes& shapes, const std::string& where);

// The config of a checkpoint: parseMeterHyperParameters when hyperParameters is an object, checked
// field by field against inferMeterConfig (hidden sizes, layer counts, image and patch size,
// vocabulary, token types, VQA labels; heads the config lists must exist, extra heads in the
// checkpoint are enabled), else inferMeterConfig;
// then checkMeterShapes. A disagreement names both values, the key and `where`.
MeterConfig meterConfigFromCheckpoint(const nlohmann::json& hyperParameters, const TensorShapes& shapes,
                                      const std::string& where);

// Built-in random-weight architectures:
//  * "meter-b16": CLIP ViT-B/16 (11 blocks) at 384 px (577 image tokens, PuMer's METER VQAv2
//    setting), RoBERTa-base (12 layers), 6 fusion layers, VQA head with 3129 labels, max text 50;
//  * "meter-b16-nlvr2": the same at 288 px, NLVR2 head, 3 token types;
//  * "meter-b16-snli": 384 px, SNLI-VE head;
//  * "meter-tiny": hidden 32, 4 heads, 2 text layers, 2 CLIP blocks, 2 fusion layers, 64 px, patch
//    16, vocabulary 381, max text 12, VQA (10 labels) + NLVR2 heads (the fixture's shape).
// Stream order Parallel (original METER). Throws Error for an unknown name, listing the known ones.
MeterConfig builtinMeterConfig(const std::string& name);
std::vector<std::string> builtinMeterNames();

const char* meterStreamOrderName(MeterStreamOrder order);  // "sequential" / "parallel"

// The fields in which a and b differ, as "name: a vs b" lines (empty = equal). `shapeOnly`
// compares only what inferMeterConfig can know (leaves out attention heads, eps values, stream
// order, max text length, tokenizer name and trained reduction).
std::vector<std::string> meterConfigDifferences(const MeterConfig& a, const MeterConfig& b, bool shapeOnly = false);

}  // namespace tokenscope
