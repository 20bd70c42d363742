#pragma once

// Encoding code points as UTF-8, shared by the tokenizers and the answer normalisers.

#include <string>
#include <string_view>

namespace tokenscope {

void appendUtf8(char32_t cp, std::string& out);
std::string toUtf8(std::u32string_view text);

}  // namespace tokenscope
