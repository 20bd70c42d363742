#pragma once

// Test support: a tiny Shapes VQA model folder with random weights, laid out as the bundled model
// will be (config.json whose id2label is the Shapes answers, vocab.txt of the question words,
// preprocessor_config.json at 192 px, model.safetensors), written from the engine's own ViLT
// module so Engine::open reads it like any checkpoint. Needs LibTorch (TORCH tests).

#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "checkpoint/tensor_file.h"
#include "common/error.h"
#include "config/model_config.h"
#include "models/vilt.h"
#include "tasks/shapes/shapes_task.h"

namespace tokenscope::test {

inline void writeTextFile(const std::string& path, const std::string& text) {
    std::ofstream out(path, std::ios::binary);
    out << text;
    if (!out.flush()) throw Error(path + ": cannot write");
}

// Writes the folder (which must exist): hidden size 64, `layers` layers, 2 heads, patch 16.
inline void writeShapesModel(const std::string& dir, int layers = 2, uint64_t seed = 0) {
    std::vector<std::string> vocab{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};
    for (auto word : shapes::questionWords()) {
        std::transform(word.begin(), word.end(), word.begin(), [](unsigned char c) { return std::tolower(c); });
        if (std::find(vocab.begin(), vocab.end(), word) == vocab.end()) vocab.push_back(word);
    }
    std::string vocabText;
    for (const auto& piece : vocab) vocabText += piece + "\n";
    writeTextFile(dir + "/vocab.txt", vocabText);

    nlohmann::json id2label = nlohmann::json::object(), label2id = nlohmann::json::object();
    const auto& answers = shapes::answerVocabulary();
    for (std::size_t i = 0; i < answers.size(); ++i) {
        id2label[std::to_string(i)] = answers[i];
        label2id[answers[i]] = i;
    }
    const nlohmann::json config = {
        {"architectures", {"ViltForQuestionAnswering"}}, {"model_type", "vilt"}, {"hidden_act", "gelu"},
        {"hidden_size", 64}, {"num_hidden_layers", layers}, {"num_attention_heads", 2}, {"intermediate_size", 128},
        {"image_size", 192}, {"patch_size", 16}, {"num_channels", 3}, {"vocab_size", vocab.size()},
        {"max_position_embeddings", 40}, {"type_vocab_size", 2}, {"modality_type_vocab_size", 2},
        {"layer_norm_eps", 1e-12}, {"qkv_bias", true}, {"max_image_length", -1}, {"num_images", -1},
        {"hidden_dropout_prob", 0.0}, {"attention_probs_dropout_prob", 0.0}, {"initializer_range", 0.02},
        {"id2label", id2label}, {"label2id", label2id}};
    writeTextFile(dir + "/config.json", config.dump(2));
    const nlohmann::json preprocessor = {
        {"do_normalize", true}, {"do_pad", true}, {"do_rescale", true}, {"do_resize", true},
        {"image_mean", {0.5, 0.5, 0.5}}, {"image_std", {0.5, 0.5, 0.5}}, {"image_processor_type", "ViltImageProcessor"},
        {"resample", 3}, {"rescale_factor", 1.0 / 255.0}, {"size", {{"shortest_edge", 192}}}, {"size_divisor", 32}};
    writeTextFile(dir + "/preprocessor_config.json", preprocessor.dump(2));

    const ModelConfig parsed = loadModelConfig(dir + "/config.json");
    Vilt model(parsed.vilt);
    torch::NoGradGuard noGrad;
    torch::manual_seed(seed);
    std::map<std::string, torch::Tensor> tensors;
    for (auto& item : model->named_parameters(true)) {
        auto& p = item.value();
        const std::string& name = item.key();
        const bool isNorm = name.find("norm") != std::string::npos || name.find("LayerNorm") != std::string::npos;
        const bool isBias = name.size() >= 4 && name.compare(name.size() - 4, 4, "bias") == 0;
        if (isNorm && !isBias) p.fill_(1.0);
        else if (isBias) p.zero_();
        else p.normal_(0.0, 0.02);
        tensors[name] = p.detach().clone();
    }
    for (auto& item : model->named_buffers(true)) tensors[item.key()] = item.value().detach().clone();
    writeTensorFile(dir + "/model.safetensors", tensors);
}

}  // namespace tokenscope::test
