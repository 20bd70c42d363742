#include "io/json_file.h"

#include <fstream>
#include <sstream>

#include "common/error.h"

namespace tokenscope {

std::string readTextFile(const std::string& path, const std::string& what) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Error(path + ": cannot open " + what);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

nlohmann::json parseJsonText(const std::string& text, const std::string& fileName) {
    try {
        return nlohmann::json::parse(text);
    } catch (const nlohmann::json::exception& e) {
        throw Error(fileName + ": not valid JSON (" + e.what() + ")");
    }
}

nlohmann::json readJsonObjectFile(const std::string& path, const std::string& what) {
    auto json = parseJsonText(readTextFile(path, what), path);
    if (!json.is_object()) throw Error(path + ": not a JSON object");
    return json;
}

}  // namespace tokenscope
