#pragma once

// The method registry: every token-reduction method describes itself once here — id, name, where
// it hooks into a model, which model families it serves, its knobs (key, label, tooltip, kind,
// range, step, default) and presets — and a plan builder that turns settings into what a model
// does at each (stage, layer) (core/methods/reduction_plan.h). The window's method form, the CLI's
// options, sessions, traces and describe() are generated from it; `tokenscope-cli methods` lists it.
//
// Adding a method: write core/methods/<id>_method.cpp defining `MethodDescriptor <id>Method()`
// and add it to the list in method_registry.cpp (README "Add a method").
//
// Torch-free; thread-safe (the registry is built once and never changes).

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "methods/method_settings.h"

namespace tokenscope {

struct ReductionPlan;
struct PlanContext;

enum class KnobKind { Number, Integer, Flag, Choice, IntList };
const char* knobKindName(KnobKind kind);  // "number" "integer" "flag" "choice" "int-list"

struct KnobSpec {
    std::string key;      // CLI option (--key), session / trace key
    std::string label;    // the window's label
    std::string tooltip;  // one sentence
    KnobKind kind = KnobKind::Number;
    double minimum = 0, maximum = 1, step = 0.01;  // Number / Integer (IntList: each entry)
    KnobValue defaultValue = 0.0;
    std::vector<std::string> choices;  // Choice
    // Advanced knobs sit behind a disclosure in the window (reference-mode variants and the like).
    bool advanced = false;
    std::vector<std::string> aliases;  // other option names for it (e.g. LLaVA's --budget for keep)
    // IntList naming layers of the model: the window shows one chip per layer, and presets (written
    // for 12-layer models) are mapped to the model's depth (presetLayersAtDepth).
    bool layerList = false;
};

// Where a method acts on a model.
enum class MethodHook {
    None,                    // the unreduced model
    Preprocess,              // the image before the model (smaller resolution)
    Embedding,               // the image tokens before the first layer (random, uniform dropping)
    BetweenAttentionAndMlp,  // inside encoder / fusion layers (PuMer, ToMe, DynamicViT)
    AfterProjector,          // visual tokens between the projector and the language model (HiRED)
    DecoderLayer,            // inside the language model (FastV and the like)
};
const char* methodHookName(MethodHook hook);  // "none" "preprocess" "embedding" "attention-mlp" "after-projector" "decoder-layer"

// The model families (one bit each) a method serves.
enum class FamilyKind : unsigned { Vilt = 1, Llava = 2, Meter = 4 };
const char* familyKindName(FamilyKind family);  // "vilt" "llava" "meter"
constexpr unsigned kAllFamilies = 1 | 2 | 4;

struct MethodPreset {
    std::string name;   // "vqav2"
    std::string label;  // "VQAv2 (paper)"
    std::vector<std::pair<std::string, KnobValue>> values;
    unsigned families = kAllFamilies;  // the model families it was published for
    int depth = 12;                    // its layer lists name layers of a model this deep
    bool serves(FamilyKind family) const { return (families & static_cast<unsigned>(family)) != 0; }
};

using PlanBuilder = void (*)(const MethodSettings& settings, const PlanContext& context, ReductionPlan& plan);
using Describer = std::string (*)(const MethodSettings& settings);

struct MethodDescriptor {
    std::string id;       // "pumer"
    std::string name;     // "PuMer (prune + merge)"
    std::string summary;  // one sentence with its source
    std::vector<std::string> aliases;  // other names accepted for the id (old spellings)
    MethodHook hook = MethodHook::None;
    unsigned families = kAllFamilies;
    std::vector<KnobSpec> knobs;
    std::vector<MethodPreset> presets;
    PlanBuilder plan = nullptr;     // fills a plan; throws Error for settings the model cannot take
    Describer describe = nullptr;   // one line; nullptr: "<id> key=value ..." of the knobs
    const KnobSpec* knob(const std::string& key) const;  // by key or alias; nullptr when absent
    bool serves(FamilyKind family) const { return (families & static_cast<unsigned>(family)) != 0; }
};

// Knob builders for the method files.
KnobSpec numberKnob(std::string key, std::string label, std::string tooltip, double minimum, double maximum, double step,
                    double defaultValue);
KnobSpec integerKnob(std::string key, std::string label, std::string tooltip, int64_t minimum, int64_t maximum,
                     int64_t defaultValue);
KnobSpec flagKnob(std::string key, std::string label, std::string tooltip, bool defaultValue = false);
KnobSpec choiceKnob(std::string key, std::string label, std::string tooltip, std::vector<std::string> choices,
                    std::string defaultValue);
KnobSpec intListKnob(std::string key, std::string label, std::string tooltip, int minimum, int maximum,
                     std::vector<int> defaultValue);

// Every method, in the order the window and `methods` list them ("none" first).
const std::vector<MethodDescriptor>& methodRegistry();
// By id or alias; throws Error listing the ids.
const MethodDescriptor& methodDescriptor(const std::string& idOrAlias);
// The methods serving a family.
std::vector<const MethodDescriptor*> methodsFor(FamilyKind family);

// Presets name layers of a model `presetDepth` deep (PuMer's: 12-layer ViLT-B/32, METER's 6 fusion
// layers): the same depth fractions in a model of `depth` layers (rounded, clamped, duplicates
// dropped; unchanged for presetDepth or more layers).
std::vector<int> presetLayersAtDepth(const std::vector<int>& layers, int depth, int presetDepth = 12);

// A method's presets for a family (PuMer has ViLT's and METER's, under the same names).
std::vector<const MethodPreset*> presetsFor(const MethodDescriptor& method, FamilyKind family);
// A preset's settings for a family, its layer lists as written (Error naming the family's presets
// when unknown).
MethodSettings presetSettings(const std::string& method, const std::string& preset, FamilyKind family = FamilyKind::Vilt);
// One line, e.g. "pumer reference L2,5,8 p0.1 r0.3 t0.2".
std::string describe(const MethodSettings& settings);

}  // namespace tokenscope
