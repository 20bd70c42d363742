#include "methods/method_json.h"

#include "common/error.h"

namespace tokenscope {

nlohmann::json knobValueToJson(const KnobValue& value) {
    if (const auto* d = std::get_if<double>(&value)) return *d;
    if (const auto* i = std::get_if<int64_t>(&value)) return *i;
    if (const auto* b = std::get_if<bool>(&value)) return *b;
    if (const auto* s = std::get_if<std::string>(&value)) return *s;
    return std::get<std::vector<int>>(value);
}

nlohmann::json methodSettingsToJson(const MethodSettings& settings) {
    nlohmann::json knobs = nlohmann::json::object();
    for (const auto& knob : methodDescriptor(settings.method()).knobs) knobs[knob.key] = knobValueToJson(settings.value(knob.key));
    return {{"method", settings.method()}, {"knobs", knobs}};
}

MethodSettings methodSettingsFromJson(const nlohmann::json& json) {
    if (!json.is_object() || !json.contains("method") || !json["method"].is_string())
        throw Error("method settings need {\"method\": NAME, \"knobs\": {...}}");
    MethodSettings settings(json["method"].get<std::string>());
    if (!json.contains("knobs")) return settings;
    if (!json["knobs"].is_object()) throw Error("method settings: \"knobs\" must be an object");
    for (const auto& [key, value] : json["knobs"].items()) {
        if (value.is_boolean()) {
            settings.set(key, value.get<bool>());
        } else if (value.is_number_integer()) {
            settings.set(key, value.get<int64_t>());
        } else if (value.is_number()) {
            settings.set(key, value.get<double>());
        } else if (value.is_string()) {
            settings.set(key, value.get<std::string>());
        } else if (value.is_array()) {
            std::vector<int> list;
            for (const auto& v : value) {
                if (!v.is_number_integer()) throw Error("knob '" + key + "' of '" + settings.method() + "' takes a list of integers");
                list.push_back(v.get<int>());
            }
            settings.set(key, list);
        } else {
            throw Error("knob '" + key + "' of '" + settings.method() + "' has a value of no kind it takes");
        }
    }
    return settings;
}

nlohmann::json methodDescriptorToJson(const MethodDescriptor& m) {
    nlohmann::json families = nlohmann::json::array();
    for (auto family : {FamilyKind::Vilt, FamilyKind::Llava, FamilyKind::Meter}) {
        if (m.serves(family)) families.push_back(familyKindName(family));
    }
    nlohmann::json knobs = nlohmann::json::array();
    for (const auto& k : m.knobs) {
        nlohmann::json knob{{"key", k.key},         {"label", k.label},         {"tooltip", k.tooltip},
                            {"kind", knobKindName(k.kind)}, {"default", knobValueToJson(k.defaultValue)},
                            {"advanced", k.advanced}};
        if (k.kind == KnobKind::Number || k.kind == KnobKind::Integer || k.kind == KnobKind::IntList) {
            knob["minimum"] = k.minimum;
            knob["maximum"] = k.maximum;
            knob["step"] = k.step;
        }
        if (k.kind == KnobKind::Choice) knob["choices"] = k.choices;
        if (!k.aliases.empty()) knob["aliases"] = k.aliases;
        knobs.push_back(knob);
    }
    nlohmann::json presets = nlohmann::json::array();
    for (const auto& p : m.presets) {
        nlohmann::json values = nlohmann::json::object();
        for (const auto& [key, value] : p.values) values[key] = knobValueToJson(value);
        nlohmann::json presetFamilies = nlohmann::json::array();
        for (auto family : {FamilyKind::Vilt, FamilyKind::Llava, FamilyKind::Meter})
            if (p.serves(family) && m.serves(family)) presetFamilies.push_back(familyKindName(family));
        presets.push_back({{"name", p.name}, {"label", p.label}, {"families", presetFamilies}, {"depth", p.depth},
                           {"knobs", values}});
    }
    return {{"id", m.id},           {"name", m.name},         {"summary", m.summary}, {"aliases", m.aliases},
            {"hook", methodHookName(m.hook)}, {"families", families}, {"knobs", knobs},     {"presets", presets}};
}

}  // namespace tokenscope
