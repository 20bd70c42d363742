#include "config/id2label.h"

#include <nlohmann/json.hpp>

#include "common/error.h"

namespace tokenscope {

std::vector<std::string> parseId2Label(const nlohmann::json& config, const std::string& where) {
    std::vector<std::string> labels;
    if (!config.contains("id2label")) return labels;
    const nlohmann::json& map = config.at("id2label");
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

}  // namespace tokenscope
