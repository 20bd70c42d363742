#include "tasks/datasets/dataset_file.h"

#include "common/error.h"
#include "io/json_file.h"

#include <cctype>
#include <fstream>

namespace tokenscope::datasets {
namespace {

const char* typeName(const nlohmann::json& value) {
    switch (value.type()) {
    case nlohmann::json::value_t::null: return "null";
    case nlohmann::json::value_t::boolean: return "a boolean";
    case nlohmann::json::value_t::number_float: return "a float";
    case nlohmann::json::value_t::number_integer:
    case nlohmann::json::value_t::number_unsigned: return "an integer";
    case nlohmann::json::value_t::string: return "a string";
    case nlohmann::json::value_t::array: return "a list";
    case nlohmann::json::value_t::object: return "an object";
    default: return "not a JSON value";
    }
}

// nlohmann's message without its "[json.exception.parse_error.101] " prefix.
std::string parseMessage(const nlohmann::json::exception& e) {
    std::string message = e.what();
    if (const auto end = message.find("] "); message.rfind("[json.exception", 0) == 0 && end != std::string::npos)
        message.erase(0, end + 2);
    return message;
}

}  // namespace

const nlohmann::json& field(const nlohmann::json& object, const char* key) {
    const auto it = object.find(key);
    if (it == object.end()) throw ItemProblem(std::string("'") + key + "' is missing");
    return *it;
}

std::string stringField(const nlohmann::json& object, const char* key) {
    const auto& value = field(object, key);
    if (!value.is_string()) throw ItemProblem(std::string("'") + key + "' is " + typeName(value) + ", not a string");
    return value.get<std::string>();
}

std::optional<std::string> optionalStringField(const nlohmann::json& object, const char* key) {
    const auto it = object.find(key);
    if (it == object.end() || it->is_null()) return std::nullopt;
    if (!it->is_string()) throw ItemProblem(std::string("'") + key + "' is " + typeName(*it) + ", not a string");
    return it->get<std::string>();
}

long long integerField(const nlohmann::json& object, const char* key) {
    const auto& value = field(object, key);
    if (!value.is_number_integer()) throw ItemProblem(std::string("'") + key + "' is " + typeName(value) + ", not an integer");
    return value.get<long long>();
}

std::string idText(const nlohmann::json& value) {
    if (value.is_number_unsigned()) return std::to_string(value.get<unsigned long long>());
    if (value.is_number_integer()) return std::to_string(value.get<long long>());
    if (value.is_string()) return value.get<std::string>();
    throw ItemProblem(std::string("the id is ") + typeName(value) + ", not an integer or a string");
}

std::string idField(const nlohmann::json& object, const char* key) {
    const auto& value = field(object, key);
    if (!value.is_number_integer() && !value.is_string())
        throw ItemProblem(std::string("'") + key + "' is " + typeName(value) + ", not an integer or a string");
    return idText(value);
}

nlohmann::json readJsonDocument(const std::string& path, const std::string& what) {
    return parseJsonText(readTextFile(path, what), path);
}

nlohmann::ordered_json readOrderedJsonDocument(const std::string& path, const std::string& what) {
    const std::string text = readTextFile(path, what);
    try {
        return nlohmann::ordered_json::parse(text);
    } catch (const nlohmann::json::exception& e) {
        throw Error(path + ": not valid JSON (" + parseMessage(e) + ")");
    }
}

std::vector<JsonLine> readJsonLines(const std::string& path, const std::string& what, std::vector<ItemError>& errors) {
    const std::string text = readTextFile(path, what);
    std::vector<JsonLine> lines;
    std::size_t number = 0, begin = 0, problems = 0;
    std::string firstProblem;
    while (begin < text.size()) {
        std::size_t end = text.find('\n', begin);
        if (end == std::string::npos) end = text.size();
        ++number;
        std::string_view line(text.data() + begin, end - begin);
        begin = end + 1;
        if (line.find_first_not_of(" \t\r\f\v") == std::string_view::npos) continue;
        const std::string where = "line " + std::to_string(number);
        std::string problem;
        try {
            auto object = nlohmann::json::parse(line);
            if (object.is_object()) {
                lines.push_back({number, std::move(object)});
                continue;
            }
            problem = std::string("is ") + typeName(object) + ", not a JSON object";
        } catch (const nlohmann::json::exception& e) {
            problem = "not valid JSON (" + parseMessage(e) + ")";
        }
        if (problems++ == 0) firstProblem = where + ": " + problem;
        errors.push_back({path, where, problem, true});
    }
    if (number == 0 || (lines.empty() && problems == 0)) throw Error(path + ": empty " + what + " (no JSON Lines)");
    if (lines.empty()) throw Error(path + ": no line of this " + what + " is a JSON object (" + firstProblem + ")");
    return lines;
}

char firstSignificantCharacter(const std::string& path, const std::string& what) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Error(path + ": cannot open " + what);
    char c = 0;
    while (in.get(c)) {
        // A UTF-8 byte order mark is skipped like whitespace.
        if (static_cast<unsigned char>(c) == 0xEF || static_cast<unsigned char>(c) == 0xBB || static_cast<unsigned char>(c) == 0xBF) continue;
        if (!std::isspace(static_cast<unsigned char>(c))) return c;
    }
    return '\0';
}

}  // namespace tokenscope::datasets
