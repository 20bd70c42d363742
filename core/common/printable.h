#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace tokenscope {

// Untrusted text (a name read from a file) made safe for a one-line message: bytes outside
// printable ASCII become '?', and text past maxSize bytes is cut with "...".
inline std::string printable(std::string_view text, std::size_t maxSize) {
    std::string out;
    for (std::size_t i = 0; i < text.size() && i < maxSize; ++i) {
        const auto byte = static_cast<unsigned char>(text[i]);
        out += (byte >= 0x20 && byte < 0x7f) ? text[i] : '?';
    }
    if (text.size() > maxSize) out += "...";
    return out;
}

}  // namespace tokenscope
