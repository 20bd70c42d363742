#pragma once

// "2,5,8" -> {2, 5, 8}: the layer lists of method knobs and the CLI's list options.

#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace tokenscope {

// Every comma-separated item a whole integer (no blanks, no trailing characters); std::nullopt
// otherwise. An empty text is an empty list.
inline std::optional<std::vector<int>> parseIntegerList(const std::string& text) {
    std::vector<int> values;
    std::stringstream in(text);
    std::string item;
    while (std::getline(in, item, ',')) {
        std::size_t used = 0;
        int value = 0;
        try {
            value = std::stoi(item, &used);
        } catch (const std::exception&) {
            return std::nullopt;
        }
        if (used != item.size()) return std::nullopt;
        values.push_back(value);
    }
    return values;
}

}  // namespace tokenscope
