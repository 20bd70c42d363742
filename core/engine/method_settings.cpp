#include <algorithm>
#include <array>
#include <cmath>
#include <sstream>

#include "common/error.h"
#include "engine/trace.h"

namespace tokenscope {

namespace {
constexpr std::array<std::pair<Method, const char*>, 7> kMethodNames{{
    {Method::None, "none"},
    {Method::Pumer, "pumer"},
    {Method::Tome, "tome"},
    {Method::SmallerResolution, "smres"},
    {Method::RandomDrop, "random"},
    {Method::UniformDrop, "uniform"},
    {Method::DynamicVit, "dynamicvit"},
}};
}  // namespace

std::string methodName(Method method) {
    for (const auto& [m, name] : kMethodNames) {
        if (m == method) return name;
    }
    return "?";
}

Method parseMethod(const std::string& name) {
    for (const auto& [m, n] : kMethodNames) {
        if (name == n) return m;
    }
    throw Error("unknown method '" + name + "' (use none, pumer, tome, smres, random, uniform or dynamicvit)");
}

std::vector<int> presetLayersAtDepth(const std::vector<int>& layers, int depth) {
    constexpr int kPresetDepth = 12;
    if (depth >= kPresetDepth || depth < 1) return layers;
    std::vector<int> scaled;
    for (int l : layers) {
        const int at = std::clamp(static_cast<int>(std::lround(l * depth / static_cast<double>(kPresetDepth))), 0, depth - 1);
        if (std::find(scaled.begin(), scaled.end(), at) == scaled.end()) scaled.push_back(at);
    }
    return scaled;
}

MethodSettings pumerPreset(const std::string& name) {
    MethodSettings settings;
    settings.method = Method::Pumer;
    if (name == "vqav2" || name == "nlvr2") {
        settings.layers = {2, 5, 8};
    } else if (name == "snli-ve") {
        settings.layers = {2, 4, 6, 8};
    } else {
        throw Error("unknown PuMer preset '" + name + "' (use vqav2, nlvr2 or snli-ve)");
    }
    settings.pruneRatio = 0.1;
    settings.imageMergeRatio = 0.3;
    settings.textMergeRatio = 0.2;
    return settings;
}

std::string describe(const MethodSettings& s) {
    std::ostringstream out;
    out << methodName(s.method);
    switch (s.method) {
        case Method::None:
            break;
        case Method::Pumer: {
            out << " " << s.mode << " L";
            for (std::size_t i = 0; i < s.layers.size(); ++i) out << (i ? "," : "") << s.layers[i];
            out << " p" << s.pruneRatio << " r" << s.imageMergeRatio << " t" << s.textMergeRatio;
            if (s.score != "mean-head") out << " score=" << s.score;
            if (s.mergeStyle != "tome") out << " merge=" << s.mergeStyle;
            break;
        }
        case Method::Tome:
            if (!s.tomeSchedule.empty()) {
                out << " r=[";
                for (std::size_t i = 0; i < s.tomeSchedule.size(); ++i) out << (i ? "," : "") << s.tomeSchedule[i];
                out << "]";
            } else {
                out << " r" << s.tomeR;
                if (s.tomeInflect != 0.0) out << " inflect " << s.tomeInflect;
            }
            out << (s.tomeJoint ? " joint" : " image");
            break;
        case Method::SmallerResolution:
            if (s.shortestEdge > 0) {
                out << " " << s.shortestEdge << "px";
            } else {
                out << " keep " << s.keepRatio;
            }
            break;
        case Method::RandomDrop:
            out << " keep " << s.keepRatio << " seed " << s.seed;
            break;
        case Method::UniformDrop:
            out << " keep " << s.keepRatio;
            break;
        case Method::DynamicVit:
            out << " rho " << s.dynamicVitKeepRatio;
            if (!s.dynamicVitLocations.empty()) {
                out << " L";
                for (std::size_t i = 0; i < s.dynamicVitLocations.size(); ++i) out << (i ? "," : "") << s.dynamicVitLocations[i];
            }
            break;
    }
    return out.str();
}

}  // namespace tokenscope
