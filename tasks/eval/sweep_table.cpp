#include "tasks/eval/sweep_table.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>

#include "common/error.h"
#include "io/json_file.h"

namespace tokenscope {

namespace {

std::string quoted(const std::string& field) {
    if (field.find_first_of(",\"\n\r") == std::string::npos) return field;
    std::string out = "\"";
    for (char c : field) {
        if (c == '"') out += '"';
        out += c;
    }
    return out + "\"";
}

std::string number(double value, int decimals) {
    if (!std::isfinite(value)) return "";
    char buffer[64];
    std::snprintf(buffer, sizeof buffer, "%.*f", decimals, value);
    return buffer;
}

// One CSV record (RFC 4180 quoting); a record does not span lines here.
std::vector<std::string> splitRecord(const std::string& line, const std::string& where) {
    std::vector<std::string> fields;
    std::string field;
    bool isQuoted = false;
    for (std::size_t i = 0; i < line.size(); ++i) {
        const char c = line[i];
        if (isQuoted) {
            if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
                field += '"';
                ++i;
            } else if (c == '"') {
                isQuoted = false;
            } else {
                field += c;
            }
        } else if (c == '"') {
            isQuoted = true;
        } else if (c == ',') {
            fields.push_back(field);
            field.clear();
        } else {
            field += c;
        }
    }
    if (isQuoted) throw Error(where + ": unterminated quote");
    fields.push_back(field);
    return fields;
}

double parseNumber(const std::string& text, const std::string& column, const std::string& where) {
    std::size_t used = 0;
    double value = 0;
    try {
        value = std::stod(text, &used);
    } catch (const std::exception&) {
        used = 0;
    }
    if (text.empty() || used != text.size() || !std::isfinite(value))
        throw Error(where + ": " + column + " is '" + text + "', not a number");
    return value;
}

}  // namespace

const std::vector<std::string>& sweepCsvColumns() {
    static const std::vector<std::string> columns{"method",       "settings",  "knob",     "accuracy",
                                                  "examples_per_s", "speedup", "agreement", "image_tokens",
                                                  "examples",     "batch",     "seed"};
    return columns;
}

std::string sweepCsvText(const std::vector<SweepRow>& rows) {
    std::string text;
    const auto& columns = sweepCsvColumns();
    for (std::size_t i = 0; i < columns.size(); ++i) text += (i ? "," : "") + columns[i];
    text += "\n";
    for (const auto& row : rows) {
        text += quoted(row.method) + "," + quoted(row.settings) + "," + quoted(row.knob) + "," + number(row.accuracy, 6) +
                "," + number(row.examplesPerSecond, 3) + "," + number(row.speedup, 4) + "," + number(row.agreement, 6) +
                "," + number(row.imageTokens, 2) + "," + std::to_string(row.examples) + "," + std::to_string(row.batch) +
                "," + std::to_string(row.seed) + "\n";
    }
    return text;
}

void writeSweepCsv(const std::string& path, const std::vector<SweepRow>& rows) {
    std::ofstream out(path, std::ios::binary);
    if (!out) throw Error(path + ": cannot write the sweep table");
    out << sweepCsvText(rows);
    if (!out.flush()) throw Error(path + ": cannot write the sweep table");
}

std::vector<SweepRow> parseSweepCsv(const std::string& text, const std::string& fileName) {
    std::istringstream in(text);
    std::string line;
    int lineNumber = 0;
    std::map<std::string, std::size_t> index;
    std::size_t width = 0;
    std::vector<SweepRow> rows;
    while (std::getline(in, line)) {
        ++lineNumber;
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line.find_first_not_of(" \t") == std::string::npos) continue;
        const std::string where = fileName + " line " + std::to_string(lineNumber);
        const auto fields = splitRecord(line, where);
        if (index.empty()) {
            for (std::size_t i = 0; i < fields.size(); ++i) index[fields[i]] = i;
            width = fields.size();
            for (const char* required : {"method", "accuracy", "examples_per_s"})
                if (!index.count(required))
                    throw Error(where + ": no '" + std::string(required) + "' column (is this a sweep.csv?)");
            continue;
        }
        if (fields.size() < width)
            throw Error(where + ": " + std::to_string(fields.size()) + " fields, the header has " + std::to_string(width));
        const auto field = [&](const char* name) -> const std::string* {
            const auto found = index.find(name);
            return found == index.end() ? nullptr : &fields[found->second];
        };
        const auto numberOr = [&](const char* name, double fallback) {
            const std::string* value = field(name);
            return value && !value->empty() ? parseNumber(*value, name, where) : fallback;
        };
        SweepRow row;
        row.method = *field("method");
        if (row.method.empty()) throw Error(where + ": the method is empty");
        if (const auto* settings = field("settings")) row.settings = *settings;
        if (const auto* knob = field("knob")) row.knob = *knob;
        row.accuracy = parseNumber(*field("accuracy"), "accuracy", where);
        if (row.accuracy < 0 || row.accuracy > 1) throw Error(where + ": accuracy " + *field("accuracy") + " is outside 0..1");
        row.examplesPerSecond = parseNumber(*field("examples_per_s"), "examples_per_s", where);
        if (row.examplesPerSecond <= 0) throw Error(where + ": examples_per_s must be positive");
        row.speedup = numberOr("speedup", std::nan(""));
        row.agreement = numberOr("agreement", std::nan(""));
        row.imageTokens = numberOr("image_tokens", std::nan(""));
        row.examples = static_cast<int64_t>(numberOr("examples", 0));
        row.batch = static_cast<int>(numberOr("batch", 0));
        row.seed = static_cast<uint64_t>(numberOr("seed", 0));
        rows.push_back(row);
    }
    if (index.empty()) throw Error(fileName + ": empty, not a sweep table");
    if (rows.empty()) throw Error(fileName + ": a header but no rows");
    // Speed-ups missing from hand-made tables: relative to the none row when there is one.
    const auto none = std::find_if(rows.begin(), rows.end(), [](const SweepRow& r) { return r.method == "none"; });
    for (auto& row : rows)
        if (std::isnan(row.speedup) && none != rows.end()) row.speedup = row.examplesPerSecond / none->examplesPerSecond;
    return rows;
}

std::vector<SweepRow> readSweepCsv(const std::string& path) {
    return parseSweepCsv(readTextFile(path, "sweep table"), path);
}

std::vector<std::string> sweepMethods(const std::vector<SweepRow>& rows) {
    std::vector<std::string> methods;
    for (const auto& row : rows)
        if (std::find(methods.begin(), methods.end(), row.method) == methods.end()) methods.push_back(row.method);
    return methods;
}

}  // namespace tokenscope
