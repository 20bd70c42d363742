#pragma once

// A small command-line parser for tokenscope-cli: "--name value" options with defaults, "--flag"
// switches, repeatable options. Unknown or malformed arguments raise UsageError.

#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace tokenscope::cli {

class UsageError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

struct OptionSpec {
    std::string name;          // without the dashes
    std::string valueName;     // "" for a switch
    std::string defaultValue;  // shown in usage; "" = none
    std::string help;
    bool repeatable = false;
};

// An option's text as an integer in [minimum, maximum]; UsageError naming --name otherwise.
int parseIntOption(const std::string& name, const std::string& text, int minimum, int maximum);

class Arguments {
public:
    Arguments(std::vector<OptionSpec> specs, const std::vector<std::string>& args);
    bool has(const std::string& name) const;
    std::string value(const std::string& name) const;  // the given value, else the default
    std::vector<std::string> values(const std::string& name) const;
    int intValue(const std::string& name, int minimum, int maximum) const;
    std::string require(const std::string& name) const;  // UsageError when absent
    bool isSwitch(const std::string& name) const { return spec(name).valueName.empty(); }  // "--flag", no value
    // What was given on the command line, by option name (a switch maps to "1").
    const std::map<std::string, std::vector<std::string>>& given() const { return m_values; }
    static std::string usage(const std::vector<OptionSpec>& specs);

private:
    const OptionSpec& spec(const std::string& name) const;
    std::vector<OptionSpec> m_specs;
    std::map<std::string, std::vector<std::string>> m_values;
};

}  // namespace tokenscope::cli
