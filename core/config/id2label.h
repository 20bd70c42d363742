#pragma once

// A config.json's "id2label": {"0": "net", "1": "pitcher", ...} as a list indexed by id (ViLT's
// answers, a METER folder's answer list). Torch-free.

#include <cstddef>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace tokenscope {

// Empty when the key is absent. Throws Error naming `where` when it is not an object of strings
// whose keys are exactly 0..n-1.
std::vector<std::string> parseId2Label(const nlohmann::json& config, const std::string& where);

// The VQAv2 answer vocabulary of ViLT's and METER's VQA heads (3129 answers; label id = index),
// built in from resources/vqa/vqav2_answers.json. METER checkpoints carry no answer list.
constexpr std::size_t kVqav2AnswerCount = 3129;
const std::vector<std::string>& vqav2Answers();

}  // namespace tokenscope
