#pragma once

// A METER config as the config.json of a converted (or trained) METER folder: model_type "meter"
// and METER's hyper-parameter keys (meter_config.h), so parseMeterHyperParameters reads back the
// same config (meterConfigDifferences is empty). Torch-free.

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "config/meter_config.h"

namespace tokenscope {

// id2label: the VQA head's answers (omitted when empty).
nlohmann::json meterConfigJson(const MeterConfig& config, const std::vector<std::string>& id2label = {});

}  // namespace tokenscope
