#pragma once

// What every dataset and prediction reader shares: the per-item error record and the reading of
// JSON / JSON Lines files with messages that name the file and the item.
//
// Errors: a file that cannot be opened, is not JSON, or lacks the layout's top-level structure
// throws tokenscope::Error "<file>: <problem>" (JSON syntax errors carry nlohmann's line and
// column). A single bad item (a JSON Lines line that does not parse, a missing or mistyped field)
// becomes an ItemError and reading goes on with the next item; only when no item at all can be read
// does the reader throw. Pure functions, any thread.

#include <nlohmann/json.hpp>

#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace tokenscope::datasets {

struct ItemError {
    std::string file;
    std::string item;      // where in the file: "line 7", "annotations[3] (question_id 42)", "question 20968379"
    std::string message;   // what is wrong: "'answers' is missing"
    bool skipped = true;   // the item was left out; false: it was kept and this is a note
    std::string text() const { return file + ": " + item + ": " + message; }
};

// Thrown by the field helpers below for one item; readers turn it into an ItemError.
class ItemProblem : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Field access on one JSON object with ItemProblem messages that name the key.
const nlohmann::json& field(const nlohmann::json& object, const char* key);  // present, any type
std::string stringField(const nlohmann::json& object, const char* key);
std::optional<std::string> optionalStringField(const nlohmann::json& object, const char* key);  // absent or null: empty
long long integerField(const nlohmann::json& object, const char* key);
// A question id: a JSON integer (42 -> "42") or string ("20968379" stays). Floats, bools, objects: ItemProblem.
std::string idField(const nlohmann::json& object, const char* key);
std::string idText(const nlohmann::json& value);  // the same for a bare value; ItemProblem names no key

// Reads a whole file as one JSON document (Error naming the file when it cannot be read or parsed).
nlohmann::json readJsonDocument(const std::string& path, const std::string& what);
// The same, keeping the order of object keys as written (GQA's question dictionary).
nlohmann::ordered_json readOrderedJsonDocument(const std::string& path, const std::string& what);

// One line of a JSON Lines file: its 1-based number and the parsed object.
struct JsonLine {
    std::size_t number = 0;
    nlohmann::json object;
};
// Reads a JSON Lines file. Blank lines are skipped; a line that is not a JSON object becomes an
// ItemError ("line N: not valid JSON (...)") appended to `errors`. Throws Error when the file cannot
// be opened, holds no line at all, or no line is a JSON object.
std::vector<JsonLine> readJsonLines(const std::string& path, const std::string& what, std::vector<ItemError>& errors);

// The file's first character that is not whitespace ('\0' for none): format detection without
// parsing. Throws Error when the file cannot be opened.
char firstSignificantCharacter(const std::string& path, const std::string& what);

}  // namespace tokenscope::datasets
