#pragma once

// A config.json's "id2label": {"0": "net", "1": "pitcher", ...} as a list indexed by id (ViLT's
// answers, a METER folder's answer list). Torch-free.

#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace tokenscope {

// Empty when the key is absent. Throws Error naming `where` when it is not an object of strings
// whose keys are exactly 0..n-1.
std::vector<std::string> parseId2Label(const nlohmann::json& config, const std::string& where);

}  // namespace tokenscope
