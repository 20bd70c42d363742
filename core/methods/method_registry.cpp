#include "methods/method_registry.h"

#include <algorithm>
#include <sstream>

#include "common/error.h"

namespace tokenscope {

// One line per method: its descriptor, defined in core/methods/<id>_method.cpp. The order is the
// order of the window's method list and of `tokenscope-cli methods`.
MethodDescriptor noneMethod();
MethodDescriptor pumerMethod();
MethodDescriptor tomeMethod();
MethodDescriptor smresMethod();
MethodDescriptor randomMethod();
MethodDescriptor uniformMethod();
MethodDescriptor dynamicVitMethod();
MethodDescriptor hiredMethod();

const std::vector<MethodDescriptor>& methodRegistry() {
    static const std::vector<MethodDescriptor> all{noneMethod(),    pumerMethod(),   tomeMethod(),       smresMethod(),
                                                   randomMethod(),  uniformMethod(), dynamicVitMethod(), hiredMethod()};
    return all;
}

const char* knobKindName(KnobKind kind) {
    switch (kind) {
        case KnobKind::Number: return "number";
        case KnobKind::Integer: return "integer";
        case KnobKind::Flag: return "flag";
        case KnobKind::Choice: return "choice";
        case KnobKind::IntList: return "int-list";
    }
    return "?";
}

const char* methodHookName(MethodHook hook) {
    switch (hook) {
        case MethodHook::None: return "none";
        case MethodHook::Preprocess: return "preprocess";
        case MethodHook::Embedding: return "embedding";
        case MethodHook::BetweenAttentionAndMlp: return "attention-mlp";
        case MethodHook::AfterProjector: return "after-projector";
        case MethodHook::DecoderLayer: return "decoder-layer";
    }
    return "?";
}

const char* familyKindName(FamilyKind family) {
    switch (family) {
        case FamilyKind::Vilt: return "vilt";
        case FamilyKind::Llava: return "llava";
        case FamilyKind::Meter: return "meter";
    }
    return "?";
}

KnobSpec numberKnob(std::string key, std::string label, std::string tooltip, double minimum, double maximum, double step,
                    double defaultValue) {
    KnobSpec k;
    k.key = std::move(key);
    k.label = std::move(label);
    k.tooltip = std::move(tooltip);
    k.kind = KnobKind::Number;
    k.minimum = minimum;
    k.maximum = maximum;
    k.step = step;
    k.defaultValue = defaultValue;
    return k;
}

KnobSpec integerKnob(std::string key, std::string label, std::string tooltip, int64_t minimum, int64_t maximum,
                     int64_t defaultValue) {
    auto k = numberKnob(std::move(key), std::move(label), std::move(tooltip), static_cast<double>(minimum),
                        static_cast<double>(maximum), 1, 0);
    k.kind = KnobKind::Integer;
    k.defaultValue = defaultValue;
    return k;
}

KnobSpec flagKnob(std::string key, std::string label, std::string tooltip, bool defaultValue) {
    auto k = numberKnob(std::move(key), std::move(label), std::move(tooltip), 0, 1, 1, 0);
    k.kind = KnobKind::Flag;
    k.defaultValue = defaultValue;
    return k;
}

KnobSpec choiceKnob(std::string key, std::string label, std::string tooltip, std::vector<std::string> choices,
                    std::string defaultValue) {
    auto k = numberKnob(std::move(key), std::move(label), std::move(tooltip), 0, 0, 0, 0);
    k.kind = KnobKind::Choice;
    k.choices = std::move(choices);
    k.defaultValue = std::move(defaultValue);
    return k;
}

KnobSpec intListKnob(std::string key, std::string label, std::string tooltip, int minimum, int maximum,
                     std::vector<int> defaultValue) {
    auto k = numberKnob(std::move(key), std::move(label), std::move(tooltip), minimum, maximum, 1, 0);
    k.kind = KnobKind::IntList;
    k.defaultValue = std::move(defaultValue);
    return k;
}

const KnobSpec* MethodDescriptor::knob(const std::string& key) const {
    for (const auto& k : knobs) {
        if (k.key == key) return &k;
    }
    for (const auto& k : knobs) {
        if (std::find(k.aliases.begin(), k.aliases.end(), key) != k.aliases.end()) return &k;
    }
    return nullptr;
}

const MethodDescriptor& methodDescriptor(const std::string& idOrAlias) {
    const auto& all = methodRegistry();
    for (const auto& m : all) {
        if (m.id == idOrAlias) return m;
    }
    for (const auto& m : all) {
        if (std::find(m.aliases.begin(), m.aliases.end(), idOrAlias) != m.aliases.end()) return m;
    }
    std::string ids;
    for (const auto& m : all) ids += (ids.empty() ? "" : ", ") + m.id;
    throw Error("unknown method '" + idOrAlias + "' (use " + ids + ")");
}

std::vector<const MethodDescriptor*> methodsFor(FamilyKind family) {
    std::vector<const MethodDescriptor*> out;
    for (const auto& m : methodRegistry()) {
        if (m.serves(family)) out.push_back(&m);
    }
    return out;
}

std::vector<const MethodPreset*> presetsFor(const MethodDescriptor& method, FamilyKind family) {
    std::vector<const MethodPreset*> out;
    for (const auto& p : method.presets)
        if (p.serves(family)) out.push_back(&p);
    return out;
}

MethodSettings presetSettings(const std::string& method, const std::string& preset, FamilyKind family) {
    const auto& descriptor = methodDescriptor(method);
    const auto presets = presetsFor(descriptor, family);
    for (const auto* p : presets) {
        if (p->name != preset) continue;
        MethodSettings settings(descriptor.id);
        for (const auto& [key, value] : p->values) settings.set(key, value);
        return settings;
    }
    std::string names;
    for (const auto* p : presets) names += (names.empty() ? "" : ", ") + p->name;
    throw Error("unknown " + descriptor.id + " preset '" + preset + "' for " + familyKindName(family) + " models" +
                (names.empty() ? std::string(" (it has none)") : " (use " + names + ")"));
}

std::string describe(const MethodSettings& settings) {
    const auto& descriptor = methodDescriptor(settings.method());
    if (descriptor.describe) return descriptor.describe(settings);
    std::ostringstream out;
    out << descriptor.id;
    for (const auto& knob : descriptor.knobs) out << " " << knob.key << "=" << knobValueText(settings.value(knob.key));
    return out.str();
}

}  // namespace tokenscope
