#pragma once

// Test support: the tiny ViLT reference model and its inputs (tests/data/vilt).

#include <torch/torch.h>

#include "checkpoint/checkpoint.h"
#include "checkpoint/tensor_file.h"
#include "config/model_config.h"
#include "models/vilt.h"
#include "support/test_paths.h"

namespace tokenscope::test {

// The fixture's ViltForQuestionAnswering with its weights (or others), in eval mode.
inline Vilt loadFixtureVilt(const std::string& weights = dataPath("vilt/model.safetensors")) {
    Vilt model(loadModelConfig(dataPath("vilt/config.json")).vilt);
    model->eval();
    loadStateDict(*model, Checkpoint::open(weights), {});
    return model;
}

// inputs.safetensors as ViltInputs (2 samples, different valid image sizes, padded text).
inline ViltInputs fixtureViltInputs() {
    const auto t = readTensorFile(dataPath("vilt/inputs.safetensors"));
    ViltInputs x;
    x.inputIds = t.at("input_ids");
    x.attentionMask = t.at("attention_mask");
    x.tokenTypeIds = t.at("token_type_ids");
    x.pixelValues = t.at("pixel_values");
    x.pixelMask = t.at("pixel_mask");
    return x;
}

}  // namespace tokenscope::test
