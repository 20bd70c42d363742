#include "engine/generation.h"

#include <sstream>

#include "common/error.h"

namespace tokenscope {

std::string llavaMethodName(LlavaMethod method) {
    switch (method) {
        case LlavaMethod::Full: return "full";
        case LlavaMethod::Hired: return "hired";
        case LlavaMethod::Spatial: return "spatial";
        case LlavaMethod::Random: return "random";
    }
    return "?";
}

LlavaMethod parseLlavaMethod(const std::string& name) {
    for (auto method : {LlavaMethod::Full, LlavaMethod::Hired, LlavaMethod::Spatial, LlavaMethod::Random}) {
        if (llavaMethodName(method) == name) return method;
    }
    throw Error("unknown visual-token method '" + name + "' (use full, hired, spatial or random)");
}

std::string hiredModeName(HiredMode mode) { return mode == HiredMode::Paper ? "paper" : "reference"; }

HiredMode parseHiredMode(const std::string& name) {
    if (name == "paper") return HiredMode::Paper;
    if (name == "reference") return HiredMode::Reference;
    throw Error("unknown HiRED mode '" + name + "' (use paper or reference)");
}

std::string describe(const VisualTokenSettings& settings) {
    std::ostringstream out;
    out << llavaMethodName(settings.method);
    if (settings.method == LlavaMethod::Full) return out.str();
    out << " " << hiredModeName(settings.mode) << " budget " << settings.budget;
    if (settings.method == LlavaMethod::Hired) out << " alpha " << settings.alpha;
    if (settings.method == LlavaMethod::Random) out << " seed " << settings.seed;
    return out.str();
}

}  // namespace tokenscope
