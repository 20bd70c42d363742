#pragma once

// A token-reduction method's settings as one value: the method's registry id and its knob values
// (core/methods/method_registry.h describes every method and knob). Knobs not set take the
// registry's defaults, so {"pumer"} alone is PuMer with its defaults. Torch-free plain data: the
// window, the CLI, sessions and traces all carry this one object.
//
// Errors: an unknown method or knob, a value of the wrong kind or outside the knob's range throws
// tokenscope::Error naming the method, the knob and what it accepts.

#include <cstdint>
#include <map>
#include <string>
#include <variant>
#include <vector>

namespace tokenscope {

// A knob's value: a number, an integer, a switch, one of a few words, or a list of integers.
using KnobValue = std::variant<double, int64_t, bool, std::string, std::vector<int>>;

// "0.3", "8", "true", "reference", "2,5,8" (lists comma-separated, empty for an empty list).
std::string knobValueText(const KnobValue& value);

class MethodSettings {
public:
    MethodSettings();                     // "none"
    explicit MethodSettings(const std::string& method);  // an id or an alias (Error when unknown)

    const std::string& method() const { return m_method; }
    bool is(const std::string& id) const { return m_method == id; }

    // The knob's value: the one set, else the registry's default. Error when the method has no
    // such knob or it is of another kind.
    double number(const std::string& key) const;
    int64_t integer(const std::string& key) const;
    bool flag(const std::string& key) const;
    std::string choice(const std::string& key) const;
    std::vector<int> intList(const std::string& key) const;
    KnobValue value(const std::string& key) const;

    // Sets a knob, checking its kind and range (integers are accepted for numbers). Returns *this.
    MethodSettings& set(const std::string& key, const KnobValue& value);
    // Sets a knob from text as the CLI and sessions give it ("0.3", "2,5,8", "true", "tip").
    MethodSettings& setText(const std::string& key, const std::string& text);
    bool isSet(const std::string& key) const;
    // Only the knobs that were set (the rest are defaults).
    const std::map<std::string, KnobValue>& values() const { return m_values; }

    bool operator==(const MethodSettings& other) const;
    bool operator!=(const MethodSettings& other) const { return !(*this == other); }

private:
    std::string m_method;
    std::map<std::string, KnobValue> m_values;
};

}  // namespace tokenscope
