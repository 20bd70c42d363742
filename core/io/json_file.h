#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace tokenscope {

// Reads a whole file as text. Throws Error "<path>: cannot open <what>".
std::string readTextFile(const std::string& path, const std::string& what);
// Parses JSON text; throws Error "<fileName>: not valid JSON (...)".
nlohmann::json parseJsonText(const std::string& text, const std::string& fileName);
// Both, and requires a JSON object.
nlohmann::json readJsonObjectFile(const std::string& path, const std::string& what);

}  // namespace tokenscope
