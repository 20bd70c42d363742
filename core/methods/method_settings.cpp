#include "methods/method_settings.h"

#include "common/int_list.h"

#include <cmath>
#include <sstream>

#include "common/error.h"
#include "methods/method_registry.h"

namespace tokenscope {

namespace {

const KnobSpec& requireKnob(const std::string& method, const std::string& key) {
    const auto& descriptor = methodDescriptor(method);
    if (const auto* knob = descriptor.knob(key)) return *knob;
    std::string known;
    for (const auto& k : descriptor.knobs) known += (known.empty() ? "" : ", ") + k.key;
    throw Error("method '" + method + "' has no knob '" + key + "'" +
                (known.empty() ? std::string(" (it has none)") : " (its knobs: " + known + ")"));
}

std::string rangeText(const KnobSpec& knob) {
    std::ostringstream out;
    out << knob.minimum << ".." << knob.maximum;
    return out.str();
}

[[noreturn]] void wrongKind(const std::string& method, const KnobSpec& knob) {
    throw Error("knob '" + knob.key + "' of '" + method + "' takes " + knobKindName(knob.kind) +
                (knob.kind == KnobKind::Choice ? std::string(" (one of the method's words)") : std::string()));
}

// The value converted to the knob's kind and checked against its range.
KnobValue checked(const std::string& method, const KnobSpec& knob, const KnobValue& value) {
    const auto outOfRange = [&](const std::string& shown) {
        throw Error("knob '" + knob.key + "' of '" + method + "' must lie in " + rangeText(knob) + " (got " + shown + ")");
    };
    switch (knob.kind) {
        case KnobKind::Number: {
            double v = 0;
            if (const auto* d = std::get_if<double>(&value)) v = *d;
            else if (const auto* i = std::get_if<int64_t>(&value)) v = static_cast<double>(*i);
            else wrongKind(method, knob);
            if (!std::isfinite(v) || v < knob.minimum || v > knob.maximum) outOfRange(knobValueText(v));
            return v;
        }
        case KnobKind::Integer: {
            int64_t v = 0;
            if (const auto* i = std::get_if<int64_t>(&value)) v = *i;
            else if (const auto* d = std::get_if<double>(&value); d && std::floor(*d) == *d) v = static_cast<int64_t>(*d);
            else wrongKind(method, knob);
            if (static_cast<double>(v) < knob.minimum || static_cast<double>(v) > knob.maximum) outOfRange(std::to_string(v));
            return v;
        }
        case KnobKind::Flag:
            if (!std::holds_alternative<bool>(value)) wrongKind(method, knob);
            return value;
        case KnobKind::Choice: {
            const auto* text = std::get_if<std::string>(&value);
            if (!text) wrongKind(method, knob);
            for (const auto& c : knob.choices) {
                if (c == *text) return value;
            }
            std::string choices;
            for (const auto& c : knob.choices) choices += (choices.empty() ? "" : ", ") + c;
            throw Error("knob '" + knob.key + "' of '" + method + "' takes one of " + choices + " (got '" + *text + "')");
        }
        case KnobKind::IntList: {
            const auto* list = std::get_if<std::vector<int>>(&value);
            if (!list) wrongKind(method, knob);
            for (int v : *list) {
                if (v < knob.minimum || v > knob.maximum) outOfRange(std::to_string(v));
            }
            return value;
        }
    }
    return value;
}

}  // namespace

std::string knobValueText(const KnobValue& value) {
    if (const auto* d = std::get_if<double>(&value)) {
        std::ostringstream out;
        out << *d;
        return out.str();
    }
    if (const auto* i = std::get_if<int64_t>(&value)) return std::to_string(*i);
    if (const auto* b = std::get_if<bool>(&value)) return *b ? "true" : "false";
    if (const auto* s = std::get_if<std::string>(&value)) return *s;
    std::string out;
    for (int v : std::get<std::vector<int>>(value)) out += (out.empty() ? "" : ",") + std::to_string(v);
    return out;
}

MethodSettings::MethodSettings() : m_method("none") {}

MethodSettings::MethodSettings(const std::string& method) : m_method(methodDescriptor(method).id) {}

KnobValue MethodSettings::value(const std::string& key) const {
    const auto& knob = requireKnob(m_method, key);
    const auto it = m_values.find(knob.key);
    return it != m_values.end() ? it->second : knob.defaultValue;
}

double MethodSettings::number(const std::string& key) const {
    const auto v = value(key);
    if (const auto* d = std::get_if<double>(&v)) return *d;
    if (const auto* i = std::get_if<int64_t>(&v)) return static_cast<double>(*i);
    wrongKind(m_method, requireKnob(m_method, key));
}

int64_t MethodSettings::integer(const std::string& key) const {
    const auto v = value(key);
    if (const auto* i = std::get_if<int64_t>(&v)) return *i;
    wrongKind(m_method, requireKnob(m_method, key));
}

bool MethodSettings::flag(const std::string& key) const {
    const auto v = value(key);
    if (const auto* b = std::get_if<bool>(&v)) return *b;
    wrongKind(m_method, requireKnob(m_method, key));
}

std::string MethodSettings::choice(const std::string& key) const {
    const auto v = value(key);
    if (const auto* s = std::get_if<std::string>(&v)) return *s;
    wrongKind(m_method, requireKnob(m_method, key));
}

std::vector<int> MethodSettings::intList(const std::string& key) const {
    const auto v = value(key);
    if (const auto* l = std::get_if<std::vector<int>>(&v)) return *l;
    wrongKind(m_method, requireKnob(m_method, key));
}

MethodSettings& MethodSettings::set(const std::string& key, const KnobValue& value) {
    const auto& knob = requireKnob(m_method, key);
    m_values[knob.key] = checked(m_method, knob, value);
    return *this;
}

MethodSettings& MethodSettings::setText(const std::string& key, const std::string& text) {
    const auto& knob = requireKnob(m_method, key);
    const auto bad = [&] {
        throw Error("knob '" + key + "' of '" + m_method + "' takes " + knobKindName(knob.kind) + ", not '" + text + "'");
    };
    switch (knob.kind) {
        case KnobKind::Number: {
            std::size_t used = 0;
            double v = 0;
            try {
                v = std::stod(text, &used);
            } catch (const std::exception&) {
                bad();
            }
            if (used != text.size()) bad();
            return set(key, v);
        }
        case KnobKind::Integer: {
            std::size_t used = 0;
            long long v = 0;
            try {
                v = std::stoll(text, &used);
            } catch (const std::exception&) {
                bad();
            }
            if (used != text.size()) bad();
            return set(key, static_cast<int64_t>(v));
        }
        case KnobKind::Flag:
            if (text == "true" || text == "1" || text == "yes" || text == "on" || text.empty()) return set(key, true);
            if (text == "false" || text == "0" || text == "no" || text == "off") return set(key, false);
            bad();
            return *this;
        case KnobKind::Choice:
            return set(key, text);
        case KnobKind::IntList: {
            const auto list = parseIntegerList(text);
            if (!list) bad();
            return set(key, *list);
        }
    }
    return *this;
}

bool MethodSettings::isSet(const std::string& key) const {
    return m_values.count(requireKnob(m_method, key).key) != 0;
}

bool MethodSettings::operator==(const MethodSettings& other) const {
    if (m_method != other.m_method) return false;
    for (const auto& knob : methodDescriptor(m_method).knobs) {
        if (value(knob.key) != other.value(knob.key)) return false;
    }
    return true;
}

}  // namespace tokenscope
