#include "reduce/reducer_settings.h"

#include <cfenv>
#include <cmath>

#include "reduce/tome_schedule.h"

namespace tokenscope {

int64_t roundHalfEven(double value) {
    const int previous = std::fegetround();
    std::fesetround(FE_TONEAREST);
    const double rounded = std::nearbyint(value);
    std::fesetround(previous);
    return static_cast<int64_t>(rounded);
}

std::string llavaMethodName(LlavaMethod method) {
    switch (method) {
        case LlavaMethod::Full: return "full";
        case LlavaMethod::Hired: return "hired";
        case LlavaMethod::Spatial: return "spatial";
        case LlavaMethod::Random: return "random";
    }
    return "?";
}

std::string hiredModeName(HiredMode mode) { return mode == HiredMode::Paper ? "paper" : "reference"; }

std::vector<int64_t> tomeSchedule(int64_t layers, int64_t r, double inflect) {
    std::vector<int64_t> schedule;
    if (layers <= 0) return schedule;
    const auto minValue = static_cast<int64_t>(static_cast<double>(r) * (1.0 - inflect));
    const auto maxValue = 2 * r - minValue;
    const double step = layers > 1 ? static_cast<double>(maxValue - minValue) / static_cast<double>(layers - 1) : 0.0;
    for (int64_t i = 0; i < layers; ++i) {
        schedule.push_back(static_cast<int64_t>(static_cast<double>(minValue) + step * static_cast<double>(i)));
    }
    return schedule;
}

std::vector<int64_t> tomeSchedule(int64_t layers, const std::vector<int64_t>& perLayer) {
    std::vector<int64_t> schedule(perLayer);
    schedule.resize(static_cast<std::size_t>(std::max<int64_t>(layers, 0)), 0);
    return schedule;
}

}  // namespace tokenscope
