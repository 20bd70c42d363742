#include "cli_args.h"

#include <sstream>

namespace tokenscope::cli {

Arguments::Arguments(std::vector<OptionSpec> specs, const std::vector<std::string>& args) : m_specs(std::move(specs)) {
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string& arg = args[i];
        if (arg.rfind("--", 0) != 0) throw UsageError("unexpected argument '" + arg + "'");
        std::string name = arg.substr(2);
        std::string inlineValue;
        bool hasInline = false;
        if (const auto eq = name.find('='); eq != std::string::npos) {
            inlineValue = name.substr(eq + 1);
            name = name.substr(0, eq);
            hasInline = true;
        }
        const OptionSpec& s = spec(name);
        if (m_values.count(name) && !s.repeatable) throw UsageError("--" + name + " given twice");
        if (s.valueName.empty()) {
            if (hasInline) throw UsageError("--" + name + " takes no value");
            m_values[name].push_back("1");
            continue;
        }
        if (!hasInline) {
            if (i + 1 >= args.size()) throw UsageError("--" + name + " needs a value (" + s.valueName + ")");
            inlineValue = args[++i];
        }
        m_values[name].push_back(inlineValue);
    }
}

const OptionSpec& Arguments::spec(const std::string& name) const {
    for (const auto& s : m_specs) {
        if (s.name == name) return s;
    }
    throw UsageError("unknown option --" + name);
}

bool Arguments::has(const std::string& name) const { return m_values.count(name) != 0; }

std::string Arguments::value(const std::string& name) const {
    auto it = m_values.find(name);
    return it != m_values.end() ? it->second.back() : spec(name).defaultValue;
}

std::vector<std::string> Arguments::values(const std::string& name) const {
    auto it = m_values.find(name);
    return it != m_values.end() ? it->second : std::vector<std::string>{};
}

int parseIntOption(const std::string& name, const std::string& text, int minimum, int maximum) {
    std::size_t used = 0;
    long v = 0;
    try {
        v = std::stol(text, &used);
    } catch (const std::exception&) {
        used = 0;
    }
    if (used != text.size() || text.empty() || v < minimum || v > maximum)
        throw UsageError("--" + name + " must be an integer in [" + std::to_string(minimum) + ", " +
                         std::to_string(maximum) + "], not '" + text + "'");
    return static_cast<int>(v);
}

int Arguments::intValue(const std::string& name, int minimum, int maximum) const {
    return parseIntOption(name, value(name), minimum, maximum);
}

std::string Arguments::require(const std::string& name) const {
    if (!has(name)) throw UsageError("--" + name + " is required");
    return value(name);
}

std::string Arguments::usage(const std::vector<OptionSpec>& specs) {
    std::ostringstream out;
    for (const auto& s : specs) {
        std::string left = "  --" + s.name + (s.valueName.empty() ? "" : " " + s.valueName);
        if (left.size() < 26) left.resize(26, ' ');
        out << left << " " << s.help;
        if (!s.defaultValue.empty()) out << " (default: " << s.defaultValue << ")";
        out << "\n";
    }
    return out.str();
}

}  // namespace tokenscope::cli
