#pragma once

// MethodSettings as JSON, for sessions, traces and `tokenscope-cli methods` (torch-free).
//   {"method": "pumer", "knobs": {"mode": "reference", "layers": [2, 5, 8], "prune": 0.1, ...}}
// Written with every knob's effective value; read back with the missing ones at their defaults.

#include <nlohmann/json.hpp>

#include "methods/method_registry.h"
#include "methods/method_settings.h"

namespace tokenscope {

nlohmann::json knobValueToJson(const KnobValue& value);
nlohmann::json methodSettingsToJson(const MethodSettings& settings);
// Throws Error naming the method and knob for unknown methods, knobs or values.
MethodSettings methodSettingsFromJson(const nlohmann::json& json);
// The registry (or one method) as `tokenscope-cli methods --format json` prints it.
nlohmann::json methodDescriptorToJson(const MethodDescriptor& method);

}  // namespace tokenscope
